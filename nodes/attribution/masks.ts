// Component masks (the MASK socket value) and ablation as a removable WeightOverlay on the MODEL handle.
// The same ablation code edits a weights Map directly for validation and COAR, so what is measured there is
// exactly what an overlay does to the model.
import { createHash } from 'node:crypto';
import { tf } from '../sdk/runtime.ts';
import type { WeightOverlay } from '../diffusion/handle.ts';
import { expandToWeights, type ComponentSet } from './components.ts';
import { sampleIndices } from './stats.ts';
import { makeRng } from '../sdk/random.ts';

export type Ablation = { mode: 'zero' } | { mode: 'mean' } | { mode: 'scale'; k: number };

export interface MaskValue {
  set: ComponentSet;
  /** Per matrix, 1 for each ablated component (component-level, length = matrix.components). */
  selected: Map<string, Uint8Array>;
  ablation: Ablation;
  /** How it was drawn, for provenance and display. */
  drawn: Record<string, unknown>;
  /** Ablated components in total. */
  count: number;
}

function emptySelection(set: ComponentSet): Map<string, Uint8Array> {
  return new Map(set.matrices.map((m) => [m.name, new Uint8Array(m.components)]));
}

/** Locates flat component index `g` of the whole set (matrices in set order). */
function locate(set: ComponentSet, g: number): { name: string; index: number } {
  let offset = 0;
  for (const m of set.matrices) {
    if (g < offset + m.components) return { name: m.name, index: g - offset };
    offset += m.components;
  }
  throw new Error(`component ${g} out of range (${set.totalComponents})`);
}

function countSelected(sel: ReadonlyMap<string, Uint8Array>): number {
  let n = 0;
  for (const s of sel.values()) for (let i = 0; i < s.length; i++) n += s[i]!;
  return n;
}

/** Exactly round(α · total) components drawn uniformly over the whole set (seeded). */
export function randomMask(set: ComponentSet, alpha: number, seed: number, ablation: Ablation = { mode: 'zero' }): MaskValue {
  const count = Math.round(alpha * set.totalComponents);
  const selected = emptySelection(set);
  for (const g of sampleIndices(set.totalComponents, count, makeRng(seed))) {
    const { name, index } = locate(set, g);
    selected.get(name)![index] = 1;
  }
  return { set, selected, ablation, drawn: { method: 'random', alpha, seed }, count };
}

/** Given per-matrix counts, that many components drawn uniformly inside each matrix (the "random, same count" control). */
export function randomMaskWithCounts(
  set: ComponentSet, counts: ReadonlyMap<string, number>, seed: number, ablation: Ablation = { mode: 'zero' },
): MaskValue {
  const rand = makeRng(seed);
  const selected = emptySelection(set);
  for (const m of set.matrices) {
    const sel = selected.get(m.name)!;
    for (const i of sampleIndices(m.components, counts.get(m.name) ?? 0, rand)) sel[i] = 1;
  }
  return { set, selected, ablation, drawn: { method: 'random-same-count', seed }, count: countSelected(selected) };
}

/** Explicit components, each as "<param name>:<component index>". */
export function explicitMask(set: ComponentSet, list: readonly string[], ablation: Ablation = { mode: 'zero' }): MaskValue {
  const selected = emptySelection(set);
  for (const item of list) {
    const at = item.lastIndexOf(':');
    const name = item.slice(0, at);
    const index = Number(item.slice(at + 1));
    const sel = selected.get(name);
    if (at < 0 || !sel) throw new Error(`"${item}" names no matrix of the component set`);
    if (!Number.isInteger(index) || index < 0 || index >= sel.length) {
      throw new Error(`"${item}": index must be an integer in [0, ${sel.length})`);
    }
    sel[index] = 1;
  }
  return { set, selected, ablation, drawn: { method: 'list', list: [...list] }, count: countSelected(selected) };
}

/** The k components with the highest (sign positive), lowest (negative) or largest-magnitude (both) score. */
export function topKMask(
  set: ComponentSet, scores: ReadonlyMap<string, Float32Array>, k: number,
  sign: 'positive' | 'negative' | 'both', ablation: Ablation = { mode: 'zero' },
): MaskValue {
  const key = (v: number) => (sign === 'positive' ? v : sign === 'negative' ? -v : Math.abs(v));
  const flat: { name: string; index: number; key: number }[] = [];
  for (const m of set.matrices) {
    const s = scores.get(m.name);
    if (!s || s.length !== m.components) throw new Error(`scores for ${m.name} do not match the component set`);
    for (let i = 0; i < s.length; i++) flat.push({ name: m.name, index: i, key: key(s[i]!) });
  }
  flat.sort((a, b) => b.key - a.key);
  const selected = emptySelection(set);
  for (const c of flat.slice(0, Math.min(k, flat.length))) selected.get(c.name)![c.index] = 1;
  return { set, selected, ablation, drawn: { method: 'top-k', k, sign }, count: countSelected(selected) };
}

