// Data-parallel sampling on worker_threads: bit-identical to one thread for the same seeds (uneven parts, several
// chunks, eta noise), previews of every step from all parts, cancellation that leaks nothing and leaves the pool
// usable, and the UNet forward spread over the workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../nodes/sdk/errors.ts';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { encodePrompts, loadModel, predictOutput, sampleImages } from '../../nodes/diffusion/api.ts';
import type { LoadedModel } from '../../nodes/diffusion/model-handle.ts';
import { autoSampleWorkers, samplePool, splitParts, type SamplePool } from '../../nodes/diffusion/parallel/sample-pool.ts';
import { seededNoise } from '../../nodes/diffusion/noise.ts';
import { threadMemory, workersMemory } from '../../nodes/diffusion/parallel/thread-memory.ts';
import { writeRandomMicroModel } from './fixtures.ts';

let model: LoadedModel;
let pool: SamplePool;
const prompts = ['a red star', 'an outlined blue heart on a dotted background', '', 'a white cross', 'a green circle'];
const seeds = [3, 1, 4, 1, 5];
const opts = { steps: 3, cfg: 3, eta: 1, batchSize: 2 };

beforeAll(async () => {
  await initRuntime();
  model = await loadModel(await writeRandomMicroModel(7), '/nonexistent');
  pool = await samplePool(2);
});
afterAll(async () => {
  await pool.close();
});

describe('sampling pool', () => {
  it('splits a batch into contiguous parts of near-equal size and stays on one thread for small batches', () => {
    expect(splitParts(5, 2)).toEqual([[0, 3], [3, 5]]);
    expect(splitParts(1, 2)).toEqual([[0, 1]]);
    expect(autoSampleWorkers(2)).toBe(0);
  });

  it('gives bit-identical images to one thread and previews every step of every chunk', async () => {
    const one = await sampleImages(model, prompts, seeds, { ...opts, workers: 0 });
    const seen: { step: number; chunk: number; n: number }[] = [];
    const two = await sampleImages(model, prompts, seeds, { ...opts, workers: 2 }, {
      onStep: (step, x0, info) => { seen.push({ step, chunk: info.chunk, n: x0.shape[0] }); },
    });
    expect(two.shape).toEqual([5, 32, 32, 3]);
    expect(Array.from(two.dataSync())).toEqual(Array.from(one.dataSync()));
    // parts of 3 and 2 images, batchSize 2 shared out as 1 image per worker call: chunks 0 and 1 hold one image
    // of each part, chunk 2 the first part's last one
    const expected = [[0, 2], [1, 2], [2, 1]].flatMap(([chunk, n]) => [0, 1, 2].map((step) => ({ step, chunk, n })));
    expect(seen).toEqual(expected);
    tf.dispose([one, two]);
  });

  it('sends edited weights again: a model with a substituted tensor samples as it does on one thread', async () => {
    const name = model.paramNames().find((n) => n.endsWith('ff.net.2.weight'))!;
    const weights = new Map(model.weights());
    const edited = tf.mul(weights.get(name)!, 3);
    weights.set(name, edited);
    const m = { config: model.modelConfig, weights };
    const o = { ...opts, steps: 2 };
    const base = await sampleImages(model, prompts.slice(0, 2), seeds.slice(0, 2), { ...o, workers: 2 });
    const two = await sampleImages(m, prompts.slice(0, 2), seeds.slice(0, 2), { ...o, workers: 2 });
    const one = await sampleImages(m, prompts.slice(0, 2), seeds.slice(0, 2), { ...o, workers: 0 });
    expect(Array.from(two.dataSync())).toEqual(Array.from(one.dataSync()));
    expect(Array.from(two.dataSync())).not.toEqual(Array.from(base.dataSync()));
    tf.dispose([edited, base, two, one]);
  });

  it('cancels every worker, leaks no tensors, and samples again afterwards', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const err = await pool.sample({ config: model.modelConfig, weights: model.weights(), key: model.key }, prompts, seeds, { ...opts, steps: 50 }, {
      signal: ac.signal, onStep: () => ac.abort(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(tf.memory().numTensors).toBe(before);
    const again = await sampleImages(model, prompts.slice(0, 2), seeds.slice(0, 2), { ...opts, workers: 2 });
    const ref = await sampleImages(model, prompts.slice(0, 2), seeds.slice(0, 2), { ...opts, workers: 0 });
    expect(Array.from(again.dataSync())).toEqual(Array.from(ref.dataSync()));
    tf.dispose([again, ref]);
  });

  it('spreads a UNet forward over the workers with the same result', async () => {
    const x = seededNoise([1, 2, 3], [32, 32, 3]);
    const cond = encodePrompts(model, ['a red star', '', 'a blue heart']);
    const ref = predictOutput(model, x, [10, 500, 990], cond);
    const out = await pool.unetOutput({ config: model.modelConfig, weights: model.weights(), key: model.key }, x, [10, 500, 990], cond);
    expect(Array.from(out.dataSync())).toEqual(Array.from(ref.dataSync()));
    tf.dispose([x, cond, ref, out]);
  });

  it('reports each thread\'s wasm heap, which holds at least the weights sent to it', async () => {
    const weightsMb = [...model.weights().values()].reduce((a, t) => a + t.size * 4, 0) / 2 ** 20;
    expect(threadMemory().wasmMb).toBeGreaterThanOrEqual(Math.floor(weightsMb));
    const heaps = await workersMemory(pool, { config: model.modelConfig, weights: model.weights(), key: model.key });
    expect(heaps).toHaveLength(2);
    for (const h of heaps) expect(h.wasmMb).toBeGreaterThanOrEqual(Math.floor(weightsMb));
  });
});
