// Adam(W) over one flat Float32Array of parameters: no tensors, so it runs identically in any thread and its
// state serialises as three arrays (checkpoints, resume).
export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (AdamW); 0 = plain Adam. */
  weightDecay?: number;
}

export class FlatAdam {
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** Number of steps taken (for bias correction). */
  t = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;

  constructor(size: number, opts: AdamOptions = {}) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  /** Updates `params` in place from `grads` with learning rate `lr`. */
  step(params: Float32Array, grads: Float32Array, lr: number): void {
    if (params.length !== this.m.length || grads.length !== this.m.length) {
      throw new Error(`FlatAdam: expected ${this.m.length} values, got params ${params.length}, grads ${grads.length}`);
    }
    this.t += 1;
    const { m, v, beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 / (1 - Math.pow(b1, this.t));
    const c2 = 1 / (1 - Math.pow(b2, this.t));
    const decay = 1 - lr * this.weightDecay;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i];
      const mi = (m[i] = b1 * m[i] + (1 - b1) * g);
      const vi = (v[i] = b2 * v[i] + (1 - b2) * g * g);
      params[i] = params[i] * decay - (lr * (mi * c1)) / (Math.sqrt(vi * c2) + eps);
    }
  }

  /** Restores state saved from `m`, `v`, `t`. */
  load(m: Float32Array, v: Float32Array, t: number): void {
    this.m.set(m);
    this.v.set(v);
    this.t = t;
  }
}
