// A seeded renderer of 32×32 RGB scenes: one shape (colour, style) on a background, with size/position/rotation
// jitter. Shape edges are anti-aliased by 3×3 supersampling, but only in pixels the exact signed distance says
// an edge crosses (the rest are wholly in or out), so sharp tips (star, heart) stay sharp at a fraction of the
// cost; background patterns use distance-based coverage. Training renders thousands of images a minute.
// Pixels are HWC RGB in [0,1].
import { DEFAULT_CONCEPTS, type SceneLabels, type WorldConcepts, validateConcepts } from './concepts.ts';
import { makeRng, mixSeed, pick, uniform, type Rng } from './rng.ts';
import { captionFor } from './captions.ts';

export const IMAGE_SIZE = 32;
export const PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE * 3;

type RGB = readonly [number, number, number];
type Point = readonly [number, number];

/** A shape is a circle or a polygon in unit space (x right, y up, extent about [-1,1]). */
export type ShapeDef = { kind: 'circle'; radius: number } | { kind: 'polygon'; points: Point[] };
/** A background: a base colour, optionally with stripes or a dot grid of a second colour. */
export interface BackgroundDef { base: RGB; pattern?: { kind: 'stripes' | 'dots'; ink: RGB } }
/**
 * A style: filled, or an outline stroke drawn just inside the shape's edge, its width a fraction of the shape's
 * size (its unit-space scale in pixels), so small stars keep a visible hole.
 */
export interface StyleDef { stroke: number | null }

function regularPolygon(n: number, radius: number, phase: number, dy = 0): Point[] {
  return Array.from({ length: n }, (_, i) => {
    const a = phase + (2 * Math.PI * i) / n;
    return [radius * Math.cos(a), radius * Math.sin(a) + dy] as Point;
  });
}

function starPolygon(points: number, outer: number, inner: number): Point[] {
  return Array.from({ length: points * 2 }, (_, i) => {
    const r = i % 2 === 0 ? outer : inner;
    const a = Math.PI / 2 + (Math.PI * i) / points;
    return [r * Math.cos(a), r * Math.sin(a) - 0.06] as Point;
  });
}

function crossPolygon(arm: number, half: number): Point[] {
  return [
    [-half, arm], [half, arm], [half, half], [arm, half], [arm, -half], [half, -half],
    [half, -arm], [-half, -arm], [-half, -half], [-arm, -half], [-arm, half], [-half, half],
  ];
}

// The classic parametric heart, sampled densely enough that its polygon edges are invisible at 32×32.
function heartPolygon(samples: number): Point[] {
  return Array.from({ length: samples }, (_, i) => {
    const t = (2 * Math.PI * i) / samples;
    const x = 16 * Math.sin(t) ** 3;
    const y = 13 * Math.cos(t) - 5 * Math.cos(2 * t) - 2 * Math.cos(3 * t) - Math.cos(4 * t);
    return [x / 16.5, (y + 2.5) / 15] as Point;
  });
}

const shapes = new Map<string, ShapeDef>([
  ['circle', { kind: 'circle', radius: 0.86 }],
  ['square', { kind: 'polygon', points: regularPolygon(4, 1.08, Math.PI / 4) }],
  ['triangle', { kind: 'polygon', points: regularPolygon(3, 1.12, Math.PI / 2, -0.18) }],
  ['star', { kind: 'polygon', points: starPolygon(5, 1.12, 0.48) }],
  ['cross', { kind: 'polygon', points: crossPolygon(1.0, 0.32) }],
  ['heart', { kind: 'polygon', points: heartPolygon(64) }],
]);

const colours = new Map<string, RGB>([
  ['red', [0.92, 0.12, 0.1]],
  ['green', [0.1, 0.78, 0.18]],
  ['blue', [0.16, 0.32, 0.98]],
  ['yellow', [0.97, 0.88, 0.08]],
  ['purple', [0.64, 0.2, 0.86]],
  ['white', [0.97, 0.97, 0.97]],
]);

