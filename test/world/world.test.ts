import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES, CAPTION_TEMPLATES, DEFAULT_CONCEPTS, captionFor, extendConcepts, fillTemplate, openPrompt, parsePrompt, substitutePrompt,
  randomScene, registerColour, registerShape, registerStyle, renderBatch, renderScene, validateConcepts, worldVocabulary,
  type SceneLabels,
} from '../../nodes/world/index.ts';
import { PIXELS_PER_IMAGE, unrenderableValues } from '../../nodes/world/render.ts';

const ALL_SCENES: SceneLabels[] = DEFAULT_CONCEPTS.shape.flatMap((shape) => DEFAULT_CONCEPTS.colour.flatMap((colour) =>
  DEFAULT_CONCEPTS.background.flatMap((background) => DEFAULT_CONCEPTS.style.map((style) => ({ shape, colour, background, style })))));

/** Pixels whose colour is close to the scene's ink (the shape), as a 0/1 mask. */
function inkMask(px: Float32Array, rgb: [number, number, number], tol = 0.2): Uint8Array {
  const m = new Uint8Array(px.length / 3);
  for (let i = 0; i < m.length; i++) {
    const d = Math.abs(px[i * 3]! - rgb[0]) + Math.abs(px[i * 3 + 1]! - rgb[1]) + Math.abs(px[i * 3 + 2]! - rgb[2]);
    m[i] = d < tol * 3 ? 1 : 0;
  }
  return m;
}

