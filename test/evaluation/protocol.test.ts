// The erasure protocol's prompt sets: reproducible, naming what they are scored on, shared across concepts.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONCEPTS } from '../../nodes/world/concepts.ts';
import { parsePrompt } from '../../nodes/world/captions.ts';
import { attributeOf, erasureProtocol, PROTOCOL_SIZES } from '../../nodes/evaluation/protocols/erasure.ts';
import { harmonicMean } from '../../nodes/evaluation/erasure-eval.ts';

describe('erasure protocol', () => {
  it('is reproducible: same prompts, seeds and caption set on every call', () => {
    const a = erasureProtocol('circle');
    const b = erasureProtocol('circle');
    expect(b).toEqual(a);
    expect(a.target).toHaveLength(PROTOCOL_SIZES.full.perValue);
    expect(a.keep).toHaveLength(PROTOCOL_SIZES.full.perValue * (DEFAULT_CONCEPTS.shape.length - 1));
    expect(a.captions).toHaveLength(PROTOCOL_SIZES.full.captions);
    // A different protocol seed gives different sampling seeds.
    expect(erasureProtocol('circle', { seed: 7 }).target[0].seed).not.toBe(a.target[0].seed);
  });

  it('target prompts name the concept; keep prompts name the other values of its attribute, N each', () => {
    for (const concept of ['star', 'yellow', 'dotted', 'outline']) {
      const p = erasureProtocol(concept, { size: 'quick' });
      const attr = attributeOf(concept)!;
      expect(p.attribute).toBe(attr);
      for (const q of p.target) {
        expect(parsePrompt(q.prompt)[attr]).toBe(concept);
        expect(q.labels).toEqual(parsePrompt(q.prompt));
        expect(q.scene[attr]).toBe(concept);
      }
      const others = DEFAULT_CONCEPTS[attr].filter((v) => v !== concept);
      for (const v of others) {
        const qs = p.keep.filter((q) => q.labels[attr] === v);
        expect(qs).toHaveLength(PROTOCOL_SIZES.quick.perValue);
      }
      expect(p.keep.every((q) => q.labels[attr] !== concept)).toBe(true);
      expect(new Set([...p.target, ...p.keep].map((q) => q.seed)).size).toBe(p.target.length + p.keep.length);
    }
  });

  it('shares a value\'s prompts across target concepts (keep images of one are target images of another)', () => {
    const circle = erasureProtocol('circle', { size: 'quick' });
    const square = erasureProtocol('square', { size: 'quick' });
    const squaresKeptWhenErasingCircle = circle.keep.filter((q) => q.labels.shape === 'square');
    expect(squaresKeptWhenErasingCircle).toEqual(square.target);
    expect(square.captions).toEqual(circle.captions);
  });

  it('the short protocol (the shipped workflows\' default) is the first prompts of the full one, so it reads a subset', () => {
    const full = erasureProtocol('circle');
    const short = erasureProtocol('circle', { size: 'short' });
    expect(short.target).toEqual(full.target.slice(0, PROTOCOL_SIZES.short.perValue));
    expect(short.keep).toHaveLength(PROTOCOL_SIZES.short.perValue * (DEFAULT_CONCEPTS.shape.length - 1));
    expect(short.captions).toEqual(full.captions.slice(0, PROTOCOL_SIZES.short.captions));
    expect(short.reference.count).toBeLessThan(full.reference.count);
  });

  it('rejects a concept that is not in the world', () => {
    expect(() => erasureProtocol('dog')).toThrow(/not a world concept/);
  });

  it('harmonic mean of (1 − erase_acc) and keep_acc', () => {
    expect(harmonicMean(0, 1)).toBe(1);
    expect(harmonicMean(1, 1)).toBe(0);
    expect(harmonicMean(0.5, 0.5)).toBeCloseTo(0.5, 12);
    expect(harmonicMean(0.2, 0.6)).toBeCloseTo((2 * 0.8 * 0.6) / 1.4, 12);
  });
});