// Neutral backgrounds only (so they never read as a shape colour), dark or mid-gray so white shapes stay visible.
const backgrounds = new Map<string, BackgroundDef>([
  ['black', { base: [0.03, 0.03, 0.03] }],
  ['gray', { base: [0.42, 0.42, 0.42] }],
  ['striped', { base: [0.05, 0.05, 0.05], pattern: { kind: 'stripes', ink: [0.32, 0.32, 0.32] } }],
  ['dotted', { base: [0.05, 0.05, 0.05], pattern: { kind: 'dots', ink: [0.45, 0.45, 0.45] } }],
]);

const styles = new Map<string, StyleDef>([
  ['filled', { stroke: null }],
  ['outline', { stroke: 0.21 }],
]);

const registries = { shape: shapes, colour: colours, background: backgrounds, style: styles } as const;

function checkName(kind: string, name: string): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`${kind} name "${name}" must be one lowercase word`);
}

function checkRgb(what: string, rgb: RGB): void {
  if (rgb.length !== 3 || rgb.some((c) => !(c >= 0 && c <= 1))) throw new Error(`${what} needs RGB in [0,1]`);
}

// Registering a value gives it a look (or replaces one); the word itself goes into a WorldConcepts list.

/** Largest distance from the centre a shape may reach in unit space (so that it always fits in the image). */
export const MAX_SHAPE_EXTENT = 1.25;

/** A shape: a circle, or a polygon in unit space (y up, about [-1,1], within MAX_SHAPE_EXTENT of the origin). */
export function registerShape(name: string, def: ShapeDef): void {
  checkName('shape', name);
  const ok = def.kind === 'circle'
    ? def.radius > 0
    : def.points.length >= 3 && def.points.every(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!ok || !(shapeExtent(def) <= MAX_SHAPE_EXTENT)) {
    throw new Error(`shape "${name}": needs a circle of radius in (0,${MAX_SHAPE_EXTENT}] or at least 3 finite points within ${MAX_SHAPE_EXTENT} of the origin`);
  }
  shapes.set(name, def);
}
export function registerColour(name: string, rgb: RGB): void {
  checkName('colour', name);
  checkRgb(`colour "${name}"`, rgb);
  colours.set(name, rgb);
}
export function registerBackground(name: string, def: BackgroundDef): void {
  checkName('background', name);
  checkRgb(`background "${name}" base`, def.base);
  if (def.pattern) checkRgb(`background "${name}" pattern ink`, def.pattern.ink);
  backgrounds.set(name, def);
}
export function registerStyle(name: string, def: StyleDef): void {
  checkName('style', name);
  if (def.stroke !== null && !(def.stroke > 0 && def.stroke <= 1)) throw new Error(`style "${name}": stroke must be in (0,1] or null`);
  styles.set(name, def);
}

/** Values in `concepts` the renderer has no look for (empty when everything can be drawn). */
export function unrenderableValues(concepts: { [A in keyof SceneLabels]?: string | readonly string[] }): string[] {
  const missing: string[] = [];
  for (const [attr, reg] of Object.entries(registries)) {
    const v = concepts[attr as keyof SceneLabels];
    for (const value of v === undefined ? [] : typeof v === 'string' ? [v] : v) {
      if (!reg.has(value)) missing.push(`${attr} "${value}"`);
    }
  }
  return missing;
}

function lookup<T>(attr: keyof typeof registries, value: string): T {
  const def = (registries[attr] as Map<string, unknown>).get(value);
  if (def === undefined) {
    const known = [...registries[attr].keys()].join(', ');
    const how = { shape: 'registerShape', colour: 'registerColour', background: 'registerBackground', style: 'registerStyle' }[attr];
    throw new Error(`world renderer: unknown ${attr} "${value}" (known: ${known}); give it a look with ${how}()`);
  }
  return def as T;
}

