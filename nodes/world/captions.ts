// Captions for world scenes from several templates (some leave attributes open), the parser that reads the
// exact labels back out of a prompt, and the vocabulary every template can emit (the tokenizer's word list).
import { ATTRIBUTES, DEFAULT_CONCEPTS, type SceneLabels, type WorldConcepts } from './concepts.ts';
import { makeRng, mixSeed } from './rng.ts';

/** How a style value reads in a caption ("an outlined heart"); other styles read as their own name. */
const STYLE_WORDS: Record<string, string> = { filled: 'filled', outline: 'outlined' };
/** Extra spellings the parser accepts besides the emitted words. */
const BACKGROUND_ALIASES: Record<string, string> = { grey: 'gray' };
const STYLE_ALIASES: Record<string, string> = { solid: 'filled' };

export function styleWord(style: string): string {
  return STYLE_WORDS[style] ?? style;
}

/** A template and how often it is drawn; {style} {colour} {shape} {background} are filled in, {a} agrees. */
export interface CaptionTemplate { text: string; weight: number }

// Full descriptions dominate so a model learns every attribute; the rest teach partial prompts.
export const CAPTION_TEMPLATES: readonly CaptionTemplate[] = [
  { text: '{a} {style} {colour} {shape} on {a} {background} background', weight: 4 },
  { text: '{a} {colour} {shape} on {a} {background} background', weight: 2 },
  { text: '{a} {style} {colour} {shape}', weight: 1 },
  { text: '{a} {colour} {shape}', weight: 1 },
  { text: '{a} {colour} shape on {a} {background} background', weight: 1 },
  { text: '{a} {style} {shape} on {a} {background} background', weight: 1 },
  { text: '{a} {shape} on {a} {background} background', weight: 1 },
];

const TEMPLATE_WEIGHT = CAPTION_TEMPLATES.reduce((s, t) => s + t.weight, 0);

function article(nextWord: string): string {
  return /^[aeiou]/.test(nextWord) ? 'an' : 'a';
}

/** Fills a template with labels (missing attributes must not be referenced) and fixes the articles. */
export function fillTemplate(template: string, labels: Partial<SceneLabels>): string {
  const words = template.trim().split(/\s+/).map((w) => {
    const m = /^\{(\w+)\}$/.exec(w);
    if (!m || m[1] === 'a') return w;
    const attr = m[1] as keyof SceneLabels;
    if (!ATTRIBUTES.includes(attr)) throw new Error(`caption template: unknown slot {${m[1]}} in "${template}"`);
    const value = labels[attr];
    if (value === undefined) throw new Error(`caption template "${template}" needs a ${attr}`);
    return attr === 'style' ? styleWord(value) : value;
  });
  return words.map((w, i) => (w === '{a}' ? article(words[i + 1] ?? '') : w)).join(' ');
}

/** One caption for a scene; the template is chosen by the seed (weighted). */
export function captionFor(labels: SceneLabels, seed: number): string {
  let r = makeRng(mixSeed(seed, 0x43415054))() * TEMPLATE_WEIGHT;
  let template = CAPTION_TEMPLATES[0]!;
  for (const t of CAPTION_TEMPLATES) {
    if ((r -= t.weight) < 0) { template = t; break; }
  }
  return fillTemplate(template.text, labels);
}

function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9-]+/).filter(Boolean);
}

type NamedValue = { attr: keyof SceneLabels; value: string };

/**
 * Reads one word of a prompt: "<value> background" names the background; other words that are concept values (or
 * style words / aliases) name their attribute.
 */
function wordReader(concepts: WorldConcepts): (word: string, next: string | undefined) => NamedValue | undefined {
  const styleByWord = new Map(concepts.style.map((s) => [styleWord(s), s]));
  return (w, next) => {
    if (next === 'background') {
      const bg = BACKGROUND_ALIASES[w] ?? w;
      if (concepts.background.includes(bg)) return { attr: 'background', value: bg };
    }
    if (concepts.shape.includes(w)) return { attr: 'shape', value: w };
    if (concepts.colour.includes(w)) return { attr: 'colour', value: w };
    const style = styleByWord.get(w) ?? (concepts.style.includes(w) ? w : STYLE_ALIASES[w]);
    return style !== undefined && concepts.style.includes(style) ? { attr: 'style', value: style } : undefined;
  };
}

