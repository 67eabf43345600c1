// The attention pack on shapes-micro (mechanics, not quality): loading from package.json, the node in workflows
// through cadflow's engine (the SDK harness), the heat map against an independent computation, clear errors.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from 'cadflow/sdk';
import { createHarness, type Harness } from 'cadflow/sdk/testing';
import { configOf, sampleImages, tokenizerFor, type ModelHandle } from 'cadflow/model';
import { conceptHeatmaps } from '../nodes/heatmap.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PROMPTS = ['a red heart on a black background', 'a blue star on a gray background', 'a green heart'];
let h: Harness;
let micro: ModelHandle;
beforeAll(async () => {
  await initRuntime();
  h = await createHarness({ builtin: true, packDirs: [root] });
  // the bundled micro model, loaded as a workflow loads it
  const load = await h.run({ format: 'cadflow.workflow', version: 1, meta: {}, nodes: { load: { type: 'LoadModel', params: { model: 'shapes-micro' } } } });
  micro = load.output('load', 'model') as ModelHandle;
});
afterAll(() => h?.close());

const graph = (params: Record<string, unknown>, prompts = PROMPTS) => ({
  format: 'cadflow.workflow', version: 1, meta: {},
  nodes: {
    load: { type: 'LoadModel', params: { model: 'shapes-micro' } },
    prompts: { type: 'Prompts', params: { prompts, seed: 7 } },
    heatmap: { type: 'attention/ConceptHeatmap', params: { steps: 3, ...params }, inputs: { model: ['load', 'model'], prompts: ['prompts', 'prompts'] } },
  },
});

/** Bilinear resize with aligned corners (as tf.image.resizeBilinear(…, true)), written out independently. */
function upsample(m: Float64Array, g: number, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const fy = (y * (g - 1)) / (size - 1), fx = (x * (g - 1)) / (size - 1);
      const y0 = Math.floor(fy), x0 = Math.floor(fx), y1 = Math.min(g - 1, y0 + 1), x1 = Math.min(g - 1, x0 + 1);
      const dy = fy - y0, dx = fx - x0;
      out[y * size + x] = m[y0 * g + x0]! * (1 - dy) * (1 - dx) + m[y0 * g + x1]! * (1 - dy) * dx
        + m[y1 * g + x0]! * dy * (1 - dx) + m[y1 * g + x1]! * dy * dx;
    }
  }
  return out;
}

