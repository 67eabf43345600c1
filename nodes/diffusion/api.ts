// The functional API other packs build on: loadModel, encodePrompts, predictEps / predictOutput, the shared
// scheduler, and sampleImages (DDIM + classifier-free guidance). Images are [N,32,32,3] in [0,1]; the model
// works in [-1,1] (toModelRange / fromModelRange).
import { tf } from '../sdk/runtime.ts';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { CancelledError } from '../sdk/errors.ts';
import type { ModelHandle } from './handle.ts';
import type { ModelConfig } from './model/config.ts';
import { textStates, unetOutput } from './model/network.ts';
import { observe, type ModuleObserver } from './model/observers.ts';
import type { Weights } from './model/params.ts';
import { Tokenizer } from './model/tokenizer.ts';
import { seededNoise } from './noise.ts';
import { Scheduler } from './scheduler.ts';
import { autoSampleWorkers, samplePool } from './parallel/sample-pool.ts';

export { loadModel, handleFromWeights } from './model-handle.ts';
export { observe, type ModuleObserver, type ObservedKind } from './model/observers.ts';
export type { ModelConfig } from './model/config.ts';
export type { ModelHandle, WeightOverlay } from './handle.ts';
export type { Tokenizer } from './model/tokenizer.ts';

/** A config plus a weights Map — e.g. a handle's weights with some tensors substituted to take gradients. */
export interface ModelWeights {
  config: ModelConfig;
  weights: Weights;
}
export type ModelLike = ModelHandle | ModelWeights;

function resolve(model: ModelLike): ModelWeights {
  if ('weights' in model && typeof model.weights === 'function') {
    return { config: model.config as unknown as ModelConfig, weights: (model as ModelHandle).weights() };
  }
  return model as ModelWeights;
}

/** The typed config of a handle or of a { config, weights } pair. */
export function configOf(model: ModelLike): ModelConfig {
  return resolve(model).config;
}

const tokenizers = new WeakMap<object, Tokenizer>();
/** The model's tokenizer (from its config); unknown words → <unk> with one warning each. */
export function tokenizerFor(config: ModelConfig): Tokenizer {
  let t = tokenizers.get(config.tokenizer);
  if (!t) tokenizers.set(config.tokenizer, (t = new Tokenizer(config.tokenizer)));
  return t;
}

const schedulers = new WeakMap<object, Scheduler>();
/** The one scheduler of a model (training, sampling, attribution and evaluation all use this). */
export function schedulerFor(model: ModelLike | ModelConfig): Scheduler {
  const config = ('scheduler' in model ? model : resolve(model as ModelLike).config) as ModelConfig;
  let s = schedulers.get(config.scheduler);
  if (!s) schedulers.set(config.scheduler, (s = new Scheduler(config.scheduler)));
  return s;
}

/** Text-encoder states [N, L, D] for prompts ("" = unconditional). */
export function encodePrompts(model: ModelLike, prompts: readonly string[]): Tensor3D {
  const { config, weights } = resolve(model);
  return textStates(config, weights, tokenizerFor(config).encodeBatch(prompts));
}

/** The UNet's raw output (ε or v, per config.scheduler.prediction_type). x_t in model range [-1,1]. */
export function predictOutput(model: ModelLike, xt: Tensor4D, t: ArrayLike<number> | number, cond: Tensor3D): Tensor4D {
  const { config, weights } = resolve(model);
  const ts = typeof t === 'number' ? new Array(xt.shape[0]).fill(t) : t;
  return unetOutput(config, weights, xt, ts, cond);
}

/** ε(x_t, t, cond); for v-prediction models ε = √ᾱ_t·v + √(1−ᾱ_t)·x_t. Differentiable w.r.t. the weights. */
export function predictEps(model: ModelLike, xt: Tensor4D, t: ArrayLike<number> | number, cond: Tensor3D): Tensor4D {
  return tf.tidy(() => {
    const ts = typeof t === 'number' ? new Array(xt.shape[0]).fill(t) : Array.from(t);
    return schedulerFor(model).epsFromOutput(predictOutput(model, xt, ts, cond), xt, ts);
  }) as Tensor4D;
}

export function toModelRange(images: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(images, 2), 1) as Tensor4D);
}
export function fromModelRange(x: Tensor4D): Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as Tensor4D);
}

export interface SampleOptions {
  steps?: number;
  /** Classifier-free guidance scale (1 = conditional only, no unconditional pass). */
  cfg?: number;
  /** DDIM eta (0 = deterministic). */
  eta?: number;
  /** Images per UNet call (memory bound); with CFG each call runs 2× this many. */
  batchSize?: number;
  /**
   * worker_threads to spread the images over (each its own wasm backend; results are bit-identical to one
   * thread). Default: automatic (parallel/sample-pool.ts: 2 on wasm for 8 or more images); 0 or 1 = this thread.
   */
  workers?: number;
}

