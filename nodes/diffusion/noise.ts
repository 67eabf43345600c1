// Deterministic Gaussian noise from integer seeds, independent of backend and batch composition:
// image i's noise depends only on its own seed (and the stream index, e.g. the sampler step).
import { makeRng } from '../sdk/random.ts';
import { tf } from '../sdk/runtime.ts';
import type { Tensor4D } from '@tensorflow/tfjs';

export function mixSeeds(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    for (const v of [p >>> 0, Math.floor(p / 4294967296) >>> 0]) {
      h = Math.imul(h ^ v, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

/** Fills `out` with standard normals (Box–Muller) from a seeded stream. */
export function fillGaussian(out: Float32Array, seed: number, offset = 0, count = out.length - offset): void {
  const rng = makeRng(seed);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const th = 2 * Math.PI * rng();
    out[offset + i] = r * Math.cos(th);
    if (i + 1 < count) out[offset + i + 1] = r * Math.sin(th);
  }
}

/** [N,H,W,C] noise; image i from mixSeeds(seeds[i], stream). */
export function seededNoise(seeds: readonly number[], shape: [number, number, number], stream = 0): Tensor4D {
  const per = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(seeds.length * per);
  seeds.forEach((s, i) => fillGaussian(data, mixSeeds(s, stream), i * per, per));
  return tf.tensor4d(data, [seeds.length, ...shape]);
}
