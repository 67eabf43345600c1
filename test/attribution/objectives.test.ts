// The CAD objectives on a randomly initialised micro-preset network (the real architecture and scheduler;
// no trained weights needed): latent/timestep pairing, paper vs reuse trajectories, attribution vs finite
// differences through the UNet, and no tensor leaks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { presetConfig } from '../../nodes/diffusion/model/presets.ts';
import { initWeights } from '../../nodes/diffusion/model/network.ts';
import { fromModelRange, sampleImages } from '../../nodes/diffusion/api.ts';
import { seededNoise } from '../../nodes/diffusion/noise.ts';
import { cadflowDenoiser, runTrajectories, type Denoiser } from '../../nodes/attribution/denoiser.ts';
import { amplifyObjective, eraseObjective, spreadSteps } from '../../nodes/attribution/objectives.ts';
import { buildComponentSet } from '../../nodes/attribution/components.ts';
import { evaluateObjective, fitAttribution, GRADIENT_ROWS, gradientsOfPass } from '../../nodes/attribution/attribution.ts';

let weights: Map<string, tf.Tensor>;
let den: Denoiser;
const cfg = presetConfig('micro');

beforeAll(async () => {
  await initRuntime();
  weights = initWeights(cfg, 3);
  den = cadflowDenoiser(cfg, weights);
});
afterAll(() => weights.forEach((w) => w.dispose()));

const source = () => ({ paramNames: () => [...weights.keys()], paramShape: (n: string) => weights.get(n)!.shape });

