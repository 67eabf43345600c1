// Augmentations that make networks trained on clean renders robust to generated images: small colour shifts,
// blur, and Gaussian noise. In place on an HWC Float32Array batch; deterministic per rng.
import { type Rng } from '../world/rng.ts';

const SIZE = 32;
const PIXELS = SIZE * SIZE * 3;

export interface AugmentOptions {
  /** Max per-channel gain change (±) and offset (±). */
  colourGain: number;
  colourOffset: number;
  /** Probability of a 3×3 binomial blur. */
  blurProb: number;
  /** Probability of noise, and the max σ (σ is drawn uniformly in [0, maxNoise]). */
  noiseProb: number;
  maxNoise: number;
}

export const DEFAULT_AUGMENT: AugmentOptions = { colourGain: 0.08, colourOffset: 0.04, blurProb: 0.3, noiseProb: 0.6, maxNoise: 0.15 };

export function gaussian(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** 3×3 binomial ([1,2,1]/4 per axis) blur of one image, edges clamped. */
function blurImage(px: Float32Array, off: number, tmp: Float32Array): void {
  const at = (y: number, x: number, c: number) =>
    px[off + (Math.min(SIZE - 1, Math.max(0, y)) * SIZE + Math.min(SIZE - 1, Math.max(0, x))) * 3 + c];
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let c = 0; c < 3; c++) tmp[(y * SIZE + x) * 3 + c] = 0.25 * at(y, x - 1, c) + 0.5 * at(y, x, c) + 0.25 * at(y, x + 1, c);
    }
  }
  px.set(tmp, off);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let c = 0; c < 3; c++) tmp[(y * SIZE + x) * 3 + c] = 0.25 * at(y - 1, x, c) + 0.5 * at(y, x, c) + 0.25 * at(y + 1, x, c);
    }
  }
  px.set(tmp, off);
}

/** Adds N(0, σ²) noise to every pixel of `n` images and clamps to [0,1] (the "heavy noise" test uses this too). */
export function addNoise(pixels: Float32Array, n: number, sigma: number, rng: Rng): void {
  for (let i = 0; i < n * PIXELS; i++) pixels[i] = Math.min(1, Math.max(0, pixels[i] + sigma * gaussian(rng)));
}

export function augmentBatch(pixels: Float32Array, n: number, rng: Rng, opts: AugmentOptions = DEFAULT_AUGMENT): void {
  const tmp = new Float32Array(PIXELS);
  for (let i = 0; i < n; i++) {
    const off = i * PIXELS;
    const gain = [0, 1, 2].map(() => 1 + opts.colourGain * (2 * rng() - 1));
    const bias = [0, 1, 2].map(() => opts.colourOffset * (2 * rng() - 1));
    for (let k = 0; k < PIXELS; k++) pixels[off + k] = pixels[off + k] * gain[k % 3] + bias[k % 3];
    if (rng() < opts.blurProb) blurImage(pixels, off, tmp);
    const sigma = rng() < opts.noiseProb ? opts.maxNoise * rng() : 0;
    for (let k = 0; k < PIXELS; k++) {
      const v = pixels[off + k] + (sigma > 0 ? sigma * gaussian(rng) : 0);
      pixels[off + k] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}
