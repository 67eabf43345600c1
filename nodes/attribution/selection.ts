// The Erase edit rule: which components to zero given an attribution, with the count of every choice made
// explicit (the reference code's int() truncation silently zeroed nothing on narrow rows).
import type { ComponentSet } from './components.ts';

export type Selection = 'per-row' | 'per-matrix' | 'global';
export type Sign = 'positive' | 'negative' | 'both';
export type Rounding = 'floor' | 'ceil';

export interface EraseRule {
  /** Fraction of each row (per-row), matrix (per-matrix) or the whole set (global) to zero. */
  rho: number;
  selection: Selection;
  sign: Sign;
  rounding: Rounding;
}

export interface MatrixEditReport {
  name: string;
  /** Components the rule allows in this unit: per row (per-row), per matrix (per-matrix); global: the share taken here. */
  k: number;
  /** Units the rule ranks within: rows (per-row), 1 (per-matrix, global). */
  units: number;
  /** Units where fewer components than k had the wanted sign. */
  unitsShort: number;
  /** Components actually selected in this matrix. */
  selected: number;
  components: number;
}

export interface EraseSelection {
  selected: Map<string, Uint8Array>;
  report: MatrixEditReport[];
  total: number;
}

function roundCount(x: number, rounding: Rounding): number {
  // Guard against 0.1·30 = 3.0000000000000004 turning into 4 under ceil.
  const snapped = Math.abs(x - Math.round(x)) < 1e-9 ? Math.round(x) : x;
  return rounding === 'floor' ? Math.floor(snapped) : Math.ceil(snapped);
}

function signKey(sign: Sign): (v: number) => number | null {
  if (sign === 'positive') return (v) => (v >= 0 ? v : null);
  if (sign === 'negative') return (v) => (v <= 0 ? -v : null);
  return (v) => Math.abs(v);
}

/** Indices of the top `k` by key among those the key admits (key null = not a candidate); ties by lower index. */
function topIndices(keys: (number | null)[], k: number): number[] {
  const cand: number[] = [];
  for (let i = 0; i < keys.length; i++) if (keys[i] !== null) cand.push(i);
  cand.sort((a, b) => keys[b]! - keys[a]! || a - b);
  return cand.slice(0, k);
}

/** `exclude`: components that are no candidates (already zeroed by an earlier round of an iterated edit). */
export function selectForErase(
  set: ComponentSet, scores: ReadonlyMap<string, Float32Array>, rule: EraseRule, exclude?: ReadonlyMap<string, Uint8Array>,
): EraseSelection {
  if (rule.selection === 'per-row' && set.granularity !== 'weight') {
    throw new Error(`per-row selection needs a weight-granularity attribution (this one is per ${set.granularity})`);
  }
  const key = signKey(rule.sign);
  const selected = new Map<string, Uint8Array>();
  const report: MatrixEditReport[] = [];
  const scoresOf = (name: string, len: number) => {
    const s = scores.get(name);
    if (!s || s.length !== len) throw new Error(`scores for ${name} do not match the component set`);
    return s;
  };
  const keyOf = (name: string, len: number): (i: number) => number | null => {
    const s = scoresOf(name, len);
    const ex = exclude?.get(name);
    return ex ? (i) => (ex[i] ? null : key(s[i]!)) : (i) => key(s[i]!);
  };

  if (rule.selection === 'global') {
    const k = roundCount(rule.rho * set.totalComponents, rule.rounding);
    const flat: { name: string; i: number; key: number }[] = [];
    for (const m of set.matrices) {
      const keyAt = keyOf(m.name, m.components);
      for (let i = 0; i < m.components; i++) {
        const v = keyAt(i);
        if (v !== null) flat.push({ name: m.name, i, key: v });
      }
    }
    flat.sort((a, b) => b.key - a.key);
    for (const m of set.matrices) selected.set(m.name, new Uint8Array(m.components));
    for (const c of flat.slice(0, k)) selected.get(c.name)![c.i] = 1;
    for (const m of set.matrices) {
      const n = selected.get(m.name)!.reduce((a, b) => a + b, 0);
      report.push({ name: m.name, k: n, units: 1, unitsShort: 0, selected: n, components: m.components });
    }
    const total = report.reduce((a, r) => a + r.selected, 0);
    if (total < k) report.forEach((r) => (r.unitsShort = 1));
    return { selected, report, total };
  }

  for (const m of set.matrices) {
    const keyAt = keyOf(m.name, m.components);
    const sel = new Uint8Array(m.components);
    const perRow = rule.selection === 'per-row';
    const units = perRow ? m.rows : 1;
    const width = perRow ? m.cols : m.components;
    const k = roundCount(rule.rho * width, rule.rounding);
    let unitsShort = 0;
    for (let u = 0; u < units; u++) {
      const keys: (number | null)[] = new Array(width);
      for (let j = 0; j < width; j++) keys[j] = keyAt(u * width + j);
      const top = topIndices(keys, k);
      if (top.length < k) unitsShort++;
      for (const j of top) sel[u * width + j] = 1;
    }
    selected.set(m.name, sel);
    report.push({ name: m.name, k, units, unitsShort, selected: sel.reduce((a, b) => a + b, 0), components: m.components });
  }
  return { selected, report, total: report.reduce((a, r) => a + r.selected, 0) };
}

/** Per matrix, the `counts` components ranked highest by `rank` (baselines matched to CAD's per-matrix counts). */
export function selectTopPerMatrix(
  set: ComponentSet, rank: ReadonlyMap<string, Float32Array>, counts: ReadonlyMap<string, number>,
): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const m of set.matrices) {
    const r = rank.get(m.name);
    if (!r || r.length !== m.components) throw new Error(`ranking for ${m.name} does not match the component set`);
    const sel = new Uint8Array(m.components);
    for (const i of topIndices(Array.from(r), counts.get(m.name) ?? 0)) sel[i] = 1;
    out.set(m.name, sel);
  }
  return out;
}

export function countsPerMatrix(selected: ReadonlyMap<string, Uint8Array>): Map<string, number> {
  return new Map([...selected].map(([name, s]) => [name, s.reduce((a, b) => a + b, 0)]));
}