/** Random labels, uniform over each attribute's values. Independent of the render jitter stream. */
export function randomScene(seed: number, concepts: WorldConcepts = DEFAULT_CONCEPTS): SceneLabels {
  const rng = makeRng(mixSeed(seed, 0x4c414245));
  return {
    shape: pick(rng, concepts.shape), colour: pick(rng, concepts.colour),
    background: pick(rng, concepts.background), style: pick(rng, concepts.style),
  };
}

const EDGE_FIELDS = 6;

/**
 * A polygon's edges, precomputed once per scene for polygonDistance: per edge from vertex i to the previous
 * vertex j, [x_i, y_i, y_j, x_j − x_i, y_j − y_i, |e|²].
 */
function polygonEdges(xs: Float64Array, ys: Float64Array): Float64Array {
  const n = xs.length;
  const edges = new Float64Array(n * EDGE_FIELDS);
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const ex = xs[j]! - xs[i]!, ey = ys[j]! - ys[i]!;
    edges.set([xs[i]!, ys[i]!, ys[j]!, ex, ey, ex * ex + ey * ey], i * EDGE_FIELDS);
  }
  return edges;
}

/** Signed distance (pixels) from p to a closed polygon given by polygonEdges; negative inside. */
function polygonDistance(px: number, py: number, edges: Float64Array): number {
  let best = Infinity;
  let inside = false;
  for (let k = 0; k < edges.length; k += EDGE_FIELDS) {
    const yi = edges[k + 1]!, yj = edges[k + 2]!, ex = edges[k + 3]!, ey = edges[k + 4]!;
    const wx = px - edges[k]!, wy = py - yi;
    const t = Math.min(1, Math.max(0, (wx * ex + wy * ey) / edges[k + 5]!));
    const bx = wx - ex * t, by = wy - ey * t;
    const d2 = bx * bx + by * by;
    if (d2 < best) best = d2;
    // Crossing-number parity (even-odd rule) from the same edge.
    const c1 = py >= yi, c2 = py < yj, c3 = ex * wy > ey * wx;
    if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) inside = !inside;
  }
  const d = Math.sqrt(best);
  return inside ? -d : d;
}

/** Largest distance of the shape from its centre, in unit space. */
function shapeExtent(shape: ShapeDef): number {
  return shape.kind === 'circle' ? shape.radius : Math.max(...shape.points.map(([x, y]) => Math.hypot(x, y)));
}

const SUPERSAMPLE = 3;
/** Sub-pixel sample positions relative to the pixel centre, in pixels. */
const SUB_OFFSETS = Array.from({ length: SUPERSAMPLE }, (_, i) => (i + 0.5) / SUPERSAMPLE - 0.5);

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Background pattern coverage at a pixel centre (0 = base colour, 1 = ink), anti-aliased. x, y and distances
 * are in scene units (1 = a pixel of the 32×32 image); `pixel` is the output pixel's size in scene units.
 */
function patternCoverage(kind: 'stripes' | 'dots', x: number, y: number, p: PatternJitter, pixel: number): number {
  if (kind === 'stripes') {
    const u = (x * p.cos + y * p.sin) / p.period + p.phase;
    // Ink covers half of each period; e = distance (in periods) from the nearest stripe centre.
    const w = u + 0.25;
    const e = Math.abs(w - Math.floor(w) - 0.5);
    return clamp01(0.5 + ((0.25 - e) * p.period) / pixel);
  }
  const gx = (x - p.phase * p.period) / p.period, gy = (y - p.phase2 * p.period) / p.period;
  const dx = (gx - Math.round(gx)) * p.period, dy = (gy - Math.round(gy)) * p.period;
  return clamp01(0.5 + (p.radius - Math.sqrt(dx * dx + dy * dy)) / pixel);
}

interface PatternJitter { period: number; phase: number; phase2: number; cos: number; sin: number; radius: number }