/**
 * The exact labels a prompt names (each word read by wordReader). Unnamed attributes are absent, and so are
 * attributes the prompt names twice with different values ("a circle and a square" has no exact shape).
 */
export function parsePrompt(text: string, concepts: WorldConcepts = DEFAULT_CONCEPTS): Partial<SceneLabels> {
  const ws = words(text);
  const named = new Map<keyof SceneLabels, Set<string>>();
  const read = wordReader(concepts);
  for (let i = 0; i < ws.length; i++) {
    const n = read(ws[i]!, ws[i + 1]);
    if (n) named.set(n.attr, (named.get(n.attr) ?? new Set()).add(n.value));
  }
  const out: Partial<SceneLabels> = {};
  for (const attr of ATTRIBUTES) {
    const values = named.get(attr);
    if (values?.size === 1) out[attr] = [...values][0]!;
  }
  return out;
}

/** A prompt's words as written (lower-cased, punctuation kept, for rewriting) and bare (as wordReader reads them). */
function promptWords(text: string): { ws: string[]; bare: string[] } {
  const ws = text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  return { ws, bare: ws.map((w) => w.replace(/[^a-z0-9-]/g, '')) };
}

/** Words joined, each "a"/"an" fixed for the word after it. */
function withArticles(ws: string[]): string {
  return ws.map((w, i) => (w === 'a' || w === 'an' ? article(ws[i + 1] ?? '') : w)).join(' ');
}

/**
 * The prompt with one attribute left open, as the training captions leave it: the shape word becomes "shape",
 * a colour or style word is dropped, "on a … background" is dropped; its words read as parsePrompt reads them;
 * articles are fixed. A prompt that does not name the attribute comes back unchanged.
 */
export function openPrompt(text: string, attr: keyof SceneLabels, concepts: WorldConcepts = DEFAULT_CONCEPTS): string {
  const { ws, bare } = promptWords(text);
  const read = wordReader(concepts);
  const out: string[] = [];
  for (let i = 0; i < ws.length; i++) {
    if (attr === 'background' && bare[i] === 'on' && read(bare[i + 2] ?? '', bare[i + 3])?.attr === 'background') {
      i += 3; // "on a <value> background" goes as a whole
      continue;
    }
    const named = read(bare[i]!, bare[i + 1])?.attr === attr;
    if (named && attr === 'shape') out.push(ws[i]!.replace(bare[i]!, 'shape'));
    else if (!named || attr === 'background') out.push(ws[i]!);
  }
  return withArticles(out);
}

/**
 * The prompt with the value it names for one attribute replaced by `value` ("a red heart" → "a red circle"; "an
 * outlined …" → "a filled …"; "on a striped background" → "on a dotted background"), its words read as parsePrompt
 * reads them; articles are fixed. A prompt that does not name the attribute comes back unchanged.
 */
export function substitutePrompt(text: string, attr: keyof SceneLabels, value: string, concepts: WorldConcepts = DEFAULT_CONCEPTS): string {
  const { ws, bare } = promptWords(text);
  const read = wordReader(concepts);
  return withArticles(ws.map((w, i) => (read(bare[i]!, bare[i + 1])?.attr === attr ? w.replace(bare[i]!, attr === 'style' ? styleWord(value) : value) : w)));
}

/** Every word the caption templates can emit for these concepts, sorted. */
export function worldVocabulary(concepts: WorldConcepts = DEFAULT_CONCEPTS): string[] {
  const vocab = new Set<string>(['a', 'an']);
  for (const t of CAPTION_TEMPLATES) for (const w of words(t.text.replace(/\{\w+\}/g, ' '))) vocab.add(w);
  for (const v of concepts.shape) vocab.add(v);
  for (const v of concepts.colour) vocab.add(v);
  for (const v of concepts.background) vocab.add(v);
  for (const v of concepts.style) vocab.add(styleWord(v));
  return [...vocab].sort();
}
