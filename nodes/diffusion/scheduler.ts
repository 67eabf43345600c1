// The one noise schedule shared by training, sampling, attribution and evaluation: DDPM betas, ε/v conversions,
// and DDIM steps (with eta) whose last step lands on t = 0.
import { tf } from '../sdk/runtime.ts';
import type { Tensor4D } from '@tensorflow/tfjs';

export interface SchedulerConfig {
  _class_name: 'DDIMScheduler';
  num_train_timesteps: number;
  beta_schedule: 'linear' | 'scaled_linear';
  beta_start: number;
  beta_end: number;
  prediction_type: 'epsilon' | 'v_prediction';
  /** Clip predicted x0 to the model range [-1, 1] while sampling (ε is then recomputed from the clipped x0). */
  clip_sample: boolean;
}

export const DEFAULT_SCHEDULER: SchedulerConfig = {
  _class_name: 'DDIMScheduler',
  num_train_timesteps: 1000,
  beta_schedule: 'linear',
  beta_start: 1e-4,
  beta_end: 0.02,
  prediction_type: 'v_prediction',
  clip_sample: true,
};

/** Per-sample scalars as a [N,1,1,1] tensor (broadcast over an image batch). */
function perSample(values: ArrayLike<number>): Tensor4D {
  return tf.tensor4d(Float32Array.from(values), [values.length, 1, 1, 1]);
}

export class Scheduler {
  readonly T: number;
  /** ᾱ_t for t = 0…T−1 (float64). */
  readonly alphasCumprod: Float64Array;

  constructor(readonly config: SchedulerConfig) {
    const T = (this.T = config.num_train_timesteps);
    const betas = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      const f = T === 1 ? 0 : i / (T - 1);
      betas[i] = config.beta_schedule === 'linear'
        ? config.beta_start + f * (config.beta_end - config.beta_start)
        : (Math.sqrt(config.beta_start) + f * (Math.sqrt(config.beta_end) - Math.sqrt(config.beta_start))) ** 2;
    }
    this.alphasCumprod = new Float64Array(T);
    let acc = 1;
    for (let i = 0; i < T; i++) this.alphasCumprod[i] = acc *= 1 - betas[i];
  }

  /** ᾱ at t; t = −1 means "after the last step" (ᾱ = 1, the clean image). */
  alphaBar(t: number): number {
    if (t < 0) return 1;
    return this.alphasCumprod[Math.min(this.T - 1, Math.round(t))];
  }

  /** Signal-to-noise ratio ᾱ/(1−ᾱ) at t. */
  snr(t: number): number {
    const a = this.alphaBar(t);
    return a / (1 - a);
  }

  private coeffs(ts: ArrayLike<number>): { sa: Tensor4D; sb: Tensor4D } {
    const a = Array.from(ts, (t) => this.alphaBar(t));
    return { sa: perSample(a.map(Math.sqrt)), sb: perSample(a.map((v) => Math.sqrt(1 - v))) };
  }

  /** x_t = √ᾱ·x0 + √(1−ᾱ)·ε, per-sample t. */
  addNoise(x0: Tensor4D, eps: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    return tf.tidy(() => {
      const { sa, sb } = this.coeffs(ts);
      return tf.add(tf.mul(x0, sa), tf.mul(eps, sb));
    });
  }

  /** The v target: v = √ᾱ·ε − √(1−ᾱ)·x0. */
  velocity(x0: Tensor4D, eps: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    return tf.tidy(() => {
      const { sa, sb } = this.coeffs(ts);
      return tf.sub(tf.mul(eps, sa), tf.mul(x0, sb));
    });
  }

  /** What the network is trained to output for (x0, ε, t): ε or v per prediction_type. */
  target(x0: Tensor4D, eps: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    return this.config.prediction_type === 'epsilon' ? tf.clone(eps) : this.velocity(x0, eps, ts);
  }

  /** ε from the network output: identity for ε-models; ε = √ᾱ·v + √(1−ᾱ)·x_t for v-models. */
  epsFromOutput(out: Tensor4D, xt: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    if (this.config.prediction_type === 'epsilon') return tf.clone(out);
    return tf.tidy(() => {
      const { sa, sb } = this.coeffs(ts);
      return tf.add(tf.mul(out, sa), tf.mul(xt, sb));
    });
  }

  /** x0 from the network output: (x_t − √(1−ᾱ)·ε)/√ᾱ, or x0 = √ᾱ·x_t − √(1−ᾱ)·v. */
  x0FromOutput(out: Tensor4D, xt: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    return tf.tidy(() => {
      const { sa, sb } = this.coeffs(ts);
      if (this.config.prediction_type === 'epsilon') return tf.div(tf.sub(xt, tf.mul(out, sb)), sa);
      return tf.sub(tf.mul(xt, sa), tf.mul(out, sb));
    });
  }

  /** ε consistent with x_t and a (possibly clipped) x0: (x_t − √ᾱ·x0)/√(1−ᾱ). */
  epsFromX0(x0: Tensor4D, xt: Tensor4D, ts: ArrayLike<number>): Tensor4D {
    return tf.tidy(() => {
      const { sa, sb } = this.coeffs(ts);
      return tf.div(tf.sub(xt, tf.mul(x0, sa)), sb);
    });
  }

  /** DDIM timesteps, descending from T−1 to exactly 0 (evenly spaced, rounded). */
  ddimTimesteps(steps: number): number[] {
    if (!Number.isInteger(steps) || steps < 1) throw new Error(`ddimTimesteps: steps must be ≥ 1, got ${steps}`);
    if (steps === 1) return [this.T - 1];
    return Array.from({ length: steps }, (_, i) => Math.round(((this.T - 1) * (steps - 1 - i)) / (steps - 1)));
  }

  /**
   * One DDIM step from t to tPrev (tPrev = −1 after the last step, giving x0) given ε and x0 predictions:
   * x_prev = √ᾱ_prev·x0 + √(1−ᾱ_prev−σ²)·ε + σ·z, σ = eta·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev).
   */
  ddimStep(eps: Tensor4D, x0: Tensor4D, t: number, tPrev: number, eta: number, noise?: Tensor4D): Tensor4D {
    return tf.tidy(() => {
      const a = this.alphaBar(t);
      const ap = this.alphaBar(tPrev);
      const sigma = eta * Math.sqrt((1 - ap) / (1 - a)) * Math.sqrt(Math.max(0, 1 - a / ap));
      const dirCoef = Math.sqrt(Math.max(0, 1 - ap - sigma * sigma));
      let out = tf.add(tf.mul(x0, Math.sqrt(ap)), tf.mul(eps, dirCoef));
      if (sigma > 0 && noise) out = tf.add(out, tf.mul(noise, sigma));
      return out as Tensor4D;
    });
  }
}

