// Word-level tokenizer over the shapes world's vocabulary, stored in config.json so a model folder is
// self-contained. Unknown words map to <unk> (with a warning, never an error); "" is the unconditional prompt.
import { worldVocabulary } from '../../world/captions.ts';
import type { TokenizerConfig } from './config.ts';

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const UNK = 3;
const SPECIAL = ['<pad>', '<bos>', '<eos>', '<unk>'];

/** The vocabulary a new model is built with: specials then the world's words. */
export function defaultVocab(): string[] {
  return [...SPECIAL, ...worldVocabulary()];
}

export function splitWords(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9-]+/).filter(Boolean);
}

export class Tokenizer {
  private readonly ids: Map<string, number>;
  readonly maxLength: number;
  private readonly warned = new Set<string>();

  constructor(cfg: TokenizerConfig, private readonly warn: (msg: string) => void = (m) => console.warn(m)) {
    this.ids = new Map(cfg.vocab.map((w, i) => [w, i]));
    this.maxLength = cfg.model_max_length;
    SPECIAL.forEach((s, i) => {
      if (cfg.vocab[i] !== s) throw new Error(`tokenizer: vocab[${i}] must be "${s}"`);
    });
  }

  get vocabSize(): number {
    return this.ids.size;
  }

  /** The id of one vocabulary word (lowercase), undefined when the word is not in the vocabulary. */
  idOf(word: string): number | undefined {
    return this.ids.get(word.toLowerCase());
  }

  /** [<bos>, words…, <eos>, <pad>…] of length maxLength; words beyond the length are dropped (with a warning). */
  encode(text: string): Int32Array {
    const out = new Int32Array(this.maxLength).fill(PAD);
    out[0] = BOS;
    const words = splitWords(text);
    const room = this.maxLength - 2;
    if (words.length > room) this.warnOnce(`truncated:${text}`, `tokenizer: prompt "${text}" is longer than ${room} words; the rest is ignored`);
    words.slice(0, room).forEach((w, i) => {
      const id = this.ids.get(w);
      if (id === undefined) this.warnOnce(w, `tokenizer: unknown word "${w}" (mapped to <unk>)`);
      out[i + 1] = id ?? UNK;
    });
    out[Math.min(words.length, room) + 1] = EOS;
    return out;
  }

  encodeBatch(texts: readonly string[]): Int32Array {
    const out = new Int32Array(texts.length * this.maxLength);
    texts.forEach((t, i) => out.set(this.encode(t), i * this.maxLength));
    return out;
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(msg);
  }
}
