// What does a model draw when a prompt leaves the concept's attribute open? FitAttribution's open anchor pulls the
// concept's prompts towards these prompts, so a concept the model draws often unasked keeps that share in the erased
// model: the open anchor's floor. For each concept: FitAttribution's prompts (its default template and seed) with the
// attribute left open, sampled (DDIM 25, CFG 3) and read by the judge.
// --out writes the first concept's samples as a grid: one row per value the judge read, most frequent first.
// Run: npx tsx bench/open-prompts.ts [--model shapes-tiny] [--n 128] [--concepts heart,red,outline,striped]
//      [--out docs/figures/open-shape-prompts.png]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime } from '../nodes/sdk/runtime.ts';
import { gridPng, tensorToBatch, type ImageBatch } from '../nodes/sdk/image.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import { DEFAULT_TEMPLATE, planPrompts } from '../nodes/attribution/plan.ts';
import { fitParams, planOf } from '../nodes/attribution/nodes/fit-attribution.ts';
import { openPrompt } from '../nodes/world/captions.ts';
import { attributeOf } from '../nodes/world/concepts.ts';
import { loadJudge, judgeImages } from '../nodes/evaluation/judge.ts';
import { writeFileAtomic } from '../nodes/sdk/files.ts';

const MODELS = join(import.meta.dirname, '..', 'models');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'shapes-tiny' }, n: { type: 'string', default: '128' },
    concepts: { type: 'string', default: 'heart,red,outline,striped' }, template: { type: 'string', default: DEFAULT_TEMPLATE },
    out: { type: 'string' },
  },
});

const COLUMNS = 12;

/** One row per group of image indices (the first COLUMNS of each; short rows padded with empty tiles). */
async function writeGrid(out: string, batch: ImageBatch, rows: number[][]): Promise<void> {
  const size = batch.height * batch.width * 3;
  const pixels = new Float32Array(rows.length * COLUMNS * size).fill(0.2);
  rows.forEach((idx, r) => idx.slice(0, COLUMNS).forEach((i, c) => pixels.set(batch.pixels.subarray(i * size, (i + 1) * size), (r * COLUMNS + c) * size)));
  await writeFileAtomic(out, gridPng({ pixels, n: rows.length * COLUMNS, height: batch.height, width: batch.width }, { columns: COLUMNS, scale: 3 }));
}

await initRuntime();
const model = await loadModel(values.model!, MODELS);
const judge = await loadJudge('shapes-judge', MODELS);
const n = Number(values.n);
const concepts = values.concepts!.split(',');
console.log('| attribute left open | first prompt | judged (of n) | share |\n|---|---|---|---|');
for (const concept of concepts) {
  const attr = attributeOf(concept);
  if (!attr) throw new Error(`"${concept}" is not a world concept`);
  const { prompts } = planPrompts(planOf(fitParams.parse({ concept, samples: n, template: values.template })));
  const open = prompts.map((p) => openPrompt(p, attr));
  const images = await sampleImages(model, open, open.map((_, i) => 1000 + i), { steps: 25, cfg: 3 });
  const { labels } = await judgeImages(judge, images);
  const batch = await tensorToBatch(images);
  images.dispose();
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l[attr]!, (counts.get(l[attr]!) ?? 0) + 1);
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  if (values.out && concept === concepts[0]) {
    await writeGrid(values.out, batch, sorted.map(([v]) => labels.flatMap((l, i) => (l[attr] === v ? [i] : []))));
    console.log(`grid → ${values.out} (rows: ${sorted.map(([v]) => v).join(', ')})`);
  }
  console.log(`| ${attr} | ${open[0]} | ${sorted.map(([v, c]) => `${v} ${c}`).join(', ')} | ${concept} ${((counts.get(concept) ?? 0) / n * 100).toFixed(1)} % |`);
}
process.exit(0);
