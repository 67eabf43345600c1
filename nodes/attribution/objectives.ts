// The two CAD objectives as fixed batches of (x_t, t, text states, target): J = Σ ‖ε̂(x_t, c, t) − target‖².
// - erase:   x_t from the model's own DDIM trajectories (CFG) for the concept prompts, target = sg ε̂(x_t, anchor, t)
//            with the anchor "" (the paper) or the prompt with the concept left open;
// - amplify: x_t = √ᾱ x0 + √(1−ᾱ) ε for images of the concept (model range), target = ε (the denoising loss).
// Both are built once (seeded) and then evaluated any number of times, so attribution, validation and COAR
// all score the same inputs. Their batches are plain (x_t, t, text states, target) data, so the gradient passes
// can run on worker threads (pairGradientsTask rebuilds them there).
import { tf } from '../sdk/runtime.ts';
import { CancelledError } from '../sdk/errors.ts';
import { samplePool, splitParts, type TaskFunction } from '../diffusion/parallel/sample-pool.ts';
import { compositeObjective, gradientsInWorker, workersFor, type GradientHooks, type GradientTaskArgs, type Objective, type PassGradients } from './attribution.ts';
import { cadflowDenoiser, rebuildableInWorkers, runTrajectories, type Denoiser, type TrajectoryRequest } from './denoiser.ts';
import { makeRng } from '../sdk/random.ts';

interface PairBatch {
  xt: tf.Tensor4D;
  ts: number[];
  cond: tf.Tensor3D;
  target: tf.Tensor4D;
}

/** A pair batch as plain data (a pass of a portable pair objective). */
export interface PairPass {
  xt: Float32Array;
  xShape: number[];
  ts: number[];
  cond: Float32Array;
  condShape: number[];
  target: Float32Array;
}

/** J over fixed batches: Σ_batches Σ (ε̂_w(x_t, t, cond) − target)². Owns the batches. */
function pairObjective(
  name: string, den: Denoiser, batches: PairBatch[], describe: Record<string, unknown>,
  cost: { setupForwardPasses: number; forwardPassesPerPass: number },
): Objective {
  return {
    name,
    passes: batches.length,
    describe,
    cost,
    portable: rebuildableInWorkers(den)
      ? {
        config: den.config,
        task: { module: import.meta.url, fn: 'pairGradientsTask' },
        pass: (p, share): PairPass | undefined => {
          const b = batches[p]!;
          const rows = splitParts(b.ts.length, share.of)[share.index];
          if (!rows) return undefined;
          const [s, e] = rows;
          const cut = (t: tf.Tensor) => {
            const d = t.dataSync() as Float32Array;
            const per = d.length / b.ts.length;
            return d.slice(s * per, e * per);
          };
          return {
            xt: cut(b.xt), xShape: [e - s, ...b.xt.shape.slice(1)], ts: b.ts.slice(s, e), cond: cut(b.cond),
            condShape: [e - s, ...b.cond.shape.slice(1)], target: cut(b.target),
          };
        },
      }
      : undefined,
    rows: (p) => batches[p]!.ts.length,
    loss: (w, p, rows) => tf.tidy(() => {
      const b = batches[p]!;
      const [s, e] = rows ?? [0, b.ts.length];
      const part = (t: tf.Tensor) => (s === 0 && e === b.ts.length ? t : t.slice(s, e - s));
      const eps = den.predictEps(w, part(b.xt) as tf.Tensor4D, b.ts.slice(s, e), part(b.cond) as tf.Tensor3D);
      return tf.sum(tf.square(tf.sub(eps, part(b.target)))) as tf.Scalar;
    }),
    dispose: () => batches.forEach((b) => tf.dispose([b.xt, b.cond, b.target])),
  };
}

/** A worker's share of a portable pair objective's gradient passes (see accumulateGradients). */
export const pairGradientsTask: TaskFunction<GradientTaskArgs, PassGradients> = async (model, a, ctx) => {
  const batches = (a.passes as PairPass[]).map((p): PairBatch => ({
    xt: tf.tensor4d(p.xt, p.xShape as [number, number, number, number]), ts: p.ts,
    cond: tf.tensor3d(p.cond, p.condShape as [number, number, number]),
    target: tf.tensor4d(p.target, p.xShape as [number, number, number, number]),
  }));
  const den = cadflowDenoiser(model.config, model.weights);
  return gradientsInWorker(pairObjective('pairs', den, batches, {}, { setupForwardPasses: 0, forwardPassesPerPass: 0 }), model.weights, a.names, ctx);
};

