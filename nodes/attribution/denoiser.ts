// What the objectives need from a text-to-image diffusion model, on the diffusion pack's functional API:
// text states, ε from a weights Map (entries may be substituted to take gradients), the model's one scheduler,
// and its DDIM + CFG sampler re-run here step by step so every x_t can be recorded with its own timestep
// (the reference code paired latents and timesteps off by one). `runTrajectories` reproduces `sampleImages`
// exactly (same noise streams, guidance, clipping, steps) — a test checks that. With `workers` it spreads whole
// batches of trajectories over the diffusion pack's worker threads, bit-identical to one thread.
import { tf } from '../sdk/runtime.ts';
import { CancelledError } from '../sdk/errors.ts';
import type { Scheduler } from '../diffusion/scheduler.ts';
import type { ModelConfig } from '../diffusion/model/config.ts';
import { encodePrompts, predictEps, predictOutput, schedulerFor, toModelRange } from '../diffusion/api.ts';
import { seededNoise } from '../diffusion/noise.ts';
import { samplePool, splitParts, type TaskFunction } from '../diffusion/parallel/sample-pool.ts';

export interface Denoiser {
  readonly config: ModelConfig;
  readonly scheduler: Scheduler;
  /** [H, W, C] of an image. */
  readonly imageShape: [number, number, number];
  /** Text states [N, L, D] for the prompts ("" = unconditional), from the model's own text encoder. */
  encode(prompts: readonly string[]): tf.Tensor3D;
  /** The network's raw output (ε or v) computed with `weights`. */
  predictOutput(weights: ReadonlyMap<string, tf.Tensor>, xt: tf.Tensor4D, ts: readonly number[], cond: tf.Tensor3D): tf.Tensor4D;
  /** ε̂(x_t, t, cond) computed with `weights` (same names as the model's). */
  predictEps(weights: ReadonlyMap<string, tf.Tensor>, xt: tf.Tensor4D, ts: readonly number[], cond: tf.Tensor3D): tf.Tensor4D;
  /** Images in [0,1] → the model's input range. */
  toModelRange(images: tf.Tensor4D): tf.Tensor4D;
}

/** Denoisers a worker thread can rebuild from the config alone (the only ones whose work is spread over workers). */
const rebuildable = new WeakSet<Denoiser>();
export const rebuildableInWorkers = (den: Denoiser): boolean => rebuildable.has(den);

/** A Denoiser over a cadflow model's config; text states come from `weights` (the handle's effective weights). */
export function cadflowDenoiser(config: ModelConfig, weights: ReadonlyMap<string, tf.Tensor>): Denoiser {
  const size = config.cadflow.image_size;
  const den: Denoiser = {
    config,
    scheduler: schedulerFor(config),
    imageShape: [size, size, config.cadflow.image_channels],
    encode: (prompts) => encodePrompts({ config, weights }, prompts),
    predictOutput: (w, xt, ts, cond) => predictOutput({ config, weights: w }, xt, ts, cond),
    predictEps: (w, xt, ts, cond) => predictEps({ config, weights: w }, xt, ts, cond),
    toModelRange,
  };
  rebuildable.add(den);
  return den;
}

export interface TrajectoryRequest {
  /** Index into the prompts of the text states to condition on. */
  prompt: number;
  /** Seed of the initial noise. */
  seed: number;
  /** DDIM step indices (0 = the first, noisiest step) at which to record the latent entering the UNet. */
  record: readonly number[];
}

export interface SamplerOptions {
  steps: number;
  cfg: number;
  eta: number;
  /** Max trajectories advanced in one UNet call (each counts twice with CFG). */
  batch: number;
  throwIfAborted?(): void;
  onStep?(done: number, total: number): void;
  /** Worker threads to spread whole batches over (> 1 needs a cadflowDenoiser); absent or 1 = this thread. */
  workers?: number;
  /** Cancels the batches running on worker threads. */
  signal?: AbortSignal;
}

export interface RecordedLatent {
  request: number;
  step: number;
  t: number;
  /** x_t, the latent that enters the UNet together with timestep t (flat H·W·C). */
  xt: Float32Array;
}

export interface Trajectories {
  latents: RecordedLatent[];
  unetSampleEvaluations: number;
  unetCalls: number;
  /** Threads that ran them (1 = this one). */
  workers: number;
}

/**
 * Runs DDIM with classifier-free guidance for each request from its own seeded noise, only as far as its last
 * recorded step, and returns the recorded (x_t, t) pairs plus the final images (for requests that record the
 * last step + 1, i.e. `steps`, the clean sample in model range). Trajectories run batched; each stops when done.
 */