/** One parameter's ablation: holds the single tensor it needs, applies it to any weight of that shape. */
export interface WeightAblator {
  apply(w: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** `weightMask` is 1 for each ablated weight (row-major over the parameter's shape). */
export function makeAblator(weightMask: Uint8Array, shape: number[], ablation: Ablation): WeightAblator {
  const ablated = Float32Array.from(weightMask);
  if (ablation.mode === 'mean') {
    // w·keep + mask·mean(w): ablated weights take the matrix mean.
    const mask = tf.tensor(ablated, shape);
    const keep = tf.tidy(() => tf.sub(1, mask));
    return {
      apply: (w) => tf.tidy(() => tf.add(tf.mul(w, keep), tf.mul(mask, tf.mean(w)))),
      dispose: () => { mask.dispose(); keep.dispose(); },
    };
  }
  const k = ablation.mode === 'scale' ? ablation.k : 0;
  const factor = new Float32Array(ablated.length);
  for (let i = 0; i < factor.length; i++) factor[i] = ablated[i] ? k : 1;
  const f = tf.tensor(factor, shape);
  return { apply: (w) => tf.mul(w, f), dispose: () => f.dispose() };
}

/** Weight-level ablators for a mask, one per matrix that has anything ablated. */
export function ablatorsForMask(mask: MaskValue): Map<string, WeightAblator> {
  const weightMasks = expandToWeights(mask.set, mask.selected);
  const out = new Map<string, WeightAblator>();
  for (const m of mask.set.matrices) {
    const wm = weightMasks.get(m.name);
    if (!wm || !wm.some((v) => v)) continue;
    out.set(m.name, makeAblator(wm, m.shape, mask.ablation));
  }
  return out;
}

/** A weights Map with the ablators applied (new tensors for ablated params, the originals otherwise). */
export function applyAblators(
  weights: ReadonlyMap<string, tf.Tensor>, ablators: ReadonlyMap<string, WeightAblator>,
): { weights: Map<string, tf.Tensor>; created: tf.Tensor[] } {
  const out = new Map(weights);
  const created: tf.Tensor[] = [];
  for (const [name, ab] of ablators) {
    const w = weights.get(name);
    if (!w) throw new Error(`model has no parameter ${name}`);
    const edited = ab.apply(w);
    created.push(edited);
    out.set(name, edited);
  }
  return { weights: out, created };
}

/**
 * Weight-level masks (1 = ablated) as an overlay. It holds no tensors: apply() builds its factor inside the
 * handle's tidy, so an overlay can be shared by any number of handles and never needs freeing.
 */
export function weightMaskOverlay(
  weightMasks: ReadonlyMap<string, Uint8Array>, shapes: ReadonlyMap<string, number[]>, ablation: Ablation, label: string,
): WeightOverlay {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(ablation));
  const masks = new Map<string, Uint8Array>();
  for (const [name, wm] of [...weightMasks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!wm.some((v) => v)) continue;
    hash.update(name);
    hash.update(wm);
    masks.set(name, wm);
  }
  return {
    id: hash.digest('hex').slice(0, 16),
    label,
    params: [...masks.keys()],
    apply(name, w) {
      const wm = masks.get(name);
      if (!wm) return w;
      const ab = makeAblator(wm, shapes.get(name)!, ablation);
      try {
        return ab.apply(w);
      } finally {
        ab.dispose();
      }
    },
  };
}

function matrixShapes(set: ComponentSet): Map<string, number[]> {
  return new Map(set.matrices.map((m) => [m.name, m.shape]));
}

export function maskOverlay(mask: MaskValue, label?: string): WeightOverlay {
  const text = label ?? `mask ${String(mask.drawn.method)}: ${mask.count} ${mask.set.granularity} components ${mask.ablation.mode}`;
  return weightMaskOverlay(expandToWeights(mask.set, mask.selected), matrixShapes(mask.set), mask.ablation, text);
}

/** Zeroes the given weights of a component set's matrices (what Erase and its rounds apply). */
export function zeroOverlay(set: ComponentSet, weightMasks: ReadonlyMap<string, Uint8Array>, label: string): WeightOverlay {
  return weightMaskOverlay(weightMasks, matrixShapes(set), { mode: 'zero' }, label);
}