describe('world renderer', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = renderBatch(16, 123);
    const b = renderBatch(16, 123);
    const c = renderBatch(16, 124);
    expect(a.pixels).toEqual(b.pixels);
    expect(a.labels).toEqual(b.labels);
    expect(a.captions).toEqual(b.captions);
    expect(a.pixels).not.toEqual(c.pixels);
    const labels: SceneLabels = { shape: 'star', colour: 'red', background: 'striped', style: 'outline' };
    expect(renderScene(labels, 5)).toEqual(renderScene(labels, 5));
    expect(renderScene(labels, 5)).not.toEqual(renderScene(labels, 6));
  });

  it('renders image i from (seed, i) only: a short batch is a prefix of a long one', () => {
    const short = renderBatch(5, 9);
    const long = renderBatch(40, 9);
    expect(long.pixels.subarray(0, short.pixels.length)).toEqual(short.pixels);
    expect(long.labels.slice(0, 5)).toEqual(short.labels);
  });

  it('gives exact labels: fixed attributes hold, explicit labels are used, random ones cover every value', () => {
    const fixed = renderBatch(50, 1, { fixed: { shape: 'heart', style: 'filled' } });
    expect(fixed.labels.every((l) => l.shape === 'heart' && l.style === 'filled')).toBe(true);
    const explicit = renderBatch(ALL_SCENES.length, 2, { labels: ALL_SCENES });
    expect(explicit.labels).toEqual(ALL_SCENES);
    const many = renderBatch(600, 3);
    for (const attr of ATTRIBUTES) {
      expect(new Set(many.labels.map((l) => l[attr]))).toEqual(new Set(DEFAULT_CONCEPTS[attr]));
    }
    // A label is a function of the scene seed alone, as randomScene says.
    expect(randomScene(77)).toEqual(randomScene(77));
  });

  it('writes HWC RGB in [0,1] into one Float32Array (or a given buffer)', () => {
    const out = new Float32Array(3 * PIXELS_PER_IMAGE + 10).fill(-1);
    const { pixels } = renderBatch(3, 4, { out });
    expect(pixels).toBe(out);
    expect(out.subarray(0, 3 * PIXELS_PER_IMAGE).every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(out[3 * PIXELS_PER_IMAGE]).toBe(-1);
  });

  it('draws every shape/colour/background/style with the shape clearly present and outline thinner than filled', () => {
    const colours: Record<string, [number, number, number]> = {
      red: [0.92, 0.12, 0.1], green: [0.1, 0.78, 0.18], blue: [0.16, 0.32, 0.98],
      yellow: [0.97, 0.88, 0.08], purple: [0.64, 0.2, 0.86], white: [0.97, 0.97, 0.97],
    };
    for (const l of ALL_SCENES) {
      const mask = inkMask(renderScene(l, 11), colours[l.colour]!);
      const area = mask.reduce((a, b) => a + b, 0);
      const filled = inkMask(renderScene({ ...l, style: 'filled' }, 11), colours[l.colour]!).reduce((a, b) => a + b, 0);
      expect(area, JSON.stringify(l)).toBeGreaterThan(40);
      if (l.style === 'outline') expect(area, JSON.stringify(l)).toBeLessThan(filled * 0.85);
    }
  });

  it('keeps white shapes far from every background', () => {
    for (const background of DEFAULT_CONCEPTS.background) {
      const px = renderScene({ shape: 'square', colour: 'white', background, style: 'filled' }, 3);
      const corner = (px[0]! + px[1]! + px[2]!) / 3; // a corner pixel is background (shapes keep a margin)
      const brightest = Math.max(...px);
      expect(brightest - corner, background).toBeGreaterThan(0.4);
    }
    // The gray background stays dark enough for white at any jitter.
    for (let seed = 0; seed < 50; seed++) {
      expect(renderScene({ shape: 'circle', colour: 'white', background: 'gray', style: 'filled' }, seed)[0]!).toBeLessThan(0.5);
    }
  });

  it('makes the six shapes differ from each other at the same seed', () => {
    const masks = DEFAULT_CONCEPTS.shape.map((shape) =>
      inkMask(renderScene({ shape, colour: 'white', background: 'black', style: 'filled' }, 21), [0.97, 0.97, 0.97], 0.3));
    for (let i = 0; i < masks.length; i++) {
      for (let j = i + 1; j < masks.length; j++) {
        let diff = 0;
        for (let k = 0; k < masks[i]!.length; k++) diff += masks[i]![k] !== masks[j]![k] ? 1 : 0;
        expect(diff, `${DEFAULT_CONCEPTS.shape[i]} vs ${DEFAULT_CONCEPTS.shape[j]}`).toBeGreaterThan(25);
      }
    }
  });

  it('rejects unknown concept values clearly, and draws them once registered', () => {
    const hexagon: SceneLabels = { shape: 'hexagon', colour: 'red', background: 'black', style: 'filled' };
    expect(() => renderScene(hexagon, 1)).toThrow(/unknown shape "hexagon".*registerShape/);
    expect(() => renderScene({ ...hexagon, shape: 'circle', colour: 'teal' }, 1)).toThrow(/unknown colour "teal"/);
    const concepts = extendConcepts({ shape: ['hexagon'], colour: ['teal'] });
    expect(() => renderBatch(4, 1, { concepts })).toThrow(/no look for shape "hexagon", colour "teal"/);
    expect(unrenderableValues(concepts)).toEqual(['shape "hexagon"', 'colour "teal"']);

    expect(() => registerShape('huge', { kind: 'circle', radius: 3 })).toThrow(/within 1.25|radius in/);
    expect(() => registerStyle('dashed', { stroke: 5 })).toThrow(/stroke must be in/);
    expect(() => registerColour('Teal', [0, 1, 1])).toThrow(/one lowercase word/);
    expect(() => registerColour('teal', [0, 2, 1])).toThrow(/RGB in \[0,1\]/);
    registerShape('hexagon', { kind: 'polygon', points: Array.from({ length: 6 }, (_, i) => [Math.cos(i * Math.PI / 3), Math.sin(i * Math.PI / 3)] as const) });
    registerColour('teal', [0, 0.6, 0.6]);
    const batch = renderBatch(200, 1, { concepts });
    expect(batch.labels.some((l) => l.shape === 'hexagon')).toBe(true);
    expect(batch.labels.some((l) => l.colour === 'teal')).toBe(true);
    expect(parsePrompt('a teal hexagon on a gray background', concepts)).toEqual({ colour: 'teal', shape: 'hexagon', background: 'gray' });
    expect(worldVocabulary(concepts)).toEqual(expect.arrayContaining(['teal', 'hexagon']));
  });

  it('validates concept lists (one word, no template words, no shape/colour clash)', () => {
    expect(() => validateConcepts({ ...DEFAULT_CONCEPTS, colour: ['light blue'] })).toThrow(/one lowercase word/);
    expect(() => validateConcepts({ ...DEFAULT_CONCEPTS, shape: ['background'] })).toThrow(/caption templates use/);
    expect(() => validateConcepts({ ...DEFAULT_CONCEPTS, shape: ['red'] })).toThrow(/both a colour and a shape|both a shape and a colour/);
    expect(() => validateConcepts({ ...DEFAULT_CONCEPTS, style: [] })).toThrow(/at least one/);
    // A colour may share its word with a background: position tells them apart.
    expect(() => validateConcepts({ ...DEFAULT_CONCEPTS, colour: ['black', 'red'] })).not.toThrow();
  });
});