/** `count` DDIM step indices spread evenly over [0, steps − 1] (all of them when count ≥ steps). */
export function spreadSteps(steps: number, count: number): number[] {
  if (count >= steps) return Array.from({ length: steps }, (_, i) => i);
  if (count === 1) return [Math.round((steps - 1) / 2)];
  return [...new Set(Array.from({ length: count }, (_, k) => Math.round((k * (steps - 1)) / (count - 1))))];
}

export interface ErasePlan {
  prompts: string[];
  /** One seed per sample (sample i uses prompt i mod prompts.length). */
  seeds: number[];
  steps: number;
  cfg: number;
  eta: number;
  /** Timesteps scored per sample. */
  timesteps: number;
  /** paper: a fresh partial trajectory per (sample, timestep); reuse: every scored timestep from one trajectory. */
  mode: 'paper' | 'reuse';
  /** (x_t, t) pairs per gradient pass; also the trajectory batch. */
  batch: number;
  /** The stop-gradient target's prompt per prompt; absent = "" for every prompt (the paper's J). */
  anchors?: string[];
  /** η: the target becomes ε(anchor) − η·(ε(c) − ε(anchor)), both of the unedited model (ESD's negative guidance); 0 = CAD. */
  guidance?: number;
}

/** Mixes a sample seed and a timestep index into a fresh-noise seed. */
function freshSeed(seed: number, k: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 1;
}

export async function eraseObjective(
  den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, plan: ErasePlan, hooks: GradientHooks = {},
): Promise<Objective> {
  const stepsToScore = spreadSteps(plan.steps, plan.timesteps);
  const requests: TrajectoryRequest[] = [];
  plan.seeds.forEach((seed, i) => {
    const prompt = i % plan.prompts.length;
    if (plan.mode === 'reuse') requests.push({ prompt, seed, record: stepsToScore });
    else stepsToScore.forEach((step, k) => requests.push({ prompt, seed: freshSeed(seed, k), record: [step] }));
  });
  const cond = den.encode(plan.prompts);
  const uncond = den.encode(['']);
  if (plan.anchors && plan.anchors.length !== plan.prompts.length) throw new Error(`${plan.anchors.length} anchors for ${plan.prompts.length} prompts`);
  const anchors = plan.anchors ? den.encode(plan.anchors) : undefined;
  try {
    const traj = await runTrajectories(den, weights, cond, uncond, requests, {
      steps: plan.steps, cfg: plan.cfg, eta: plan.eta, batch: Math.max(plan.batch, 1),
      throwIfAborted: hooks.throwIfAborted, signal: hooks.signal, workers: workersFor(hooks, requests.length),
    });
    const latents = traj.latents.filter((l) => l.t >= 0);
    const inputs: TargetInput[] = [];
    const batches: PairBatch[] = [];
    try {
      for (let start = 0; start < latents.length; start += plan.batch) {
        hooks.throwIfAborted?.();
        const chunk = latents.slice(start, start + plan.batch);
        const rows = chunk.map((l) => requests[l.request]!.prompt);
        inputs.push(tf.tidy(() => ({
          xt: tf.tensor4d(concatFloat(chunk.map((l) => l.xt)), [chunk.length, ...den.imageShape]),
          ts: chunk.map((l) => l.t),
          cond: tf.gather(cond, rows) as tf.Tensor3D,
          anchor: (anchors ? tf.gather(anchors, rows) : tf.tile(uncond, [chunk.length, 1, 1])) as tf.Tensor3D,
        })));
      }
      const targets = await eraseTargets(den, weights, inputs, plan.guidance ?? 0, hooks, workersFor(hooks, latents.length));
      inputs.forEach((b, i) => batches.push({ xt: b.xt, ts: b.ts, cond: b.cond, target: targets[i]! }));
    } catch (err) {
      inputs.forEach((b) => tf.dispose([b.xt, b.cond]));
      batches.forEach((b) => b.target.dispose());
      throw err;
    } finally {
      inputs.forEach((b) => b.anchor.dispose());
    }
    return pairObjective('erase', den, batches, {
      prompts: plan.prompts, anchors: plan.anchors ?? '', guidance: plan.guidance ?? 0, seeds: plan.seeds, steps: plan.steps, cfg: plan.cfg, eta: plan.eta, mode: plan.mode,
      scoredSteps: stepsToScore, timesteps: [...new Set(latents.map((l) => l.t))].sort((a, b) => b - a),
      pairs: latents.length, batch: plan.batch,
      trajectoryUnetSampleEvaluations: traj.unetSampleEvaluations, trajectoryUnetCalls: traj.unetCalls, trajectoryWorkers: traj.workers,
    }, {
      setupForwardPasses: traj.unetSampleEvaluations + latents.length * (plan.guidance ? 2 : 1),
      forwardPassesPerPass: plan.batch,
    });
  } finally {
    tf.dispose([cond, uncond, ...(anchors ? [anchors] : [])]);
  }
}

