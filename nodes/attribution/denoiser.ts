// What the objectives need from a text-to-image diffusion model, as one small interface: text states,
// ε from a weights Map (entries may be substituted to take gradients), the shared scheduler, and the
// model's DDIM sampler with CFG exposing every x_t (so latent and timestep stay paired).
import { tf } from '../sdk/runtime.ts';
import { Scheduler } from '../diffusion/scheduler.ts';
import type { ModelConfig } from '../diffusion/model/config.ts';
import { textStates, unetOutput } from '../diffusion/model/network.ts';
import { Tokenizer } from '../diffusion/model/tokenizer.ts';

export interface Denoiser {
  readonly scheduler: Scheduler;
  /** [H, W, C] of an image. */
  readonly imageShape: [number, number, number];
  /** Text states [N, L, D] for the prompts ("" = unconditional), from the model's own text encoder. */
  encode(prompts: readonly string[]): tf.Tensor3D;
  /** ε̂(x_t, t, cond) computed with `weights` (same names as the model's). */
  predictEps(weights: ReadonlyMap<string, tf.Tensor>, xt: tf.Tensor4D, ts: readonly number[], cond: tf.Tensor3D): tf.Tensor4D;
  /** Images in [0,1] → the model's input range. */
  toModelRange(images: tf.Tensor4D): tf.Tensor4D;
}

/** A Denoiser over a cadflow model's config and (effective) weights. */
export function cadflowDenoiser(config: ModelConfig, weights: ReadonlyMap<string, tf.Tensor>, warn?: (m: string) => void): Denoiser {
  const scheduler = new Scheduler(config.scheduler);
  const tokenizer = new Tokenizer(config.tokenizer, warn);
  const [lo, hi] = config.cadflow.model_range;
  const size = config.cadflow.image_size;
  return {
    scheduler,
    imageShape: [size, size, config.cadflow.image_channels],
    encode: (prompts) => textStates(config, weights, tokenizer.encodeBatch(prompts)),
    predictEps: (w, xt, ts, cond) => tf.tidy(() => scheduler.epsFromOutput(unetOutput(config, w, xt, ts, cond), xt, ts)),
    toModelRange: (images) => tf.tidy(() => tf.add(tf.mul(images, hi - lo), lo)),
  };
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
}

export interface RecordedLatent {
  request: number;
  step: number;
  t: number;
  /** x_t, the latent that enters the UNet together with timestep t (flat H·W·C). */
  xt: Float32Array;
}

function seededNoise(seed: number, shape: [number, number, number]): tf.Tensor3D {
  return tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor3D;
}

/**
 * Runs DDIM with classifier-free guidance for each request from its own seeded noise, only as far as its last
 * recorded step, and returns the recorded (x_t, t) pairs plus the final images (for requests that record the
 * last step + 1, i.e. `steps`, the clean sample in model range). Trajectories run batched; each stops when done.
 */
export async function runTrajectories(
  den: Denoiser, weights: ReadonlyMap<string, tf.Tensor>, cond: tf.Tensor3D, uncond: tf.Tensor3D,
  requests: readonly TrajectoryRequest[], opts: SamplerOptions,
): Promise<{ latents: RecordedLatent[]; unetSampleEvaluations: number; unetCalls: number }> {
  const s = den.scheduler;
  const ts = s.ddimTimesteps(opts.steps);
  const last = requests.map((r) => Math.max(...r.record));
  const latents: RecordedLatent[] = [];
  let unetSampleEvaluations = 0;
  let unetCalls = 0;
  for (let start = 0; start < requests.length; start += opts.batch) {
    const ids = requests.slice(start, start + opts.batch).map((_, i) => start + i);
    let x = tf.tidy(() => tf.stack(ids.map((i) => seededNoise(requests[i]!.seed, den.imageShape))) as tf.Tensor4D);
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
      const next = tf.tidy(() => {
        const n = active.length;
        const c = tf.gather(cond, active.map((id) => requests[id]!.prompt));
        const u = tf.tile(uncond, [n, 1, 1]);
        const both = den.predictEps(weights, tf.concat([x, x]) as tf.Tensor4D, new Array(2 * n).fill(t), tf.concat([c, u]) as tf.Tensor3D);
        const [ec, eu] = tf.split(both, 2) as [tf.Tensor4D, tf.Tensor4D];
        const eps = tf.add(eu, tf.mul(tf.sub(ec, eu), opts.cfg)) as tf.Tensor4D;
        const tsN = new Array(n).fill(t);
        const a = s.alphaBar(t);
        let x0 = tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - a))), Math.sqrt(a)) as tf.Tensor4D;
        let epsUsed = eps;
        if (s.config.clip_sample) {
          x0 = tf.clipByValue(x0, -1, 1) as tf.Tensor4D;
          epsUsed = s.epsFromX0(x0, x, tsN);
        }
        const noise = opts.eta > 0 ? (tf.randomNormal(x.shape, 0, 1, 'float32', requests[active[0]!]!.seed * 1009 + step) as tf.Tensor4D) : undefined;
        return s.ddimStep(epsUsed, x0, t, tPrev, opts.eta, noise);
      });
      unetSampleEvaluations += 2 * active.length;
      unetCalls++;
      x.dispose();
      x = next;
      opts.onStep?.(step + 1, opts.steps);
      await new Promise((r) => setImmediate(r));
    }
    x.dispose();
  }
  return { latents, unetSampleEvaluations, unetCalls };
}
