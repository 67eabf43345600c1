// Views of an attribution the editor can plot, and its safetensors artifact (scores, gradients and
// magnitudes per matrix, with the component set and full provenance in the metadata).
import { serializeSafetensors, parseSafetensors } from '../diffusion/safetensors.ts';
import type { AttributionValue } from './attribution.ts';
import { describeComponentSet, type ComponentSet } from './components.ts';

export interface LayerMass {
  layer: string;
  components: number;
  positive: number;
  negative: number;
  /** Share of the set's total positive mass in this matrix. */
  positive_share: number;
}

export function layerMass(attr: AttributionValue): LayerMass[] {
  const rows = attr.set.matrices.map((m) => {
    const s = attr.scores.get(m.name)!;
    let pos = 0;
    let neg = 0;
    for (let i = 0; i < s.length; i++) {
      if (s[i]! > 0) pos += s[i]!;
      else neg += s[i]!;
    }
    return { layer: m.name, components: m.components, positive: pos, negative: neg, positive_share: 0 };
  });
  const total = rows.reduce((a, r) => a + r.positive, 0);
  rows.forEach((r) => (r.positive_share = total > 0 ? r.positive / total : 0));
  return rows;
}

export interface TopComponent {
  layer: string;
  index: number;
  /** Row and column of the weight (weight granularity) — the component index otherwise. */
  row: number;
  col: number;
  score: number;
}

export function topComponents(attr: AttributionValue, n: number, sign: 'positive' | 'negative' = 'positive'): TopComponent[] {
  const all: TopComponent[] = [];
  const byWeight = attr.set.granularity === 'weight';
  for (const m of attr.set.matrices) {
    const s = attr.scores.get(m.name)!;
    for (let i = 0; i < s.length; i++) {
      all.push({ layer: m.name, index: i, row: byWeight ? Math.floor(i / m.cols) : i, col: byWeight ? i % m.cols : -1, score: s[i]! });
    }
  }
  all.sort((a, b) => (sign === 'positive' ? b.score - a.score : a.score - b.score));
  return all.slice(0, n);
}

/** Histogram of the scores over [min, max] in `bins` equal bins. */
export function scoreHistogram(attr: AttributionValue, bins = 40): { edges: number[]; counts: number[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of attr.scores.values()) for (const v of s) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) hi = lo + 1;
  const width = (hi - lo) / bins;
  const counts = new Array(bins).fill(0);
  for (const s of attr.scores.values()) for (const v of s) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

/** The editor's view: per-layer mass, top positive/negative components, histogram, provenance. */
export function summarizeAttribution(attr: AttributionValue): Record<string, unknown> {
  return {
    objective: attr.objective,
    value: attr.value,
    components: attr.set.totalComponents,
    granularity: attr.set.granularity,
    layers: layerMass(attr),
    top_positive: topComponents(attr, 10, 'positive'),
    top_negative: topComponents(attr, 10, 'negative'),
    histogram: scoreHistogram(attr),
    provenance: attr.provenance,
  };
}

function tensorShape(set: ComponentSet, name: string): number[] {
  const m = set.matrices.find((x) => x.name === name)!;
  return set.granularity === 'weight' ? m.shape : [m.components];
}

export function serializeAttribution(attr: AttributionValue): Buffer {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const m of attr.set.matrices) {
    const shape = tensorShape(attr.set, m.name);
    tensors.set(`scores.${m.name}`, { shape, data: attr.scores.get(m.name)! });
    tensors.set(`grads.${m.name}`, { shape, data: attr.grads.get(m.name)! });
    tensors.set(`magnitude.${m.name}`, { shape, data: attr.magnitude.get(m.name)! });
  }
  return serializeSafetensors(tensors, {
    metadata: {
      format: 'cadflow.attribution',
      version: '1',
      objective: attr.objective,
      value: String(attr.value),
      component_set: JSON.stringify({ ...describeComponentSet(attr.set), heads: attr.set.heads }),
      provenance: JSON.stringify(attr.provenance),
    },
  });
}

export function parseAttribution(bytes: Uint8Array): AttributionValue {
  const file = parseSafetensors(bytes, 'attribution');
  const meta = file.metadata ?? {};
  if (meta.format !== 'cadflow.attribution') throw new Error('not a cadflow attribution file');
  const d = JSON.parse(meta.component_set!) as {
    granularity: ComponentSet['granularity']; globs: string[]; heads: number;
    matrices: { name: string; shape: number[]; components: number }[];
  };
  const matrices = d.matrices.map((m) => ({
    name: m.name, shape: m.shape, rows: m.shape[0] ?? 1, cols: m.shape.slice(1).reduce((a, b) => a * b, 1), components: m.components,
  }));
  const set: ComponentSet = {
    globs: d.globs, granularity: d.granularity, heads: d.heads, matrices,
    totalComponents: matrices.reduce((a, m) => a + m.components, 0),
    totalWeights: matrices.reduce((a, m) => a + m.rows * m.cols, 0),
  };
  const get = (prefix: string) => new Map(matrices.map((m) => [m.name, Float32Array.from(file.tensors.get(`${prefix}.${m.name}`)!.data)]));
  return {
    set, objective: meta.objective!, value: Number(meta.value), provenance: JSON.parse(meta.provenance!),
    scores: get('scores'), grads: get('grads'), magnitude: get('magnitude'),
  };
}

/** " (J_concept 12.3, J_keep 45.6)" for a composite objective's part values, else "". */
export function partsText(parts: Record<string, number> | undefined): string {
  return parts ? ` (${Object.entries(parts).map(([n, v]) => `J_${n} ${v.toPrecision(6)}`).join(', ')})` : '';
}