describe('erase objective', () => {
  it('spreads scored steps evenly and records x_t with the timestep it enters the UNet with', async () => {
    expect(spreadSteps(10, 4)).toEqual([0, 3, 6, 9]);
    expect(spreadSteps(5, 9)).toEqual([0, 1, 2, 3, 4]);
    const cond = den.encode(['a red circle']);
    const uncond = den.encode(['']);
    const ts = den.scheduler.ddimTimesteps(6);
    const reuse = await runTrajectories(den, weights, cond, uncond, [{ prompt: 0, seed: 5, record: [0, 2, 4] }], { steps: 6, cfg: 3, eta: 0, batch: 4 });
    const partial = await runTrajectories(den, weights, cond, uncond, [
      { prompt: 0, seed: 5, record: [2] }, { prompt: 0, seed: 9, record: [4] },
    ], { steps: 6, cfg: 3, eta: 0, batch: 4 });
    expect(reuse.latents.map((l) => [l.step, l.t])).toEqual([[0, ts[0]], [2, ts[2]], [4, ts[4]]]);
    // Step 0's latent is the seeded noise itself.
    const noise = seededNoise([5], [32, 32, 3], 0);
    expect(Array.from(reuse.latents[0]!.xt)).toEqual(Array.from(noise.dataSync()));
    noise.dispose();
    // Same seed, same step: the same latent whether scored alone (paper) or along the way (reuse).
    const a = reuse.latents[1]!.xt;
    const b = partial.latents.find((l) => l.request === 0)!.xt;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    // Partial trajectories stop at their last recorded step: 5 steps for the pair (2 → stop, 4 → stop), CFG doubles.
    expect(partial.unetCalls).toBe(4);
    expect(partial.unetSampleEvaluations).toBe(2 * (2 + 2 + 1 + 1));
    expect(reuse.unetSampleEvaluations).toBe(2 * 4);
    // Run to the end, the recorded final latent is exactly what sampleImages returns (same sampler, same noise).
    const full = await runTrajectories(den, weights, cond, uncond, [{ prompt: 0, seed: 5, record: [6] }], { steps: 6, cfg: 3, eta: 0, batch: 4 });
    const sampled = await sampleImages({ config: cfg, weights }, ['a red circle'], [5], { steps: 6, cfg: 3, eta: 0 });
    const mine = tf.tidy(() => fromModelRange(tf.tensor4d(full.latents[0]!.xt, [1, 32, 32, 3])));
    expect(tf.max(tf.abs(tf.sub(mine, sampled))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([mine, sampled, cond, uncond]);
  });

  it('paper and reuse modes give the planned pairs; s = w ⊙ ∇J matches finite differences through the UNet', async () => {
    const plan = { prompts: ['a red circle', 'a blue circle'], seeds: [1, 2], steps: 6, cfg: 3, eta: 0, timesteps: 3, batch: 4 };
    const paper = await eraseObjective(den, weights, { ...plan, mode: 'paper' });
    const reuse = await eraseObjective(den, weights, { ...plan, mode: 'reuse' });
    expect(paper.describe.pairs).toBe(6);
    expect(reuse.describe.pairs).toBe(6);
    expect(paper.passes).toBe(2);
    expect(reuse.describe.trajectoryUnetSampleEvaluations).toBeLessThan(paper.describe.trajectoryUnetSampleEvaluations as number);
    const set = buildComponentSet(source());
    expect(set.matrices.length).toBeGreaterThanOrEqual(4);
    const attr = await fitAttribution(set, reuse, weights);
    expect(attr.value).toBeGreaterThan(0);
    // Finite differences along the top-scored weight of one matrix: scaling w_i by (1 ± h).
    const name = set.matrices[0]!.name;
    const s = attr.scores.get(name)!;
    let idx = 0;
    for (let i = 0; i < s.length; i++) if (Math.abs(s[i]!) > Math.abs(s[idx]!)) idx = i;
    const base = weights.get(name)!;
    const data = base.dataSync();
    const at = (f: number) => {
      const d = Float32Array.from(data);
      d[idx] = data[idx]! * (1 + f);
      const t = tf.tensor(d, base.shape);
      const v = evaluateObjective(reuse, new Map(weights).set(name, t));
      t.dispose();
      return v;
    };
    const h = 0.05;
    const fd = (at(h) - at(-h)) / (2 * h);
    expect(Math.abs(fd - s[idx]!)).toBeLessThan(0.02 * Math.abs(s[idx]!) + 1e-4);
    paper.dispose();
    reuse.dispose();
  });

  it('a pass of more rows than GRADIENT_ROWS runs its gradient in row parts: J and ∇J equal the whole pass\'s, nothing leaks', async () => {
    const plan = { prompts: ['a red circle', 'a blue star'], seeds: [1, 2], steps: 6, cfg: 3, eta: 0, timesteps: 5, mode: 'reuse' as const, batch: 10 };
    const objective = await eraseObjective(den, weights, plan);
    expect(objective.passes).toBe(1);
    expect(objective.rows!(0)).toBe(10);
    expect(GRADIENT_ROWS).toBeLessThan(10);
    const names = buildComponentSet(source()).matrices.map((m) => m.name);
    const xs = names.map((n) => weights.get(n)!);
    const before = tf.memory().numTensors;
    const parts = await gradientsOfPass(objective, weights, names, xs, 0);
    expect(tf.memory().numTensors).toBe(before);
    // The whole pass in one tape, for comparison.
    const whole = tf.valueAndGrads((...ts: tf.Tensor[]) => {
      const w = new Map(weights);
      names.forEach((n, i) => w.set(n, ts[i]!));
      return objective.loss(w, 0);
    })(xs);
    const value = whole.value.dataSync()[0]!;
    expect(parts.value).toBeGreaterThan(0);
    expect(Math.abs(parts.value - value)).toBeLessThan(1e-4 * value);
    whole.grads.forEach((g, i) => {
      const a = g.dataSync();
      const b = parts.grads[i]!;
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < a.length; j++) { diff = Math.max(diff, Math.abs(a[j]! - b[j]!)); scale = Math.max(scale, Math.abs(a[j]!)); }
      expect(scale).toBeGreaterThan(0);
      expect(diff).toBeLessThan(1e-4 * scale);
    });
    tf.dispose([whole.value, ...whole.grads]);
    expect(evaluateObjective(objective, weights)).toBeCloseTo(value, 2);
    objective.dispose();
  });

  it('the anchor is the stop-gradient target\'s prompt: anchored on the prompt itself J = 0', async () => {
    const plan = { prompts: ['a red circle', 'a blue star'], seeds: [1, 2], steps: 4, cfg: 3, eta: 0, timesteps: 2, mode: 'reuse' as const, batch: 4 };
    const self = await eraseObjective(den, weights, { ...plan, anchors: plan.prompts });
    const open = await eraseObjective(den, weights, { ...plan, anchors: ['a red shape', 'a blue shape'] });
    expect(evaluateObjective(self, weights)).toBe(0);
    expect(evaluateObjective(open, weights)).toBeGreaterThan(0);
    expect(open.describe.anchors).toEqual(['a red shape', 'a blue shape']);
    await expect(eraseObjective(den, weights, { ...plan, anchors: ['a red shape'] })).rejects.toThrow(/1 anchors for 2 prompts/);
    self.dispose();
    open.dispose();
  });

  it('amplify objective is the denoising loss on images in model range; nothing leaks', async () => {
    const before = tf.memory().numTensors;
    const images = tf.fill([2, 32, 32, 3], 0.5) as tf.Tensor4D;
    const obj = amplifyObjective(den, { prompts: ['a red circle', 'a red circle'], images, draws: 3, seed: 1, batch: 4, source: 'test' });
    expect(obj.passes).toBe(2);
    expect(evaluateObjective(obj, weights)).toBeGreaterThan(0);
    const set = buildComponentSet(source());
    await fitAttribution(set, obj, weights);
    const erase = await eraseObjective(den, weights, { prompts: ['a star'], seeds: [4], steps: 4, cfg: 3, eta: 0, timesteps: 2, mode: 'paper', batch: 2 });
    await fitAttribution(set, erase, weights);
    erase.dispose();
    obj.dispose();
    images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