interface TargetInput {
  xt: tf.Tensor4D;
  ts: number[];
  cond: tf.Tensor3D;
  anchor: tf.Tensor3D;
}

/**
 * The stop-gradient target at (x_t, t): the unedited model's ε̂ for the anchor prompt, with ESD's negative guidance
 * η (ε̂(anchor) − η·(ε̂(c) − ε̂(anchor))) when η ≠ 0.
 */
function eraseTarget(den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, b: TargetInput, eta: number): tf.Tensor4D {
  return tf.tidy(() => {
    const anchored = den.predictEps(weights, b.xt, b.ts, b.anchor);
    return eta ? tf.sub(anchored, tf.mul(tf.sub(den.predictEps(weights, b.xt, b.ts, b.cond), anchored), eta)) as tf.Tensor4D : anchored;
  });
}

/** A TargetInput as plain data. */
interface TargetData {
  xt: Float32Array;
  xShape: number[];
  ts: number[];
  cond: Float32Array;
  anchor: Float32Array;
  condShape: number[];
}

/**
 * eraseTarget for every batch; with workers, contiguous runs of whole batches per worker (each batch computed
 * exactly as here, so the targets are bit-identical). Caller owns the targets.
 */
async function eraseTargets(
  den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, inputs: TargetInput[], eta: number, hooks: GradientHooks, workers: number,
): Promise<tf.Tensor4D[]> {
  const k = Math.min(workers, inputs.length);
  if (k > 1 && rebuildableInWorkers(den)) {
    const parts = splitParts(inputs.length, k);
    const data = (t: tf.Tensor) => t.dataSync() as Float32Array;
    const pool = await samplePool(k);
    const results = await pool.runTasks<Float32Array[]>(
      { config: den.config, weights: weights as Map<string, tf.Tensor> },
      parts.map(([s, e]) => ({
        module: import.meta.url, fn: 'eraseTargetsTask',
        args: {
          eta, batches: inputs.slice(s, e).map((b): TargetData => ({
            xt: data(b.xt), xShape: [...b.xt.shape], ts: b.ts, cond: data(b.cond), anchor: data(b.anchor), condShape: [...b.cond.shape],
          })),
        },
      })),
      { signal: hooks.signal, onReport: () => hooks.throwIfAborted?.() },
    );
    return results.flat().map((d, i) => tf.tensor4d(d, inputs[i]!.xt.shape));
  }
  const targets: tf.Tensor4D[] = [];
  try {
    for (const b of inputs) {
      hooks.throwIfAborted?.();
      targets.push(eraseTarget(den, weights, b, eta));
    }
  } catch (err) {
    tf.dispose(targets);
    throw err;
  }
  return targets;
}

