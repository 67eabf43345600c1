// One data-parallel shard of a training step: render this shard's images, noise them, and compute the loss and
// the gradient of every parameter into a flat Float32Array. Used in worker_threads and in-process alike.
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { renderBatch } from '../../world/render.ts';
import type { ModelConfig } from '../model/config.ts';
import { textStates, unetOutput } from '../model/network.ts';
import { Tokenizer } from '../model/tokenizer.ts';
import { makeRng } from '../../sdk/random.ts';
import { mixSeeds, seededNoise } from '../noise.ts';
import { Scheduler } from '../scheduler.ts';
import type { TrainSettings } from './presets.ts';

export interface ParamLayout {
  names: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
}

export function layoutOf(shapes: Map<string, number[]>): ParamLayout {
  const names = [...shapes.keys()];
  const offsets: number[] = [];
  let total = 0;
  for (const n of names) {
    offsets.push(total);
    total += shapes.get(n)!.reduce((a, b) => a * b, 1);
  }
  return { names, shapes: names.map((n) => shapes.get(n)!), offsets, total };
}

export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The training batch of one shard at one step: deterministic in (seed, step, shard). */
export function shardBatch(cfg: ModelConfig, s: TrainSettings, step: number, shard: number, n: number) {
  const sched = new Scheduler(cfg.scheduler);
  const seed = mixSeeds(s.seed, step, shard);
  const { pixels, captions } = renderBatch(n, seed);
  const rng = makeRng(mixSeeds(seed, 1));
  const ts = Array.from({ length: n }, () => Math.min(sched.T - 1, Math.floor(rng() * sched.T)));
  const prompts = captions.map((c) => (rng() < s.captionDropout ? '' : c));
  const noiseSeeds = Array.from({ length: n }, (_, i) => mixSeeds(seed, 2, i));
  const weights = ts.map((t) => {
    if (!s.minSnrGamma) return 1;
    const snr = sched.snr(t);
    // min-SNR-γ for the model's target: ε → min(snr,γ)/snr, v → min(snr,γ)/(snr+1)
    return Math.min(snr, s.minSnrGamma) / (cfg.scheduler.prediction_type === 'epsilon' ? snr : snr + 1);
  });
  return { pixels, prompts, ts, noiseSeeds, weights };
}

export class ShardGradients {
  private readonly tokenizer: Tokenizer;
  private readonly sched: Scheduler;

  constructor(private readonly cfg: ModelConfig, private readonly layout: ParamLayout, private readonly s: TrainSettings) {
    this.tokenizer = new Tokenizer(cfg.tokenizer, () => {});
    this.sched = new Scheduler(cfg.scheduler);
  }

  /**
   * Loss of this shard (already divided by the global batch, so shard losses and gradients sum to the
   * batch mean) and its gradient written into `gradsOut`.
   */
  compute(params: Float32Array, step: number, shard: number, n: number, gradsOut: Float32Array): number {
    const { cfg, layout, s } = this;
    const b = shardBatch(cfg, s, step, shard, n);
    const size = cfg.cadflow.image_size;
    const ids = this.tokenizer.encodeBatch(b.prompts);
    const ws = layout.names.map((_, i) => tf.tensor(params.subarray(layout.offsets[i], layout.offsets[i] + sizeOf(layout.shapes[i])), layout.shapes[i]));
    try {
      const { value, grads } = tf.tidy(() => {
        const x0 = tf.sub(tf.mul(tf.tensor4d(b.pixels, [n, size, size, 3]), 2), 1) as Tensor4D;
        const eps = seededNoise(b.noiseSeeds, [size, size, 3]);
        const xt = this.sched.addNoise(x0, eps, b.ts);
        const target = this.sched.target(x0, eps, b.ts);
        const w = tf.tensor1d(b.weights.map((v) => v / s.batch));
        return tf.valueAndGrads((...wts: Tensor[]) => {
          const m = new Map(layout.names.map((name, i) => [name, wts[i]]));
          const out = unetOutput(cfg, m, xt, b.ts, textStates(cfg, m, ids));
          return tf.sum(tf.mul(tf.mean(tf.square(tf.sub(out, target)), [1, 2, 3]), w));
        })(ws);
      });
      grads.forEach((g, i) => gradsOut.set(g.dataSync() as Float32Array, layout.offsets[i]));
      const loss = value.dataSync()[0];
      tf.dispose([value, ...grads]);
      return loss;
    } finally {
      tf.dispose(ws);
    }
  }
}
