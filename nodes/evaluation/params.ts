// A network's parameters as one flat Float32Array (what FlatAdam updates) with named views for the forward pass.
import type { Tensor } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { makeRng } from '../world/rng.ts';

export type Init = 'he' | 'lecun' | 'zeros' | 'ones' | { normal: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

export interface ParamLayout {
  specs: ParamSpec[];
  offsets: number[];
  size: number;
}

export function layoutOf(specs: ParamSpec[]): ParamLayout {
  const offsets: number[] = [];
  let size = 0;
  for (const s of specs) {
    offsets.push(size);
    size += s.shape.reduce((a, b) => a * b, 1);
  }
  return { specs, offsets, size };
}

/** Fan-in of a weight: conv [kh,kw,cin,cout] → kh·kw·cin; linear [out,in] → in; embedding [V,D] → D. */
function fanIn(shape: number[]): number {
  if (shape.length === 4) return shape[0] * shape[1] * shape[2];
  if (shape.length === 2) return shape[1];
  return shape[0];
}

/** Seeded initial values: He-normal for layers followed by SiLU/ReLU, LeCun-normal for linear outputs. */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.size);
  const rng = makeRng(seed);
  const gauss = (): number => {
    const u = Math.max(rng(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  };
  layout.specs.forEach((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const view = flat.subarray(layout.offsets[i], layout.offsets[i] + n);
    if (s.init === 'zeros') return;
    if (s.init === 'ones') { view.fill(1); return; }
    const std = typeof s.init === 'object' ? s.init.normal
      : s.init === 'he' ? Math.sqrt(2 / fanIn(s.shape)) : Math.sqrt(1 / fanIn(s.shape));
    for (let k = 0; k < n; k++) view[k] = gauss() * std;
  });
  return flat;
}

/** Tensors viewing a flat buffer, in spec order (the caller owns and disposes them). */
export function tensorsOf(layout: ParamLayout, flat: Float32Array): Tensor[] {
  return layout.specs.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return tf.tensor(flat.subarray(layout.offsets[i], layout.offsets[i] + n), s.shape, 'float32');
  });
}

export function mapOf(layout: ParamLayout, tensors: Tensor[]): Map<string, Tensor> {
  return new Map(layout.specs.map((s, i) => [s.name, tensors[i]]));
}

/** Named Float32Array views for writing a weight file. */
export function namedArrays(layout: ParamLayout, flat: Float32Array): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map(layout.specs.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return [s.name, { shape: s.shape, data: flat.subarray(layout.offsets[i], layout.offsets[i] + n) }];
  }));
}

/** A flat buffer from named arrays (a loaded weight file); every spec must be present with its shape. */
export function flatFrom(
  layout: ParamLayout, named: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, source: string,
): Float32Array {
  const flat = new Float32Array(layout.size);
  layout.specs.forEach((s, i) => {
    const t = named.get(s.name);
    if (!t) throw new Error(`${source}: missing weight ${s.name}`);
    if (t.shape.length !== s.shape.length || t.shape.some((d, k) => d !== s.shape[k])) {
      throw new Error(`${source}: ${s.name} has shape [${t.shape}], expected [${s.shape}]`);
    }
    flat.set(t.data, layout.offsets[i]);
  });
  return flat;
}
