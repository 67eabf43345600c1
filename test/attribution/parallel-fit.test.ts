// FitAttribution on worker threads (micro model, random weights): trajectories and erase targets bit-identical to
// one thread (uneven parts, eta noise, ESD guidance, several batches), gradient passes equal to one thread up to float rounding (erase,
// preserving with λ, on an erased model), progress per pass, no tensor leaks, provenance, and cancellation that
// reaches the workers and leaves the pool usable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { CancelledError, type NodeContext } from '../../nodes/sdk/index.ts';
import { presetConfig } from '../../nodes/diffusion/model/presets.ts';
import { initWeights } from '../../nodes/diffusion/model/network.ts';
import { handleFromWeights } from '../../nodes/diffusion/api.ts';
import type { ModelHandle } from '../../nodes/diffusion/handle.ts';
import { samplePool, type SamplePool } from '../../nodes/diffusion/parallel/sample-pool.ts';
import { cadflowDenoiser, runTrajectories, type TrajectoryRequest } from '../../nodes/attribution/denoiser.ts';
import { eraseObjective, preservingObjective, type ErasePlan } from '../../nodes/attribution/objectives.ts';
import { buildComponentSet, type ComponentSet } from '../../nodes/attribution/components.ts';
import { fitAttribution, type AttributionValue, type Objective } from '../../nodes/attribution/attribution.ts';
import { maskOverlay, randomMask } from '../../nodes/attribution/masks.ts';
import { fitAttributionNode, fitParams } from '../../nodes/attribution/nodes/fit-attribution.ts';

const cfg = presetConfig('micro');
let weights: Map<string, tf.Tensor>;
let model: ModelHandle;
let set: ComponentSet;
let pool: SamplePool;

beforeAll(async () => {
  await initRuntime();
  weights = initWeights(cfg, 11);
  model = handleFromWeights('micro-random', cfg, weights, 'random-micro-11');
  set = buildComponentSet(model, { globs: ['**.transformer_blocks.*.ff.net.0.proj.weight', '**.transformer_blocks.*.ff.net.2.weight'], granularity: 'weight', heads: 1 });
  pool = await samplePool(2);
});
afterAll(async () => {
  await pool.close();
  model.dispose();
  weights.forEach((w) => w.dispose());
});

/** Largest |a − b| over all matrices relative to the largest |a|. */
function relDiff(a: ReadonlyMap<string, Float32Array>, b: ReadonlyMap<string, Float32Array>): number {
  let diff = 0;
  let scale = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
      scale = Math.max(scale, Math.abs(x[i]!));
    }
  }
  return diff / scale;
}

const plan: ErasePlan = {
  prompts: ['a red circle', 'a blue circle on a striped background', 'an outlined circle'],
  seeds: [1, 2, 3, 4, 5], steps: 5, cfg: 3, eta: 0, timesteps: 3, mode: 'reuse', batch: 4,
};