export interface SampleHooks {
  /** After every step: x0 prediction in [0,1] of the current chunk (disposed after the call; clone to keep). */
  onStep?(step: number, x0: Tensor4D, info: { steps: number; chunk: number; chunks: number }): void | Promise<void>;
  signal?: AbortSignal;
  /**
   * Observers on named modules, active during every UNet call of the sampler (model/observers.ts); those of
   * step i run before onStep(i). With CFG a call's batch is [conditional rows, unconditional rows]. Sampling
   * then runs on this thread (functions do not cross to worker threads).
   */
  observers?: readonly ModuleObserver[];
}

/**
 * Samples one image per prompt; image i depends only on (prompts[i], seeds[i], options) — not on the batch.
 * Returns [N,32,32,3] in [0,1] (caller owns it). Throws CancelledError when hooks.signal aborts.
 */
export async function sampleImages(
  model: ModelLike, prompts: readonly string[], seeds: readonly number[], opts: SampleOptions = {}, hooks: SampleHooks = {},
): Promise<Tensor4D> {
  const { config, weights } = resolve(model);
  if (seeds.length !== prompts.length) throw new Error(`sampleImages: ${seeds.length} seeds for ${prompts.length} prompts`);
  const workers = hooks.observers?.length ? 1 : Math.min(opts.workers ?? autoSampleWorkers(prompts.length), prompts.length);
  if (workers > 1) {
    const key = 'key' in model && typeof model.key === 'string' ? model.key : undefined;
    return (await samplePool(workers)).sample({ config, weights, key }, prompts, seeds, opts, hooks);
  }
  const steps = opts.steps ?? 25;
  const guidance = opts.cfg ?? 3;
  const eta = opts.eta ?? 0;
  const chunkSize = Math.max(1, opts.batchSize ?? 32);
  const sched = schedulerFor(config);
  const timesteps = sched.ddimTimesteps(steps);
  const size = config.cadflow.image_size;
  const shape: [number, number, number] = [size, size, config.cadflow.image_channels];
  const chunks = Math.ceil(prompts.length / chunkSize);
  const outputs: Tensor4D[] = [];
  try {
    for (let c = 0; c < chunks; c++) {
      const ps = prompts.slice(c * chunkSize, (c + 1) * chunkSize);
      const ss = seeds.slice(c * chunkSize, (c + 1) * chunkSize);
      const n = ps.length;
      const useCfg = guidance !== 1;
      const cond = tf.tidy(() => {
        const states = encodePrompts(model, useCfg ? [...ps, ...ps.map(() => '')] : ps);
        return states;
      });
      let x = seededNoise(ss, shape, 0);
      try {
        for (let i = 0; i < timesteps.length; i++) {
          if (hooks.signal?.aborted) throw new CancelledError();
          const t = timesteps[i];
          const tPrev = i + 1 < timesteps.length ? timesteps[i + 1] : -1;
          const [next, x0img] = tf.tidy(() => {
            const tsIn = new Array(useCfg ? 2 * n : n).fill(t);
            const xIn = useCfg ? tf.concat([x, x]) : x;
            const out = observe(hooks.observers ?? [], () => predictOutput(model, xIn, tsIn, cond));
            let guided: Tensor4D = out;
            if (useCfg) {
              const [oc, ou] = tf.split(out, 2, 0) as [Tensor4D, Tensor4D];
              guided = tf.add(ou, tf.mul(tf.sub(oc, ou), guidance));
            }
            const ts = new Array(n).fill(t);
            let x0 = sched.x0FromOutput(guided, x, ts);
            let eps: Tensor4D;
            if (config.scheduler.clip_sample) {
              x0 = tf.clipByValue(x0, -1, 1);
              eps = sched.epsFromX0(x0, x, ts);
            } else {
              eps = sched.epsFromOutput(guided, x, ts);
            }
            const noise = eta > 0 && tPrev >= 0 ? seededNoise(ss, shape, i + 1) : undefined;
            return [sched.ddimStep(eps, x0, t, tPrev, eta, noise), fromModelRange(x0)] as [Tensor4D, Tensor4D];
          });
          x.dispose();
          x = next;
          try {
            await hooks.onStep?.(i, x0img, { steps, chunk: c, chunks });
          } finally {
            x0img.dispose();
          }
          await new Promise((r) => setImmediate(r)); // let cancellation and progress events through
        }
        outputs.push(fromModelRange(x));
      } finally {
        x.dispose();
        cond.dispose();
      }
    }
    return outputs.length === 1 ? outputs[0] : tf.tidy(() => tf.concat(outputs) as Tensor4D);
  } finally {
    if (outputs.length > 1) tf.dispose(outputs);
  }
}

