// Seeded randomness for the world: a 32-bit hash to derive independent streams, and mulberry32 (nodes/sdk/random.ts) per stream.
import type { Rng } from '../sdk/random.ts';

export { makeRng, type Rng } from '../sdk/random.ts';

/** Mixes any number of integers into one well-spread uint32 (murmur3 finaliser per part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    // Fold values beyond 32 bits in so that large seeds don't collide after truncation.
    const lo = part >>> 0;
    const hi = Math.floor(part / 4294967296) >>> 0;
    for (const v of [lo, hi]) {
      h = Math.imul(h ^ v, 0x85ebca6b);
      h ^= h >>> 13;
      h = Math.imul(h, 0xc2b2ae35);
      h ^= h >>> 16;
    }
  }
  return h >>> 0;
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}
