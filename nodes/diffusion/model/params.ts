// Parameters are declared where they are used: the network code asks a ParamSource for each weight by
// (name, shape, init). Running the network once with an initialising source yields a fresh model; running
// it with a weights Map reads (and shape-checks) trained or substituted tensors — one description, no twin list.
import { makeRng } from '../../sdk/random.ts';
import { tf } from '../../sdk/runtime.ts';
import type { Tensor } from '@tensorflow/tfjs';

/** PyTorch's default inits: Linear/Conv weight and bias ~ U(±1/√fan_in); norms: ones/zeros. */
export type Init = { kind: 'uniform'; fanIn: number } | { kind: 'ones' } | { kind: 'zeros' } | { kind: 'normal'; std: number };

export interface ParamSource {
  get(name: string, shape: number[], init: Init): Tensor;
}

export type Weights = ReadonlyMap<string, Tensor>;

/** Reads weights from a Map; throws on a missing name or a wrong shape. */
export class MapSource implements ParamSource {
  constructor(private readonly weights: Weights) {}
  get(name: string, shape: number[]): Tensor {
    const w = this.weights.get(name);
    if (!w) throw new Error(`model weights: missing "${name}"`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`model weights: "${name}" has shape [${w.shape}] but the config needs [${shape}]`);
    }
    return w;
  }
}

/** Creates each weight on first request from a seeded stream (deterministic in seed and declaration order). */
export class InitSource implements ParamSource {
  readonly created = new Map<string, Tensor>();
  private readonly rng: () => number;
  constructor(seed: number) {
    this.rng = makeRng(seed);
  }
  get(name: string, shape: number[], init: Init): Tensor {
    const existing = this.created.get(name);
    if (existing) return existing;
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (init.kind === 'ones') data.fill(1);
    else if (init.kind === 'uniform') {
      const bound = 1 / Math.sqrt(init.fanIn);
      for (let i = 0; i < size; i++) data[i] = (this.rng() * 2 - 1) * bound;
    } else if (init.kind === 'normal') {
      for (let i = 0; i < size; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - this.rng()));
        const th = 2 * Math.PI * this.rng();
        data[i] = r * Math.cos(th) * init.std;
        if (i + 1 < size) data[i + 1] = r * Math.sin(th) * init.std;
      }
    }
    const t = tf.keep(tf.tensor(data, shape));
    this.created.set(name, t);
    return t;
  }
}
