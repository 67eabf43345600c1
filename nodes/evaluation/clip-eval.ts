// Measures a shapes-CLIP: zero-shot attribute accuracy (prompt ensembles) and caption retrieval recall@1.
import { CAPTION_TEMPLATES, fillTemplate, parsePrompt } from '../world/captions.ts';
import { ATTRIBUTES, type Attribute, type SceneLabels, type WorldConcepts } from '../world/concepts.ts';

/** Does a caption (or its parsed labels) describe a scene (every attribute it names matches)? */
export function captionMatches(caption: string | Partial<SceneLabels>, labels: SceneLabels, concepts?: WorldConcepts): boolean {
  const named = typeof caption === 'string' ? parsePrompt(caption, concepts) : caption;
  return (Object.keys(named) as Attribute[]).every((a) => named[a] === labels[a]);
}

/**
 * Zero-shot prompts for one value of an attribute: every caption template that names the attribute, filled with
 * every combination of the other attributes it names. Their mean embedding is the class embedding (CLIP's
 * prompt ensembling), so no image label other than the one being predicted is used.
 */
export function zeroShotPrompts(attribute: Attribute, value: string, concepts: WorldConcepts): string[] {
  const out = new Set<string>();
  for (const t of CAPTION_TEMPLATES) {
    if (!t.text.includes(`{${attribute}}`)) continue;
    const slots = ATTRIBUTES.filter((a) => a !== attribute && t.text.includes(`{${a}}`));
    const fill = (k: number, labels: Partial<SceneLabels>): void => {
      if (k === slots.length) { out.add(fillTemplate(t.text, labels)); return; }
      for (const v of concepts[slots[k]]) fill(k + 1, { ...labels, [slots[k]]: v });
    };
    fill(0, { [attribute]: value });
  }
  return [...out];
}

/** Every (attribute, value) of the concepts with its zero-shot prompts, in a fixed order. */
export function zeroShotEntries(concepts: WorldConcepts): { attribute: Attribute; value: string; texts: string[] }[] {
  return ATTRIBUTES.flatMap((attribute) => concepts[attribute].map((value) => ({ attribute, value, texts: zeroShotPrompts(attribute, value, concepts) })));
}

/** Class embeddings per attribute, from the embeddings of every entry's texts in entry order (`textEmb`, n × d). */
export function zeroShotClasses(
  entries: { attribute: Attribute; value: string; texts: string[] }[], textEmb: Float32Array, d: number,
): Map<Attribute, { value: string; embedding: Float32Array }[]> {
  const classes = new Map<Attribute, { value: string; embedding: Float32Array }[]>();
  let offset = 0;
  for (const e of entries) {
    const embedding = meanDirection(textEmb.subarray(offset * d, (offset + e.texts.length) * d), e.texts.length, d);
    offset += e.texts.length;
    classes.set(e.attribute, [...(classes.get(e.attribute) ?? []), { value: e.value, embedding }]);
  }
  return classes;
}

function dot(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
  return s;
}

/** Mean of unit vectors, renormalised. */
export function meanDirection(emb: Float32Array, n: number, d: number): Float32Array {
  const m = new Float32Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) m[k] += emb[i * d + k];
  const norm = Math.hypot(...m) || 1;
  return m.map((x) => x / norm);
}

/** Fraction of images whose nearest class embedding is their true value. */
export function zeroShotAccuracy(
  imageEmb: Float32Array, labels: SceneLabels[], attribute: Attribute, classes: { value: string; embedding: Float32Array }[], d: number,
): number {
  let hits = 0;
  labels.forEach((l, i) => {
    let best = -Infinity;
    let pick = '';
    for (const c of classes) {
      const s = dot(imageEmb, i, c.embedding, 0, d);
      if (s > best) { best = s; pick = c.value; }
    }
    if (pick === l[attribute]) hits++;
  });
  return hits / labels.length;
}

export interface RecallAt1 {
  /** Image → caption: the top caption is the image's own. */
  image_to_text_exact: number;
  /** Image → caption: the top caption describes the image (captions may name only some attributes). */
  image_to_text_consistent: number;
  text_to_image_exact: number;
  text_to_image_consistent: number;
}

export function recallAt1(imageEmb: Float32Array, textEmb: Float32Array, labels: SceneLabels[], captions: string[], d: number): RecallAt1 {
  const n = labels.length;
  let i2tExact = 0, i2tCons = 0, t2iExact = 0, t2iCons = 0;
  const named = captions.map((c) => parsePrompt(c));
  const sims = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sims[i * n + j] = dot(imageEmb, i, textEmb, j, d);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < n; j++) if (sims[i * n + j] > sims[i * n + best]) best = j;
    if (best === i) i2tExact++;
    if (captionMatches(named[best], labels[i])) i2tCons++;
  }
  for (let j = 0; j < n; j++) {
    let best = 0;
    for (let i = 1; i < n; i++) if (sims[i * n + j] > sims[best * n + j]) best = i;
    if (best === j) t2iExact++;
    if (captionMatches(named[j], labels[best])) t2iCons++;
  }
  return { image_to_text_exact: i2tExact / n, image_to_text_consistent: i2tCons / n, text_to_image_exact: t2iExact / n, text_to_image_consistent: t2iCons / n };
}
