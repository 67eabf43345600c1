// A picture of CAD-Erase at the defaults: per concept, one row of the unedited model's samples and one row of the
// erased model's, on the first N target prompts (and seeds) of the erasure protocol, with the judge's labels of the
// concept's attribute (shape, colour, background or style).
// Run: npx tsx bench/erase-grid.ts [--model shapes-tiny] [--concepts circle,square,...] [--n 8] [--steps 25]
//      [--erase '{"rounds":1,"rho":0.1}' (Erase params beside the defaults)] [--fit '{"template":"captions"}' (FitAttribution's)]
//      [--out docs/figures/cad-erase-shapes.png]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime, tf } from '../nodes/sdk/runtime.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import type { ModelHandle } from '../nodes/diffusion/handle.ts';
import { gridPng, tensorToBatch } from '../nodes/sdk/image.ts';
import { eraseNode, eraseParams } from '../nodes/attribution/nodes/erase.ts';
import type { TableValue } from '../nodes/sdk/index.ts';
import { erasureProtocol } from '../nodes/evaluation/protocols/erasure.ts';
import { loadJudge, judgeImages } from '../nodes/evaluation/judge.ts';
import { attributeOf } from '../nodes/world/concepts.ts';
import { writeFileAtomic } from '../nodes/sdk/files.ts';
import { benchCtx, fit } from './attribution.bench.ts';

const MODELS = join(import.meta.dirname, '..', 'models');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'shapes-tiny' },
    concepts: { type: 'string', default: 'circle,square,triangle,star,cross,heart' },
    n: { type: 'string', default: '8' }, steps: { type: 'string', default: '25' }, erase: { type: 'string', default: '{}' },
    fit: { type: 'string', default: '{}' },
    out: { type: 'string', default: join('docs', 'figures', 'cad-erase-shapes.png') },
  },
});
await initRuntime();
const model = await loadModel(values.model!, MODELS);
const judge = await loadJudge('shapes-judge', MODELS);
const n = Number(values.n);
const rows: tf.Tensor4D[] = [];
const lines = ['| concept | weights zeroed | unedited: judge says | erased: judge says |', '|---|---|---|---|'];
for (const concept of values.concepts!.split(',')) {
  const { attr } = await fit(model, { ...JSON.parse(values.fit!), concept });
  const out = await eraseNode.execute(benchCtx(), { model, attribution: attr }, eraseParams.parse(JSON.parse(values.erase!)));
  const edited = out.model as ModelHandle;
  const target = erasureProtocol(concept, { size: 'full' }).target.slice(0, n);
  const attribute = attributeOf(concept) ?? 'shape';
  const says: string[] = [];
  for (const h of [model, edited]) {
    const images = await sampleImages(h, target.map((p) => p.prompt), target.map((p) => p.seed), { steps: Number(values.steps), cfg: 3, eta: 0 });
    const judged = await judgeImages(judge, images);
    says.push(judged.labels.map((l) => l[attribute]).join(' '));
    rows.push(images as tf.Tensor4D);
  }
  lines.push(`| ${concept} | ${(out.report as TableValue).rows.at(-1)!.weights_zeroed} | ${says[0]} | ${says[1]} |`);
  edited.dispose();
  console.log(lines.at(-1));
}
const all = tf.concat(rows);
const png = gridPng(await tensorToBatch(all), { columns: n, scale: 3 });
tf.dispose([all, ...rows]);
await writeFileAtomic(values.out!, png);
console.log(`${values.out}: rows = per concept the unedited model, then CAD-Erase (defaults + fit ${values.fit}, erase ${values.erase}); prompts = the protocol's first ${n} target prompts`);
console.log(lines.join('\n'));