describe('FitAttribution on worker threads', () => {
  it('records bit-identical trajectories on 2 workers (uneven parts of whole batches, eta noise)', async () => {
    const den = cadflowDenoiser(cfg, weights);
    const cond = den.encode(['a red circle', 'a green star']);
    const uncond = den.encode(['']);
    // 7 requests in batches of 2: 4 batches → parts of 2 batches each, the last batch a single request.
    const requests: TrajectoryRequest[] = Array.from({ length: 7 }, (_, i) => ({ prompt: i % 2, seed: 10 + i, record: i % 3 ? [1, 3] : [4] }));
    const opts = { steps: 4, cfg: 3, eta: 1, batch: 2 };
    const one = await runTrajectories(den, weights, cond, uncond, requests, opts);
    const steps: number[] = [];
    const two = await runTrajectories(den, weights, cond, uncond, requests, { ...opts, workers: 2, onStep: (d) => steps.push(d) });
    expect(one.workers).toBe(1);
    expect(two.workers).toBe(2);
    expect(two.unetCalls).toBe(one.unetCalls);
    expect(two.unetSampleEvaluations).toBe(one.unetSampleEvaluations);
    expect(two.latents.map((l) => [l.request, l.step, l.t])).toEqual(one.latents.map((l) => [l.request, l.step, l.t]));
    two.latents.forEach((l, i) => expect(Array.from(l.xt)).toEqual(Array.from(one.latents[i]!.xt)));
    expect(steps).toHaveLength(one.unetCalls);
    // Cancelled at the first step: both workers stop within a step or two of 2 × 200.
    const ac = new AbortController();
    const seen: number[] = [];
    const long = Array.from({ length: 4 }, (_, i) => ({ prompt: 0, seed: i, record: [199] }));
    const err = await runTrajectories(den, weights, cond, uncond, long, {
      ...opts, steps: 200, workers: 2, signal: ac.signal, onStep: (d) => { seen.push(d); ac.abort(); },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(seen.length).toBeLessThan(10);
    tf.dispose([cond, uncond]);
  });

  it('builds the erase objective on 2 workers bit-identically and sums gradient passes over them to the one-thread attribution (erase, preserve λ, an erased model) without leaks', async () => {
    const den = cadflowDenoiser(cfg, weights);
    const concept = await eraseObjective(den, weights, plan);
    const keep = await eraseObjective(den, weights, { ...plan, prompts: ['a red star', 'a white square'], seeds: [7, 8, 9] });
    // Built on 2 workers (trajectories and targets), every pass is bit-identical: same x_t, text states, targets.
    const built = await eraseObjective(den, weights, { ...plan, guidance: 0.5 }, { workers: 2 });
    const here = await eraseObjective(den, weights, { ...plan, guidance: 0.5 });
    expect(built.describe.trajectoryWorkers).toBe(2);
    expect(built.passes).toBe(here.passes);
    for (let p = 0; p < here.passes; p++) expect(built.portable!.pass(p, { index: 0, of: 1 })).toEqual(here.portable!.pass(p, { index: 0, of: 1 }));
    built.dispose();
    here.dispose();
    const objective: Objective = preservingObjective(concept, keep, 0.5);
    try {
      expect(objective.passes).toBe(4 + 3);
      const one = await fitAttribution(set, objective, weights);
      const before = tf.memory().numTensors;
      const passes: number[] = [];
      const two = await fitAttribution(set, objective, weights, { workers: 2, onPass: (d, t) => passes.push(d * 100 + t) });
      await fitAttribution(set, objective, weights, { workers: 2 });
      expect(tf.memory().numTensors).toBe(before);
      expect(passes).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => d * 100 + 7));
      expect(one.provenance.gradientWorkers).toBe(1);
      expect(two.provenance.gradientWorkers).toBe(2);
      expect(Math.abs(two.value - one.value)).toBeLessThan(1e-5 * Math.abs(one.value));
      expect(relDiff(one.grads, two.grads)).toBeLessThan(1e-5);
      expect(relDiff(one.scores, two.scores)).toBeLessThan(1e-5);
      // The effective weights of an edited handle reach the workers (the gradient is taken there, not at the base).
      const erased = model.withOverlay(maskOverlay(randomMask(set, 0.3, 4)));
      const ew = erased.weights();
      const e1 = await fitAttribution(set, objective, ew);
      const e2 = await fitAttribution(set, objective, ew, { workers: 2 });
      expect(relDiff(e1.grads, e2.grads)).toBeLessThan(1e-5);
      expect(relDiff(one.grads, e2.grads)).toBeGreaterThan(1e-3);
      erased.dispose();
    } finally {
      objective.dispose();
    }
  });

  it('the node runs both on workers when told, records it, and cancels them mid-fit (the pool still usable)', async () => {
    const saved = process.env.CADFLOW_SAMPLE_WORKERS;
    process.env.CADFLOW_SAMPLE_WORKERS = '2';
    try {
      const params = fitParams.parse({ concept: 'circle', samples: 4, timesteps: 2, steps: 4, batch: 2 });
      const progress: number[] = [];
      const out = await fitAttributionNode.execute(ctxFor(new AbortController().signal, (v) => progress.push(v)), { model, components: undefined }, params);
      const attr = out.attribution as AttributionValue;
      expect(attr.provenance.gradientWorkers).toBe(2);
      expect((attr.provenance.objective as { trajectoryWorkers: number }).trajectoryWorkers).toBe(2);
      expect(progress).toHaveLength(8); // 4 passes of 2 pairs for the concept, 4 for the keep prompts (preserve unset → λ 1)
      const before = tf.memory().numTensors;
      const ac = new AbortController();
      const err = await fitAttributionNode.execute(ctxFor(ac.signal, () => ac.abort()), { model, components: undefined }, params).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CancelledError);
      expect(tf.memory().numTensors).toBe(before);
      const again = (await fitAttributionNode.execute(ctxFor(new AbortController().signal, () => {}), { model, components: undefined }, params)).attribution as AttributionValue;
      expect(relDiff(attr.scores, again.scores)).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.CADFLOW_SAMPLE_WORKERS;
      else process.env.CADFLOW_SAMPLE_WORKERS = saved;
    }
  });
});

function ctxFor(signal: AbortSignal, onProgress: (v: number) => void): NodeContext {
  return {
    runId: 'r', nodeId: 'n', signal,
    progress: (v) => onProgress(v), preview: () => {}, log: () => {}, record: () => {},
    throwIfAborted: () => { if (signal.aborted) throw new CancelledError(); },
    writeArtifact: async (name, bytes, mime) => ({ id: 'x', name, mime, bytes: bytes.length }),
    dirs: { data: '/tmp', models: '/tmp' },
  };
}
