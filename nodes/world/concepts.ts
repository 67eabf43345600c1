// The world's concept lists are data: the renderer, captions, the tokenizer's vocabulary and the Prompts node
// all read them from here. A user may add values (see render.ts for how a new value gets its look).

export interface WorldConcepts {
  shape: string[];
  colour: string[];
  background: string[];
  style: string[];
}

export type Attribute = keyof WorldConcepts;

export interface SceneLabels {
  shape: string;
  colour: string;
  background: string;
  style: string;
}

export const ATTRIBUTES: readonly Attribute[] = ['shape', 'colour', 'background', 'style'];

export const DEFAULT_CONCEPTS: WorldConcepts = Object.freeze({
  shape: ['circle', 'square', 'triangle', 'star', 'cross', 'heart'],
  colour: ['red', 'green', 'blue', 'yellow', 'purple', 'white'],
  background: ['black', 'gray', 'striped', 'dotted'],
  style: ['filled', 'outline'],
}) as WorldConcepts;

/** The attribute a concept value belongs to (backgrounds may share words with colours: the first match wins). */
export function attributeOf(concept: string, concepts: WorldConcepts = DEFAULT_CONCEPTS): Attribute | undefined {
  return ATTRIBUTES.find((a) => concepts[a].includes(concept));
}

// One lowercase word (hyphens allowed) so that captions tokenize and parse back unambiguously.
const VALUE_PATTERN = /^[a-z][a-z0-9-]*$/;
/** Words the caption templates use themselves; a concept value must not collide with them. */
export const RESERVED_WORDS: readonly string[] = ['a', 'an', 'on', 'background', 'shape'];

/** Checks a concept list for values captions could not express or parse back; throws naming the value. */
export function validateConcepts(concepts: WorldConcepts): WorldConcepts {
  const seen = new Map<string, Attribute>();
  for (const attr of ATTRIBUTES) {
    const values = concepts[attr];
    if (!Array.isArray(values) || values.length === 0) {
      throw new Error(`world concepts: "${attr}" needs at least one value`);
    }
    for (const value of values) {
      if (!VALUE_PATTERN.test(value)) {
        throw new Error(`world concepts: ${attr} "${value}" must be one lowercase word (a-z, 0-9, -)`);
      }
      if (RESERVED_WORDS.includes(value)) {
        throw new Error(`world concepts: ${attr} "${value}" is a word the caption templates use`);
      }
      // Backgrounds may share a word with colours ("a white star on a black background" parses by position),
      // but shapes, colours and styles must be distinct from each other.
      const other = seen.get(value);
      if (other && other !== attr && attr !== 'background' && other !== 'background') {
        throw new Error(`world concepts: "${value}" is both a ${other} and a ${attr}`);
      }
      if (attr !== 'background') seen.set(value, attr);
    }
  }
  return concepts;
}

/** Default concepts plus extra values (deduplicated, order kept). */
export function extendConcepts(extra: Partial<WorldConcepts>, base: WorldConcepts = DEFAULT_CONCEPTS): WorldConcepts {
  const out = {} as WorldConcepts;
  for (const attr of ATTRIBUTES) out[attr] = [...new Set([...base[attr], ...(extra[attr] ?? [])])];
  return validateConcepts(out);
}

/**
 * The concept a node works on: its optional `concept` input (a Concept node's output) when connected, else its
 * `concept` param; trimmed.
 */
export function chosenConcept(input: unknown, param: string): string {
  return (input === undefined || input === null ? param : String(input)).trim();
}