export async function runTrajectories(
  den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, cond: tf.Tensor3D, uncond: tf.Tensor3D,
  requests: readonly TrajectoryRequest[], opts: SamplerOptions,
): Promise<Trajectories> {
  const workers = Math.min(opts.workers ?? 1, Math.ceil(requests.length / opts.batch));
  if (workers > 1) return trajectoriesOnWorkers(den, weights, cond, uncond, requests, opts, workers);
  const s = den.scheduler;
  const ts = s.ddimTimesteps(opts.steps);
  const last = requests.map((r) => Math.max(...r.record));
  const latents: RecordedLatent[] = [];
  let unetSampleEvaluations = 0;
  let unetCalls = 0;
  for (let start = 0; start < requests.length; start += opts.batch) {
    const ids = requests.slice(start, start + opts.batch).map((_, i) => start + i);
    let x = seededNoise(ids.map((i) => requests[i]!.seed), den.imageShape, 0);
    try {
      let active = ids;
      const stopAt = Math.max(...ids.map((i) => last[i]!));
      for (let step = 0; step <= stopAt && step <= opts.steps; step++) {
        opts.throwIfAborted?.();
        const xData = (await x.data()) as Float32Array;
        const per = xData.length / active.length;
        active.forEach((id, row) => {
          if (requests[id]!.record.includes(step)) {
            latents.push({ request: id, step, t: step < opts.steps ? ts[step]! : -1, xt: xData.slice(row * per, (row + 1) * per) });
          }
        });
        if (step === opts.steps) break;
        // Drop trajectories that have recorded everything they need.
        const keepRows = active.map((id, row) => (last[id]! > step ? row : -1)).filter((r) => r >= 0);
        if (keepRows.length === 0) break;
        if (keepRows.length < active.length) {
          const kept = tf.gather(x, keepRows);
          x.dispose();
          x = kept as tf.Tensor4D;
          active = keepRows.map((r) => active[r]!);
        }
        const t = ts[step]!;
        const tPrev = step + 1 < ts.length ? ts[step + 1]! : -1;
        const useCfg = opts.cfg !== 1;
        const next = tf.tidy(() => {
          const n = active.length;
          const c = tf.gather(cond, active.map((id) => requests[id]!.prompt)) as tf.Tensor3D;
          const tsIn = new Array(useCfg ? 2 * n : n).fill(t);
          const out = useCfg
            ? den.predictOutput(weights, tf.concat([x, x]) as tf.Tensor4D, tsIn, tf.concat([c, tf.tile(uncond, [n, 1, 1])]) as tf.Tensor3D)
            : den.predictOutput(weights, x, tsIn, c);
          let guided = out;
          if (useCfg) {
            const [oc, ou] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
            guided = tf.add(ou, tf.mul(tf.sub(oc, ou), opts.cfg));
          }
          const tsN = new Array(n).fill(t);
          let x0 = s.x0FromOutput(guided, x, tsN);
          let eps: tf.Tensor4D;
          if (s.config.clip_sample) {
            x0 = tf.clipByValue(x0, -1, 1);
            eps = s.epsFromX0(x0, x, tsN);
          } else {
            eps = s.epsFromOutput(guided, x, tsN);
          }
          const noise = opts.eta > 0 && tPrev >= 0 ? seededNoise(active.map((id) => requests[id]!.seed), den.imageShape, step + 1) : undefined;
          return s.ddimStep(eps, x0, t, tPrev, opts.eta, noise);
        });
        unetSampleEvaluations += (useCfg ? 2 : 1) * active.length;
        unetCalls++;
        x.dispose();
        x = next;
        opts.onStep?.(step + 1, opts.steps);
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      x.dispose();
    }
  }
  return { latents, unetSampleEvaluations, unetCalls, workers: 1 };
}

interface TrajectoryTaskArgs {
  cond: { data: Float32Array; shape: number[] };
  uncond: { data: Float32Array; shape: number[] };
  requests: TrajectoryRequest[];
  opts: Pick<SamplerOptions, 'steps' | 'cfg' | 'eta' | 'batch'>;
}

/**
 * Contiguous runs of whole batches per worker: every batch runs exactly as it does on one thread (same rows, same
 * order), so each latent is bit-identical, and the parts' latents in part order are the one-thread list.
 */
async function trajectoriesOnWorkers(
  den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, cond: tf.Tensor3D, uncond: tf.Tensor3D,
  requests: readonly TrajectoryRequest[], opts: SamplerOptions, workers: number,
): Promise<Trajectories> {
  if (!rebuildableInWorkers(den)) throw new Error('runTrajectories: worker threads need a cadflowDenoiser (they rebuild it from the config)');
  opts.throwIfAborted?.();
  const parts = splitParts(Math.ceil(requests.length / opts.batch), workers)
    .map(([s, e]) => [s * opts.batch, Math.min(e * opts.batch, requests.length)] as const);
  const states = (t: tf.Tensor3D) => ({ data: t.dataSync() as Float32Array, shape: [...t.shape] });
  const shared = { cond: states(cond), uncond: states(uncond), opts: { steps: opts.steps, cfg: opts.cfg, eta: opts.eta, batch: opts.batch } };
  const pool = await samplePool(workers);
  const results = await pool.runTasks<Trajectories>(
    { config: den.config, weights: weights as Map<string, tf.Tensor> },
    parts.map(([s, e]) => ({ module: import.meta.url, fn: 'trajectoriesTask', args: { ...shared, requests: requests.slice(s, e) } satisfies TrajectoryTaskArgs })),
    {
      signal: opts.signal,
      onReport: (_, v) => {
        const r = v as { done: number; total: number };
        opts.onStep?.(r.done, r.total);
        opts.throwIfAborted?.();
      },
    },
  );
  return {
    latents: results.flatMap((r, p) => r.latents.map((l) => ({ ...l, request: l.request + parts[p]![0] }))),
    unetSampleEvaluations: results.reduce((a, r) => a + r.unetSampleEvaluations, 0),
    unetCalls: results.reduce((a, r) => a + r.unetCalls, 0),
    workers: parts.length,
  };
}

/** A worker's part of runTrajectories (see trajectoriesOnWorkers), on the weights the worker holds. */
export const trajectoriesTask: TaskFunction<TrajectoryTaskArgs, Trajectories> = async (model, a, ctx) => {
  const cond = tf.tensor3d(a.cond.data, a.cond.shape as [number, number, number]);
  const uncond = tf.tensor3d(a.uncond.data, a.uncond.shape as [number, number, number]);
  try {
    return await runTrajectories(cadflowDenoiser(model.config, model.weights), model.weights, cond, uncond, a.requests, {
      ...a.opts,
      throwIfAborted: () => { if (ctx.signal.aborted) throw new CancelledError(); },
      onStep: (done, total) => ctx.report({ done, total }),
    });
  } finally {
    tf.dispose([cond, uncond]);
  }
};