function jitterColour(rng: Rng, rgb: RGB, amount: number): [number, number, number] {
  const k = 1 + uniform(rng, -amount, amount);
  return [clamp01(rgb[0] * k), clamp01(rgb[1] * k), clamp01(rgb[2] * k)];
}

/**
 * Draws one scene into out[offset .. offset + size*size*3). The seed fixes every jitter. `size` other than 32
 * renders the same scene at another resolution (figures; the supersampling check of the anti-aliasing).
 */
export function renderSceneInto(
  out: Float32Array, offset: number, labels: SceneLabels, seed: number, size: number = IMAGE_SIZE,
): void {
  const shape = lookup<ShapeDef>('shape', labels.shape);
  const colour = lookup<RGB>('colour', labels.colour);
  const bg = lookup<BackgroundDef>('background', labels.background);
  const style = lookup<StyleDef>('style', labels.style);
  const rng = makeRng(mixSeed(seed, 0x4a495454));
  const S = IMAGE_SIZE; // scene units
  if (!Number.isInteger(size) || size < 1) throw new Error(`world renderer: bad image size ${size}`);
  const pixel = S / size; // one output pixel in scene units

  // Shape placement: radius 8.5–11.5 px keeps every shape large enough to name at 32×32; it always fits inside.
  const scale = uniform(rng, 8.5, 11.5);
  const extent = shapeExtent(shape);
  const margin = scale * Math.max(1.12, extent) + 1;
  const cx = uniform(rng, margin, S - margin), cy = uniform(rng, margin, S - margin);
  const angle = uniform(rng, -0.35, 0.35); // ±20°: rotated, yet still upright (a heart stays a heart)
  const ink = jitterColour(rng, colour, 0.06);
  const base = jitterColour(rng, bg.base, 0.08);
  const patternInk = bg.pattern ? jitterColour(rng, bg.pattern.ink, 0.08) : base;
  const theta = pick(rng, [0, Math.PI / 4, Math.PI / 2, (3 * Math.PI) / 4]);
  const pj: PatternJitter = {
    period: uniform(rng, 5.5, 7), phase: rng(), phase2: rng(), cos: Math.cos(theta), sin: Math.sin(theta),
    radius: uniform(rng, 1.1, 1.5),
  };

  // Unit space (y up) → pixel space (y down).
  const cosA = Math.cos(angle), sinA = Math.sin(angle);
  let edges: Float64Array | undefined;
  if (shape.kind === 'polygon') {
    const xs = new Float64Array(shape.points.length);
    const ys = new Float64Array(shape.points.length);
    shape.points.forEach(([ux, uy], i) => {
      xs[i] = cx + scale * (ux * cosA - uy * sinA);
      ys[i] = cy - scale * (ux * sinA + uy * cosA);
    });
    edges = polygonEdges(xs, ys);
  }
  const radius = shape.kind === 'circle' ? shape.radius * scale : 0;
  const stroke = style.stroke === null ? null : style.stroke * scale;
  const reach = scale * extent + pixel; // beyond this every pixel's coverage is 0
  const halfDiagonal = pixel * Math.SQRT1_2;
  const subScale = SUPERSAMPLE / pixel; // distance → sub-pixel units
  // Signed distance to the drawn region: the shape, or a band of width `stroke` just inside its edge.
  const drawnDistance = (px: number, py: number): number => {
    const d = edges ? polygonDistance(px, py, edges) : Math.hypot(px - cx, py - cy) - radius;
    return stroke === null ? d : Math.max(d, -d - stroke);
  };

  for (let y = 0; y < size; y++) {
    const py = (y + 0.5) * pixel;
    for (let x = 0; x < size; x++) {
      const px = (x + 0.5) * pixel;
      const o = offset + (y * size + x) * 3;
      let r = base[0], g = base[1], b = base[2];
      if (bg.pattern) {
        const c = patternCoverage(bg.pattern.kind, px, py, pj, pixel);
        r += (patternInk[0] - r) * c; g += (patternInk[1] - g) * c; b += (patternInk[2] - b) * c;
      }
      if (Math.abs(px - cx) < reach && Math.abs(py - cy) < reach) {
        const d = drawnDistance(px, py);
        let a = d <= -halfDiagonal ? 1 : 0;
        if (Math.abs(d) < halfDiagonal) {
          // Each sub-sample takes its own distance-based coverage, so straight edges stay exact, not quantised.
          let covered = 0;
          for (let sy = 0; sy < SUPERSAMPLE; sy++) {
            for (let sx = 0; sx < SUPERSAMPLE; sx++) {
              covered += clamp01(0.5 - drawnDistance(px + SUB_OFFSETS[sx]! * pixel, py + SUB_OFFSETS[sy]! * pixel) * subScale);
            }
          }
          a = covered / (SUPERSAMPLE * SUPERSAMPLE);
        }
        if (a > 0) { r += (ink[0] - r) * a; g += (ink[1] - g) * a; b += (ink[2] - b) * a; }
      }
      out[o] = r; out[o + 1] = g; out[o + 2] = b;
    }
  }
}

