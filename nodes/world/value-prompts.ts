// Prompts that name one attribute value in the world's caption templates: the evaluation protocol's target and keep
// prompts, and the attribution pack's "captions" template and checks draw them the same way.
import type { Attribute, SceneLabels, WorldConcepts } from './concepts.ts';
import { captionFor, parsePrompt } from './captions.ts';
import { randomScene } from './render.ts';
import { mixSeed } from './rng.ts';

export interface ValuePrompt {
  prompt: string;
  /** Sampling seed (initial noise). */
  seed: number;
  /** Exactly what the prompt names (parsePrompt), the labels the judge is scored against. */
  labels: Partial<SceneLabels>;
  /** A full scene consistent with the prompt (for rendering a reference image of it). */
  scene: SceneLabels;
}

function stringSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Prompt i for `attribute = value`: a random scene with that value, captioned by the world's templates; templates
 * that leave the attribute unnamed are redrawn (the prompt must name the value it is scored on).
 */
export function valuePrompt(attribute: Attribute, value: string, index: number, seed: number, concepts: WorldConcepts): ValuePrompt {
  const base = mixSeed(seed, stringSeed(attribute), stringSeed(value), index);
  const scene = { ...randomScene(base, concepts), [attribute]: value } as SceneLabels;
  for (let k = 0; k < 64; k++) {
    const prompt = captionFor(scene, mixSeed(base, k));
    const labels = parsePrompt(prompt, concepts);
    if (labels[attribute] === value) return { prompt, seed: base, labels, scene };
  }
  throw new Error(`no caption template names ${attribute} "${value}"`);
}
