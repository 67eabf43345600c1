// The optimiser step over one range of the flat parameter vector: the shards' gradients summed (all-reduce), the
// global-norm clip, Adam and the EMA. Each training worker updates its own slice of the shared arrays, in parallel;
// the main thread only adds the slices' squared norms and picks the clip scale. The update of element i depends on
// element i alone, so slicing changes nothing but the order the norm is summed in.
import type { FlatAdam } from '../ops/index.ts';

/** The training state every thread sees (views of SharedArrayBuffers when there are workers). */
export interface TrainArrays {
  params: Float32Array;
  /** Shard k's gradient at [k·n, (k+1)·n), n = params.length. */
  grads: Float32Array;
  summed: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  ema: Float32Array;
}

/** The training arrays' memory: shared, so workers update them in place. */
export interface TrainBuffers {
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  summed: SharedArrayBuffer;
  adamM: SharedArrayBuffer;
  adamV: SharedArrayBuffer;
  ema: SharedArrayBuffer;
}

export function trainBuffers(n: number, shards: number): TrainBuffers {
  const buf = (k = 1) => new SharedArrayBuffer(k * n * 4);
  return { params: buf(), grads: buf(shards), summed: buf(), adamM: buf(), adamV: buf(), ema: buf() };
}

export function trainArrays(b: TrainBuffers): TrainArrays {
  const f = (x: SharedArrayBuffer) => new Float32Array(x);
  return { params: f(b.params), grads: f(b.grads), summed: f(b.summed), adamM: f(b.adamM), adamV: f(b.adamV), ema: f(b.ema) };
}

/** What the main thread decides once it has the norm. */
export interface ApplyArgs {
  /** Clip factor for the summed gradient (1 = none). */
  scale: number;
  lr: number;
  /** Adam's step number (1-based). */
  t: number;
  emaDecay: number;
}

/** [start, end) of slice k of n values over `slices` threads. */
export function sliceOf(n: number, k: number, slices: number): [number, number] {
  return [Math.floor((k * n) / slices), Math.floor(((k + 1) * n) / slices)];
}

/** Sums the shards' gradients into `summed` over [start, end) and returns Σ summed² there. */
export function reduceSlice(a: TrainArrays, shards: number, [start, end]: [number, number]): number {
  const n = a.params.length;
  const { summed, grads } = a;
  summed.set(grads.subarray(start, end), start);
  for (let k = 1; k < shards; k++) {
    const off = k * n;
    for (let i = start; i < end; i++) summed[i] += grads[off + i];
  }
  let sq = 0;
  for (let i = start; i < end; i++) sq += summed[i] * summed[i];
  return sq;
}

/** Clips, takes the Adam step and updates the EMA over [start, end). */
export function applySlice(a: TrainArrays, adam: FlatAdam, args: ApplyArgs, [start, end]: [number, number]): void {
  const { summed, params, ema } = a;
  if (args.scale !== 1) for (let i = start; i < end; i++) summed[i] *= args.scale;
  adam.stepRange(params, summed, args.lr, args.t, start, end);
  const d = args.emaDecay;
  for (let i = start; i < end; i++) ema[i] = d * ema[i] + (1 - d) * params[i];
}
