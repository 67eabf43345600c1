// The erasure protocol: the paper's Imagenette setup mapped onto the shapes world.
// For a target concept (a value of one attribute): N target prompts that name it and N keep prompts for every
// other value of the same attribute, each with a fixed seed; plus a fixed caption set for CLIP score and FD
// and a reference set of renders for FD. Everything is a pure function of (concept, size, seed, concepts), so
// every model compared sees the same prompts, seeds and scheduler — differences are the edit's.
// The prompts of a value do not depend on which value is the target: the images of "circle" made while
// evaluating the erasure of "circle" are the keep images when evaluating "square" (shared across concepts).
import { ATTRIBUTES, DEFAULT_CONCEPTS, attributeOf, type Attribute, type SceneLabels, type WorldConcepts } from '../../world/concepts.ts';
import { captionFor, parsePrompt } from '../../world/captions.ts';
import { randomScene } from '../../world/render.ts';
import { mixSeed } from '../../world/rng.ts';
import { valuePrompt, type ValuePrompt } from '../../world/value-prompts.ts';

// Kept importable from here for existing callers (both live in the world pack's library).
export { attributeOf, valuePrompt };

export type ProtocolSize = 'full' | 'short' | 'quick';

/** Prompts per value, caption-set size and reference renders for each size. */
export const PROTOCOL_SIZES: Record<ProtocolSize, { perValue: number; captions: number; references: number }> = {
  full: { perValue: 50, captions: 200, references: 1000 },
  // The shipped workflows' look: erase_acc within ±0.07 (one standard error at 0.1), a minute on two cores.
  short: { perValue: 20, captions: 48, references: 256 },
  quick: { perValue: 3, captions: 8, references: 64 },
};

export const DEFAULT_PROTOCOL_SEED = 20241203;

export type ProtocolPrompt = ValuePrompt;

export interface ErasureProtocol {
  concept: string;
  attribute: Attribute;
  size: ProtocolSize;
  seed: number;
  perValue: number;
  /** Prompts naming the target concept. */
  target: ProtocolPrompt[];
  /** Prompts naming the other values of the same attribute (perValue each, in concept order). */
  keep: ProtocolPrompt[];
  /** Fixed world captions for CLIP score and FD (independent of the concept). */
  captions: ProtocolPrompt[];
  /** Seed and count of the reference renders FD compares against. */
  reference: { seed: number; count: number };
}

export function valuePrompts(attribute: Attribute, value: string, n: number, seed: number, concepts: WorldConcepts): ProtocolPrompt[] {
  return Array.from({ length: n }, (_, i) => valuePrompt(attribute, value, i, seed, concepts));
}

/** The fixed caption set for CLIP score / FD: random world scenes with their captions. */
export function captionSet(n: number, seed: number, concepts: WorldConcepts): ProtocolPrompt[] {
  return Array.from({ length: n }, (_, i) => {
    const s = mixSeed(seed, 0x63617074, i);
    const scene = randomScene(s, concepts);
    const prompt = captionFor(scene, s);
    return { prompt, seed: s, labels: parsePrompt(prompt, concepts), scene };
  });
}

export interface ProtocolOptions {
  size?: ProtocolSize;
  /** Overrides the size's prompts per value. */
  perValue?: number;
  /** Overrides the size's caption-set size. */
  captions?: number;
  seed?: number;
  concepts?: WorldConcepts;
}

export function erasureProtocol(concept: string, opts: ProtocolOptions = {}): ErasureProtocol {
  const concepts = opts.concepts ?? DEFAULT_CONCEPTS;
  const attribute = attributeOf(concept, concepts);
  if (!attribute) {
    throw new Error(`"${concept}" is not a world concept (known: ${ATTRIBUTES.map((a) => concepts[a].join(', ')).join('; ')})`);
  }
  const size = opts.size ?? 'full';
  const seed = opts.seed ?? DEFAULT_PROTOCOL_SEED;
  const perValue = opts.perValue ?? PROTOCOL_SIZES[size].perValue;
  const nCaptions = opts.captions ?? PROTOCOL_SIZES[size].captions;
  return {
    concept, attribute, size, seed, perValue,
    target: valuePrompts(attribute, concept, perValue, seed, concepts),
    keep: concepts[attribute].filter((v) => v !== concept).flatMap((v) => valuePrompts(attribute, v, perValue, seed, concepts)),
    captions: captionSet(nCaptions, seed, concepts),
    reference: { seed: mixSeed(seed, 0x72656673), count: PROTOCOL_SIZES[size].references },
  };
}