describe('captions', () => {
  it('come from several templates and parse back to their labels', () => {
    const { labels, captions } = renderBatch(400, 5);
    expect(new Set(captions.map((c) => c.replace(/\b(an?)\b/g, 'a'))).size).toBeGreaterThan(100);
    const shapesNamed = new Set<number>();
    captions.forEach((caption, i) => {
      const parsed = parsePrompt(caption);
      expect(Object.keys(parsed).length, caption).toBeGreaterThanOrEqual(2);
      for (const [attr, value] of Object.entries(parsed)) expect(value, caption).toBe(labels[i]![attr as keyof SceneLabels]);
      shapesNamed.add(Object.keys(parsed).length);
    });
    expect(shapesNamed.size).toBeGreaterThan(1); // some captions leave attributes open
  });

  it('read naturally, with a/an agreement', () => {
    const l: SceneLabels = { shape: 'heart', colour: 'blue', background: 'striped', style: 'outline' };
    expect(fillTemplate('{a} {style} {colour} {shape}', l)).toBe('an outlined blue heart');
    expect(fillTemplate('{a} {colour} {shape} on {a} {background} background', { ...l, shape: 'star', colour: 'red' }))
      .toBe('a red star on a striped background');
    expect(fillTemplate('{a} {style} {colour} {shape}', { ...l, style: 'filled', colour: 'green', shape: 'circle' })).toBe('a filled green circle');
    expect(fillTemplate('{a} {colour} shape on {a} {background} background', { colour: 'red', background: 'dotted' }))
      .toBe('a red shape on a dotted background');
    expect(() => fillTemplate('{a} {colour} {size}', l)).toThrow(/unknown slot \{size\}/);
    const seen = new Set(Array.from({ length: 200 }, (_, s) => captionFor(l, s)));
    expect(seen.size).toBe(CAPTION_TEMPLATES.length);
  });

  it('parsePrompt names exactly what a prompt names', () => {
    expect(parsePrompt('a red shape on a dotted background')).toEqual({ colour: 'red', background: 'dotted' });
    expect(parsePrompt('An OUTLINED blue heart!')).toEqual({ style: 'outline', colour: 'blue', shape: 'heart' });
    expect(parsePrompt('a white star on a grey background')).toEqual({ colour: 'white', shape: 'star', background: 'gray' });
    expect(parsePrompt('a solid circle')).toEqual({ style: 'filled', shape: 'circle' });
    expect(parsePrompt('')).toEqual({});
    expect(parsePrompt('a photo of a cat')).toEqual({});
    expect(parsePrompt('a red circle and a blue square')).toEqual({});
    expect(parsePrompt('a red circle next to a red star on a dotted background')).toEqual({ colour: 'red', background: 'dotted' });
    // "black" names the background only before "background"; it is not a default colour.
    expect(parsePrompt('a black circle')).toEqual({ shape: 'circle' });
  });

  it('openPrompt leaves one attribute open the way the training captions do', () => {
    const p = 'an outlined white circle on a gray background';
    expect(openPrompt(p, 'shape')).toBe('an outlined white shape on a gray background');
    expect(openPrompt(p, 'colour')).toBe('an outlined circle on a gray background');
    expect(openPrompt(p, 'style')).toBe('a white circle on a gray background');
    expect(openPrompt(p, 'background')).toBe('an outlined white circle');
    expect(openPrompt('a red shape', 'shape')).toBe('a red shape');
    for (const attr of ATTRIBUTES) expect(parsePrompt(openPrompt(p, attr))[attr]).toBeUndefined();
    // Words are read as parsePrompt reads them: style and background aliases, a colour word before "background".
    expect(openPrompt('a solid red heart', 'style')).toBe('a red heart');
    expect(openPrompt('a red star on a grey background', 'background')).toBe('a red star');
    expect(openPrompt('a star on a red background', 'colour')).toBe('a star on a background');
  });

  it('substitutePrompt replaces the value one attribute names and fixes the article', () => {
    const p = 'an outlined white circle on a gray background';
    expect(substitutePrompt(p, 'shape', 'heart')).toBe('an outlined white heart on a gray background');
    expect(substitutePrompt(p, 'colour', 'red')).toBe('an outlined red circle on a gray background');
    expect(substitutePrompt(p, 'style', 'filled')).toBe('a filled white circle on a gray background');
    expect(substitutePrompt(p, 'background', 'dotted')).toBe('an outlined white circle on a dotted background');
    expect(substitutePrompt('a red square on a grey background', 'background', 'black')).toBe('a red square on a black background');
    expect(substitutePrompt('a red shape', 'shape', 'star')).toBe('a red shape');
    // Words are read as parsePrompt reads them, style aliases included.
    expect(substitutePrompt('a solid red heart', 'style', 'outline')).toBe('an outlined red heart');
    for (const attr of ATTRIBUTES) {
      const other = DEFAULT_CONCEPTS[attr].find((v) => v !== parsePrompt(p)[attr])!;
      expect(parsePrompt(substitutePrompt(p, attr, other))).toEqual({ ...parsePrompt(p), [attr]: other });
    }
  });

  it('worldVocabulary covers every word any template can emit', () => {
    const vocab = new Set(worldVocabulary());
    for (const l of ALL_SCENES) {
      for (const t of CAPTION_TEMPLATES) {
        for (const w of fillTemplate(t.text, l).split(' ')) expect(vocab.has(w), w).toBe(true);
      }
    }
    expect(worldVocabulary()).toEqual([...vocab].sort());
    expect(vocab.has('outline')).toBe(false); // the style reads "outlined" in captions
  });
});

