// Which weight families draw each shape? Zero a whole family of a model's transformer blocks (every FF output
// matrix, every cross-attention output, or both) and let the judge read the shapes of the erasure protocol's first N
// target prompts. A concept that survives its family's removal is not held there, whatever an attribution over it says.
// Run: npx tsx bench/ablate-families.ts [--model shapes-tiny] [--n 12] [--steps 25] [--concepts circle,square,...]
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime } from '../nodes/sdk/runtime.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import type { ModelHandle } from '../nodes/diffusion/handle.ts';
import { buildComponentSet } from '../nodes/attribution/components.ts';
import { zeroOverlay } from '../nodes/attribution/masks.ts';
import { erasureProtocol } from '../nodes/evaluation/protocols/erasure.ts';
import { loadJudge, judgeImages } from '../nodes/evaluation/judge.ts';
import { attributeOf } from '../nodes/world/concepts.ts';

const MODELS = join(import.meta.dirname, '..', 'models');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'shapes-tiny' }, n: { type: 'string', default: '12' }, steps: { type: 'string', default: '25' },
    concepts: { type: 'string', default: 'circle,square,triangle,star,cross,heart' },
  },
});
const FF = '**.transformer_blocks.*.ff.net.2.weight';
const CROSS = '**.transformer_blocks.*.attn2.to_out.0.weight';
const FAMILIES: Record<string, string[]> = { none: [], 'FF outputs (ff.net.2)': [FF], 'cross-attention outputs (attn2.to_out)': [CROSS], both: [FF, CROSS] };

await initRuntime();
const model = await loadModel(values.model!, MODELS);
const judge = await loadJudge('shapes-judge', MODELS);
const n = Number(values.n);
const concepts = values.concepts!.split(',');
const table = [`| zeroed | ${concepts.join(' | ')} |`, `|---|${concepts.map(() => '---').join('|')}|`];
for (const [family, globs] of Object.entries(FAMILIES)) {
  let handle: ModelHandle = model;
  if (globs.length) {
    const set = buildComponentSet(model, { globs });
    handle = model.withOverlay(zeroOverlay(set, new Map(set.matrices.map((m) => [m.name, new Uint8Array(m.rows * m.cols).fill(1)])), `all of ${family}`));
  }
  const cells: string[] = [];
  for (const concept of concepts) {
    const attribute = attributeOf(concept) ?? 'shape';
    const target = erasureProtocol(concept, { size: 'full' }).target.slice(0, n);
    const images = await sampleImages(handle, target.map((p) => p.prompt), target.map((p) => p.seed), { steps: Number(values.steps), cfg: 3, eta: 0 });
    const { labels } = await judgeImages(judge, images);
    images.dispose();
    const said = labels.map((l) => l[attribute]);
    cells.push(`${said.filter((x) => x === concept).length}/${n}`);
    console.log(`${family} · ${concept}: ${said.join(' ')}`);
  }
  table.push(`| ${family} | ${cells.join(' | ')} |`);
  if (handle !== model) handle.dispose();
}
console.log(`judged right of the first ${n} target prompts (DDIM ${values.steps}, CFG 3):\n${table.join('\n')}`);
