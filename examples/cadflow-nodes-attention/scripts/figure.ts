// The acceptance figure docs/figures/concept-heatmap-<word>.png and its measurement: where shapes-tiny draws
// "heart" (default), for six samples (rows: sample, heat over the sample, plain heat map), and over a larger set how
// much of each word's heat falls on the shape: the shape's mask is the sample's saturated pixels (every
// background is neutral, every shape coloured), and its area is what a uniform map would score.
// Run from the cadflow folder:
//   npx tsx --tsconfig examples/cadflow-nodes-attention/tsconfig.json examples/cadflow-nodes-attention/scripts/figure.ts
// Options: --out FILE, --models DIR (default models), --model NAME (default shapes-tiny), --n N (measured images, default 20).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gridPng, initRuntime, tensorToBatch, tf } from 'cadflow/sdk';
import { loadModel, type ModelHandle } from 'cadflow/model';
import { conceptHeatmaps, DEFAULT_HEATMAP, heatmapImages, overlayHeatmaps, type HeatmapOptions } from '../nodes/heatmap.ts';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'docs/figures/concept-heatmap-heart.png' },
    models: { type: 'string', default: 'models' },
    model: { type: 'string', default: 'shapes-tiny' },
    n: { type: 'string', default: '20' },
  },
});
const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple'];
const BACKGROUNDS = ['black', 'gray', 'striped', 'dotted'];
const prompt = (i: number) => `a ${COLOURS[i % COLOURS.length]} heart on a ${BACKGROUNDS[i % BACKGROUNDS.length]} background`;
/** The node's defaults (down blocks, finest grid, last quarter of the steps), variants, and plain DAAM; the words measured. */
const SETTINGS: [string, HeatmapOptions, string[]][] = [
  ['defaults', DEFAULT_HEATMAP, ['heart', 'on', 'background', 'a']],
  ['defaults, excludeStart', { ...DEFAULT_HEATMAP, excludeStart: true }, ['heart']],
  ['all layers, all steps', {}, ['heart', 'background']],
];

/** Per image: the share of the heat on the shape, and the chance that a shape pixel is hotter than a background one (AUC). */
function onShape(heat: Float32Array, images: Float32Array, n: number, px: number): { mass: number; auc: number; area: number } {
  let mass = 0, auc = 0, area = 0;
  for (let k = 0; k < n; k++) {
    const inside: number[] = [], outside: number[] = [];
    for (let i = 0; i < px; i++) {
      const [r, g, b] = [0, 1, 2].map((c) => images[(k * px + i) * 3 + c]!);
      (Math.max(r!, g!, b!) - Math.min(r!, g!, b!) > 0.25 ? inside : outside).push(heat[k * px + i]!);
    }
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    mass += sum(inside) / (sum(inside) + sum(outside));
    area += inside.length / px;
    outside.sort((a, b) => a - b);
    let pairs = 0;
    for (const v of inside) { // background pixels below v, ties count half
      let lo = 0, hi = outside.length;
      while (lo < hi) { const m = (lo + hi) >> 1; if (outside[m]! < v) lo = m + 1; else hi = m; }
      let eq = lo;
      while (eq < outside.length && outside[eq] === v) eq++;
      pairs += lo + (eq - lo) / 2;
    }
    auc += pairs / (inside.length * outside.length);
  }
  return { mass: mass / n, auc: auc / n, area: area / n };
}

async function measure(model: ModelHandle, n: number): Promise<void> {
  const prompts = Array.from({ length: n }, (_, i) => prompt(i));
  const seeds = prompts.map((_, i) => 1000 + i);
  console.log(`${n} samples of "a <colour> heart on a <background> background"; the shape mask is the saturated pixels`);
  for (const [name, opts, words] of SETTINGS) {
    for (const word of words) {
      const { images, heatmaps } = await conceptHeatmaps(model, prompts, seeds, word, opts);
      const size = images.shape[1]!;
      const r = onShape(heatmaps.dataSync() as Float32Array, images.dataSync() as Float32Array, n, size * size);
      console.log(`${name.padEnd(22)} ${JSON.stringify(word).padEnd(13)} heat on the shape ${r.mass.toFixed(3)} (shape area ${r.area.toFixed(3)}), AUC ${r.auc.toFixed(3)}`);
      tf.dispose([images, heatmaps]);
    }
  }
}

await initRuntime();
const model = await loadModel(args.model, args.models);
const prompts = Array.from({ length: 6 }, (_, i) => prompt(i));
const { images, heatmaps } = await conceptHeatmaps(model, prompts, prompts.map((_, i) => 100 + i), 'heart', DEFAULT_HEATMAP);
const rows = tf.tidy(() => tf.concat([images, overlayHeatmaps(images, heatmaps), heatmapImages(heatmaps)]) as tf.Tensor4D);
writeFileSync(args.out, gridPng(await tensorToBatch(rows), { columns: prompts.length, scale: 4 }));
console.log(`wrote ${args.out}: rows sample / heat over the sample / heat map, for ${prompts.map((p) => JSON.stringify(p)).join(', ')}`);
tf.dispose([images, heatmaps, rows]);
await measure(model, Number(args.n));