describe('anti-aliasing', () => {
  /** Box-filters a size×size render down by `f` (the reference: 8×8 supersampling). */
  function downsample(px: Float32Array, size: number, f: number): Float32Array {
    const s = size / f;
    const out = new Float32Array(s * s * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) out[(Math.floor(y / f) * s + Math.floor(x / f)) * 3 + c]! += px[(y * size + x) * 3 + c]! / (f * f);
      }
    }
    return out;
  }

  it('matches an 8×8-supersampled render of the same scene, sharp tips included', () => {
    for (const shape of DEFAULT_CONCEPTS.shape) {
      for (const style of DEFAULT_CONCEPTS.style) {
        const l: SceneLabels = { shape, colour: 'white', background: 'black', style };
        const ours = renderScene(l, 1);
        const reference = downsample(renderScene(l, 1, 256), 256, 8);
        let max = 0, sum = 0;
        ours.forEach((v, i) => { const d = Math.abs(v - reference[i]!); sum += d; if (d > max) max = d; });
        expect(max, `${shape} ${style} max`).toBeLessThan(0.08);
        expect(sum / ours.length, `${shape} ${style} mean`).toBeLessThan(0.002);
        // ...and it is anti-aliased: some pixels are partly covered.
        expect(ours.some((v) => v > 0.2 && v < 0.8), `${shape} ${style}`).toBe(true);
      }
    }
  });
});