/** One scene as HWC RGB in [0,1], 32×32×3 (or size×size×3). */
export function renderScene(labels: SceneLabels, seed: number, size: number = IMAGE_SIZE): Float32Array {
  const out = new Float32Array(size * size * 3);
  renderSceneInto(out, 0, labels, seed, size);
  return out;
}

export interface RenderBatchOptions {
  /** Concept values to draw labels from (default DEFAULT_CONCEPTS). */
  concepts?: WorldConcepts;
  /** Attributes held fixed for every image, e.g. { shape: 'star' }. */
  fixed?: Partial<SceneLabels>;
  /** Exact labels per image (length n); overrides random labels and `fixed`. */
  labels?: SceneLabels[];
  /** Write into this buffer (length ≥ n·32·32·3) instead of allocating one. */
  out?: Float32Array;
}

/** The seed of image i of a batch: independent streams for every (batch seed, index). */
export function sceneSeed(batchSeed: number, index: number): number {
  return mixSeed(batchSeed, index, 0x42415443);
}

/**
 * n scenes, deterministic in (n, seed, opts): pixels [n,32,32,3] flat, exact labels and one caption each.
 * Image i depends only on (seed, i), so a batch of 10 is the first 10 of a batch of 100.
 */
export function renderBatch(
  n: number, seed: number, opts: RenderBatchOptions = {},
): { pixels: Float32Array; labels: SceneLabels[]; captions: string[] } {
  if (!Number.isInteger(n) || n < 0) throw new Error(`renderBatch: n must be a non-negative integer, got ${n}`);
  if (opts.labels && opts.labels.length !== n) throw new Error(`renderBatch: ${opts.labels.length} labels for n=${n}`);
  const concepts = opts.concepts ? validateConcepts(opts.concepts) : DEFAULT_CONCEPTS;
  const missing = unrenderableValues(opts.labels ? {} : { ...concepts, ...(opts.fixed ?? {}) });
  if (missing.length) throw new Error(`renderBatch: no look for ${missing.join(', ')} (register it first)`);
  const pixels = opts.out ?? new Float32Array(n * PIXELS_PER_IMAGE);
  if (pixels.length < n * PIXELS_PER_IMAGE) throw new Error('renderBatch: out buffer too small');
  const labels: SceneLabels[] = [];
  const captions: string[] = [];
  for (let i = 0; i < n; i++) {
    const s = sceneSeed(seed, i);
    const l = opts.labels?.[i] ?? { ...randomScene(s, concepts), ...(opts.fixed ?? {}) };
    renderSceneInto(pixels, i * PIXELS_PER_IMAGE, l, s);
    labels.push(l);
    captions.push(captionFor(l, s));
  }
  return { pixels, labels, captions };
}