describe('attention pack', () => {
  it('loads from its package.json as pack attention', () => {
    const pkg = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
    expect(pkg.cadflow).toMatchObject({ nodes: './index.ts' });
    expect(h.registry.packErrors.filter((e) => e.path.startsWith(root))).toEqual([]);
    expect(h.registry.packOf('attention/ConceptHeatmap')).toMatchObject({ name: 'attention', package: 'cadflow-nodes-attention' });
  });

  it('sums the word\'s cross-attention over layers and steps as computed independently, with each option', async () => {
    const steps = 2, size = 32, L = configOf(micro).tokenizer.model_max_length;
    const heart = tokenizerFor(configOf(micro)).idOf('heart')!;
    const seeds = [1, 2, 3];
    // Independently: every cross-attention's map for "heart", by step and grid, in plain JS.
    const seen: { step: number; grid: number; excl: Float64Array[]; maps: Float64Array[] }[] = [];
    let step = 0;
    const before = tf.memory().numTensors;
    const plain = await sampleImages(micro, PROMPTS, seeds, { steps, cfg: 3, workers: 0 }, {
      onStep: () => { step++; },
      observers: [{ module: /\.attn2$/, kind: 'attention', onTensor(_n, probs) {
        const [, heads, g] = probs.shape as [number, number, number];
        const p = probs.dataSync();
        const maps = PROMPTS.map(() => new Float64Array(g * g));
        const excl = PROMPTS.map(() => new Float64Array(g * g));
        PROMPTS.forEach((prompt, i) => {
          const ids = tokenizerFor(configOf(micro)).encode(prompt);
          for (let hd = 0; hd < heads; hd++) for (let q = 0; q < g * g; q++) {
            const at = ((i * heads + hd) * g * g + q) * L;
            for (let j = 0; j < L; j++) {
              if (ids[j] !== heart) continue;
              maps[i]![q] += p[at + j]!;
              excl[i]![q] += p[at + j]! / (1 - p[at]!); // <bos> is token 0
            }
          }
        });
        seen.push({ step, grid: g, maps: maps.map((m) => upsample(m, g, size)), excl: excl.map((m) => upsample(m, g, size)) });
      } }],
    });
    const cases = [
      { opts: {}, keep: () => true, excl: false },
      { opts: { fromStep: 0.5, finestOnly: true }, keep: (s: { step: number; grid: number }) => s.step >= 1 && s.grid === Math.max(...seen.map((x) => x.grid)), excl: false },
      { opts: { excludeStart: true }, keep: () => true, excl: true },
    ];
    for (const { opts, keep, excl } of cases) {
      const got = await conceptHeatmaps(micro, PROMPTS, seeds, 'heart', { steps, cfg: 3, batchSize: 2, ...opts });
      expect(got.positions).toEqual([[3], [], [3]]);
      expect(Array.from(got.images.dataSync())).toEqual(Array.from(plain.dataSync())); // observing changes nothing
      const maps = got.heatmaps.arraySync().map((m) => m.flat());
      for (const i of [0, 2]) {
        const expected = new Float64Array(size * size);
        for (const s of seen.filter(keep)) (excl ? s.excl : s.maps)[i]!.forEach((v, k) => { expected[k] += v; });
        const [lo, hi] = [Math.min(...expected), Math.max(...expected)];
        expect(Math.max(...maps[i]!)).toBeCloseTo(1, 6);
        expect(Math.min(...maps[i]!)).toBeCloseTo(0, 6);
        maps[i]!.forEach((v, k) => expect(v).toBeCloseTo((expected[k]! - lo) / (hi - lo), 4));
      }
      expect(maps[1]!.every((v) => v === 0)).toBe(true); // no "heart" in the star's prompt
      tf.dispose([got.images, got.heatmaps]);
    }
    plain.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('runs as a node: overlay, plain heat map and samples, a preview and an artifact', async () => {
    const previews: string[] = [];
    const run = await h.run(graph({ word: 'heart' }), { listener: { nodePreview: (nodeId: string) => { previews.push(nodeId); } } });
    expect(run.error).toBeUndefined();
    for (const out of ['overlay', 'heatmap', 'images']) {
      const v = run.output('heatmap', out) as { images: tf.Tensor4D; prompts: string[] };
      expect(v.images.shape).toEqual([3, 32, 32, 3]);
      expect(v.prompts).toEqual(PROMPTS);
      const [lo, hi] = [tf.min(v.images).dataSync()[0]!, tf.max(v.images).dataSync()[0]!];
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1 + 1e-6);
    }
    const heat = (run.output('heatmap', 'heatmap') as { images: tf.Tensor4D }).images;
    expect(Array.from(tf.max(heat, [1, 2, 3]).dataSync()).map((v) => Number(v.toFixed(5)))).toEqual([1, 0, 1]);
    expect(run.record.nodes.heatmap?.artifacts?.map((a: { name: string }) => a.name)).toContain('concept-heatmap-heart.png');
    expect(previews).toContain('heatmap');
    run.release();
  });

  it('names the word param when the word is unknown or in no prompt', async () => {
    const unknown = await h.run(graph({ word: 'unicorn' }));
    expect(unknown.error).toMatchObject({ nodeId: 'heatmap', kind: 'bad_param', param: 'word' });
    expect(unknown.error?.message).toMatch(/unicorn.*vocabulary/);
    const absent = await h.run(graph({ word: 'cross' }));
    expect(absent.error).toMatchObject({ kind: 'bad_param', param: 'word' });
    expect(absent.error?.message).toMatch(/no prompt contains "cross"/);
    const bad = h.validate(graph({ word: 'Not A Word' }));
    expect(bad.errors[0]).toMatchObject({ nodeId: 'heatmap', kind: 'bad_param', param: 'word' });
  });

  it('runs its shipped workflow on the micro model and meets meta.test', async () => {
    const wf = JSON.parse(readFileSync(`${root}/workflows/concept-heatmap.json`, 'utf8'));
    expect(h.validate(wf).errors).toEqual([]);
    const run = await h.run(wf, { set: wf.meta.test.set });
    expect(run.error).toBeUndefined();
    for (const [key, want] of Object.entries(wf.meta.test.expect as Record<string, { match: object }>)) {
      const [node, output] = key.split('.');
      expect(run.summary(node!, output!)).toMatchObject(want.match);
    }
    run.release();
  });
});
