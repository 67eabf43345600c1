// Tokenizer edge cases: unknown words (warned once, never thrown), empty prompt, case/punctuation, truncation.
import { describe, expect, it } from 'vitest';
import { BOS, defaultVocab, EOS, PAD, Tokenizer, UNK } from '../../nodes/diffusion/model/tokenizer.ts';
import { worldVocabulary } from '../../nodes/world/captions.ts';

function make(maxLength = 12) {
  const warnings: string[] = [];
  const tok = new Tokenizer({ vocab: defaultVocab(), model_max_length: maxLength }, (m) => warnings.push(m));
  return { tok, warnings };
}

describe('Tokenizer', () => {
  it('covers every world word and encodes a caption as <bos> words <eos> <pad>…', () => {
    const { tok, warnings } = make();
    for (const w of worldVocabulary()) expect(tok.encode(w)[1]).not.toBe(UNK);
    const ids = tok.encode('A red star on a striped background');
    expect(ids[0]).toBe(BOS);
    expect(ids[8]).toBe(EOS);
    expect(ids[11]).toBe(PAD);
    expect([...ids.slice(1, 8)].every((i) => i > UNK)).toBe(true);
    expect(warnings).toEqual([]);
  });

  it('empty (and punctuation-only) prompts are the unconditional sequence', () => {
    const { tok } = make();
    const expected = [BOS, EOS, ...new Array(10).fill(PAD)];
    expect([...tok.encode('')]).toEqual(expected);
    expect([...tok.encode('  ,. ')]).toEqual(expected);
  });

  it('is case- and punctuation-insensitive', () => {
    const { tok } = make();
    expect([...tok.encode('a RED star!')]).toEqual([...tok.encode('a red star')]);
  });

  it('maps unknown words to <unk> with one warning per word, never throwing', () => {
    const { tok, warnings } = make();
    const ids = tok.encode('a magenta star magenta');
    expect(ids[2]).toBe(UNK);
    expect(ids[4]).toBe(UNK);
    tok.encode('magenta dragon');
    expect(warnings.filter((w) => w.includes('magenta')).length).toBe(1);
    expect(warnings.some((w) => w.includes('dragon'))).toBe(true);
  });

  it('truncates long prompts keeping <eos> last, with a warning', () => {
    const { tok, warnings } = make(6);
    const ids = tok.encode('a red star on a striped background');
    expect(ids.length).toBe(6);
    expect(ids[5]).toBe(EOS);
    expect(warnings.some((w) => /longer than 4 words/.test(w))).toBe(true);
  });

  it('rejects a vocabulary without the special tokens first', () => {
    expect(() => new Tokenizer({ vocab: ['a', 'b', 'c', 'd', 'e'], model_max_length: 8 })).toThrow(/<pad>/);
  });
});