/** A worker's run of eraseTargets' batches, on the weights it holds; one report per batch. */
export const eraseTargetsTask: TaskFunction<{ eta: number; batches: TargetData[] }, Float32Array[]> = async (model, a, ctx) => {
  const den = cadflowDenoiser(model.config, model.weights);
  const out: Float32Array[] = [];
  for (const d of a.batches) {
    if (ctx.signal.aborted) throw new CancelledError();
    const target = tf.tidy(() => eraseTarget(den, model.weights, {
      xt: tf.tensor4d(d.xt, d.xShape as [number, number, number, number]), ts: d.ts,
      cond: tf.tensor3d(d.cond, d.condShape as [number, number, number]), anchor: tf.tensor3d(d.anchor, d.condShape as [number, number, number]),
    }, a.eta));
    out.push(target.dataSync() as Float32Array);
    target.dispose();
    ctx.report(null);
    await new Promise((r) => setImmediate(r)); // let a cancel message in
  }
  return out;
};

/**
 * How J_concept and J_keep combine: `difference` J = J_concept − λ·J_keep; `relative` J = ln J_concept − λ·ln J_keep,
 * i.e. each term's gradient divided by its own J — on a model already partly erased J_concept has shrunk and J_keep
 * grown, and the difference's gradient is then mostly the keep term's.
 */
export type PreserveBalance = 'difference' | 'relative';

/**
 * J of the erase objective of the concept against that of prompts naming the other values of its attribute (λ,
 * balance), so the scores rank what drives this concept and not what every prompt uses. Owns both objectives.
 */
export function preservingObjective(concept: Objective, keep: Objective, lambda: number, balance: PreserveBalance = 'difference'): Objective {
  const positive = (js: readonly number[]) => {
    if (!(js[0]! > 0 && js[1]! > 0)) throw new Error(`relative balance needs J_concept and J_keep > 0 (got ${js[0]}, ${js[1]})`);
    return js;
  };
  return compositeObjective(concept.name, { ...concept.describe, preserve: { lambda, balance, ...keep.describe } }, {
    parts: [concept, keep],
    names: ['concept', 'keep'],
    ...(balance === 'difference'
      ? { value: ([c, k]) => c! - lambda * k!, slopes: () => [1, -lambda] }
      : {
        value: (js) => Math.log(positive(js)[0]!) - lambda * Math.log(js[1]!),
        slopes: (js) => [1 / positive(js)[0]!, -lambda / js[1]!],
      }),
  });
}

export interface AmplifyPlan {
  /** One prompt per image (the caption it is conditioned on). */
  prompts: string[];
  /** Images of the concept in [0,1], [N, H, W, C]. Not owned. */
  images: tf.Tensor4D;
  /** Noise draws (t, ε) per image. */
  draws: number;
  seed: number;
  batch: number;
  /** Where the images came from, for provenance. */
  source: string;
}

export function amplifyObjective(den: Denoiser, plan: AmplifyPlan): Objective {
  const n = plan.images.shape[0];
  if (plan.prompts.length !== n) throw new Error(`${plan.prompts.length} prompts for ${n} images`);
  const rand = makeRng(plan.seed);
  const T = den.scheduler.T;
  const items: { image: number; t: number; seed: number }[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < plan.draws; k++) items.push({ image: i, t: Math.floor(rand() * T), seed: freshSeed(plan.seed + i, k) });
  }
  const cond = den.encode(plan.prompts);
  const batches: PairBatch[] = [];
  try {
    for (let start = 0; start < items.length; start += plan.batch) {
      const chunk = items.slice(start, start + plan.batch);
      const ts = chunk.map((c) => c.t);
      const b = tf.tidy(() => {
        const x0 = den.toModelRange(tf.gather(plan.images, chunk.map((c) => c.image)) as tf.Tensor4D);
        const eps = tf.stack(chunk.map((c) => tf.randomNormal(den.imageShape, 0, 1, 'float32', c.seed))) as tf.Tensor4D;
        return {
          xt: den.scheduler.addNoise(x0, eps, ts),
          cond: tf.gather(cond, chunk.map((c) => c.image)) as tf.Tensor3D,
          target: eps,
        };
      });
      batches.push({ ...b, ts });
    }
  } finally {
    cond.dispose();
  }
  return pairObjective('amplify', den, batches, {
    prompts: plan.prompts, images: n, draws: plan.draws, seed: plan.seed, batch: plan.batch, source: plan.source,
    pairs: items.length,
  }, { setupForwardPasses: 0, forwardPassesPerPass: plan.batch });
}

function concatFloat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
