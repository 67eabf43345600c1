// Training and held-out data for the evaluation networks, from the shapes world. Train batches and held-out
// sets use different seed streams (mixSeed with distinct tags), so held-out renders are never trained on.
import { DEFAULT_CONCEPTS, type SceneLabels, type WorldConcepts } from '../../world/concepts.ts';
import { renderBatch } from '../../world/render.ts';
import { makeRng, mixSeed } from '../../world/rng.ts';
import { augmentBatch } from '../augment.ts';

const TRAIN_TAG = 0x7472;
const HELDOUT_TAG = 0x686f;

export interface WorldBatch {
  pixels: Float32Array;
  labels: SceneLabels[];
  captions: string[];
  n: number;
}

/** Training batch `step`: renders with augmentations (colour shift, blur, noise). */
export function trainBatch(n: number, seed: number, step: number, concepts: WorldConcepts = DEFAULT_CONCEPTS): WorldBatch {
  const s = mixSeed(seed, TRAIN_TAG, step);
  const b = renderBatch(n, s, { concepts });
  augmentBatch(b.pixels, n, makeRng(mixSeed(s, 1)));
  return { ...b, n };
}

/** Clean held-out renders (never seen in training). */
export function heldOutSet(n: number, seed: number, concepts: WorldConcepts = DEFAULT_CONCEPTS): WorldBatch {
  return { ...renderBatch(n, mixSeed(seed, HELDOUT_TAG), { concepts }), n };
}

/** Index of each image's value of `attribute` among `values` (one-hot targets). */
export function labelIndices(labels: SceneLabels[], attribute: keyof SceneLabels, values: string[]): Int32Array {
  return Int32Array.from(labels, (l) => {
    const k = values.indexOf(l[attribute]);
    if (k < 0) throw new Error(`label ${attribute}=${l[attribute]} is not one of ${values.join(', ')}`);
    return k;
  });
}
