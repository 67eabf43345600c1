// Baselines for Erase, each zeroing as many weights as CAD does: random components (same per-matrix count),
// top |w| (magnitude), top |Σ∇J| (gradient only), and COAR (ablate-and-regress, arXiv 2404.11534).
import { tf } from '../sdk/runtime.ts';
import type { AttributionValue, GradientHooks, Objective } from './attribution.ts';
import { buildComponentSet, expandToWeights, type ComponentSet, type ParamSource } from './components.ts';
import { randomMaskWithCounts, type MaskValue } from './masks.ts';
import { selectTopPerMatrix } from './selection.ts';
import { objectiveWithMask } from './validation.ts';
import { ridgeRegression } from './stats.ts';
import { makeRng } from '../sdk/random.ts';

export const BASELINES = ['random', 'magnitude', 'gradient', 'coar'] as const;
export type Baseline = (typeof BASELINES)[number];

function absMap(m: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...m].map(([k, v]) => [k, v.map(Math.abs)]));
}

/** Random / magnitude / gradient selections with CAD's per-matrix component counts. */
export function matchedBaselineSelection(
  kind: 'random' | 'magnitude' | 'gradient', attribution: AttributionValue,
  counts: ReadonlyMap<string, number>, seed: number,
): Map<string, Uint8Array> {
  if (kind === 'random') return randomMaskWithCounts(attribution.set, counts, seed).selected;
  const rank = kind === 'magnitude' ? attribution.magnitude : absMap(attribution.grads);
  return selectTopPerMatrix(attribution.set, rank, counts);
}

export interface CoarFit {
  /** Row-granularity set over the same matrices. */
  set: ComponentSet;
  /** Per row: fitted change of J when the row is kept rather than zeroed. Positive = the row raises J. */
  coefficients: Map<string, Float32Array>;
  masks: number;
  keepProbability: number;
  /** Fraction of the variance of J the linear fit explains on its own masks (≈ 1 whenever masks < rows). */
  r2: number;
  /** Masks held out of a second fit (the last fifth; none under 10 masks). */
  heldOutMasks: number;
  /** R² on the held-out masks, for a fit on the others (NaN when none are held out): what the fit predicts. */
  r2HeldOut: number;
  forwardEvaluations: number;
}

/**
 * COAR: N random keep-masks (each row kept with probability p), J measured for each, least squares of the
 * centred J on the standardized masks (ridge λ keeps it defined when N < rows).
 */
export async function fitCoar(
  source: ParamSource, globs: readonly string[], objective: Objective, weights: ReadonlyMap<string, tf.Tensor>,
  opts: { masks: number; keepProbability: number; seed: number; lambda?: number }, hooks: GradientHooks = {},
): Promise<CoarFit> {
  const set = buildComponentSet(source, { globs, granularity: 'row' });
  const n = opts.masks;
  const d = set.totalComponents;
  const p = opts.keepProbability;
  const rand = makeRng(opts.seed);
  const x = new Float64Array(n * d);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    hooks.throwIfAborted?.();
    const selected = new Map<string, Uint8Array>();
    let offset = 0;
    for (const m of set.matrices) {
      const ablate = new Uint8Array(m.components);
      for (let r = 0; r < m.components; r++) {
        const kept = rand() < p;
        ablate[r] = kept ? 0 : 1;
        x[i * d + offset + r] = kept ? 1 : 0;
      }
      selected.set(m.name, ablate);
      offset += m.components;
    }
    const mask: MaskValue = { set, selected, ablation: { mode: 'zero' }, drawn: { method: 'coar' }, count: 0 };
    y[i] = objectiveWithMask(objective, weights, mask);
    hooks.onPass?.(i + 1, n);
    await new Promise((r) => setImmediate(r));
  }
  const sd = standardizeColumns(x, n, d);
  const lambda = opts.lambda ?? 1e-3 * d;
  // Held out: the last fifth of the masks, predicted by a fit on the others.
  const held = n >= 10 ? Math.floor(n / 5) : 0;
  const r2HeldOut = held ? ridgeFit(x, y, n - held, d, lambda).r2On(n - held, n) : Number.NaN;
  const fit = ridgeFit(x, y, n, d, lambda);
  const beta = fit.beta;
  const coefficients = new Map<string, Float32Array>();
  let offset = 0;
  for (const m of set.matrices) {
    // Back from standardized units to "J change when the row is kept" (rows never ablated get 0).
    coefficients.set(m.name, Float32Array.from({ length: m.components }, (_, r) => {
      const k = offset + r;
      return sd[k]! > 0 ? beta[k]! / sd[k]! : 0;
    }));
    offset += m.components;
  }
  return { set, coefficients, masks: n, keepProbability: p, r2: fit.r2On(0, n), heldOutMasks: held, r2HeldOut, forwardEvaluations: n * objective.passes };
}

/**
 * Ridge fit of J on the first `rows` (standardized) masks, J centred on their mean; r2On(a, b) is the share of the
 * variance of J on masks a…b − 1 (around the fit's mean) that the fit explains.
 */
function ridgeFit(x: Float64Array, y: Float64Array, rows: number, d: number, lambda: number) {
  const mean = y.subarray(0, rows).reduce((a, b) => a + b, 0) / rows;
  const beta = ridgeRegression(x.subarray(0, rows * d), y.subarray(0, rows).map((v) => v - mean), rows, d, lambda);
  const r2On = (from: number, to: number) => {
    let ssRes = 0;
    let ssTot = 0;
    for (let i = from; i < to; i++) {
      let pred = mean;
      for (let k = 0; k < d; k++) pred += x[i * d + k]! * beta[k]!;
      ssRes += (y[i]! - pred) ** 2;
      ssTot += (y[i]! - mean) ** 2;
    }
    return ssTot > 0 ? 1 - ssRes / ssTot : Number.NaN;
  };
  return { beta, r2On };
}

/** Each column to mean 0 and standard deviation 1 over the observations (constant columns become 0); returns the sds. */
function standardizeColumns(x: Float64Array, n: number, d: number): Float64Array {
  const sds = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x[i * d + k]!;
    mean /= n;
    let varSum = 0;
    for (let i = 0; i < n; i++) varSum += (x[i * d + k]! - mean) ** 2;
    const sd = Math.sqrt(varSum / n);
    sds[k] = sd;
    for (let i = 0; i < n; i++) x[i * d + k] = sd > 0 ? (x[i * d + k]! - mean) / sd : 0;
  }
  return sds;
}

/** The rows with the largest positive COAR coefficients, taken until `weightBudget` weights are zeroed (nearest). */
export function coarSelection(fit: CoarFit, weightBudget: number): { weightMasks: Map<string, Uint8Array>; weights: number } {
  const flat: { name: string; row: number; beta: number; cols: number }[] = [];
  for (const m of fit.set.matrices) {
    const b = fit.coefficients.get(m.name)!;
    for (let r = 0; r < b.length; r++) if (b[r]! > 0) flat.push({ name: m.name, row: r, beta: b[r]!, cols: m.cols });
  }
  flat.sort((a, b) => b.beta - a.beta);
  const selected = new Map(fit.set.matrices.map((m) => [m.name, new Uint8Array(m.components)]));
  let used = 0;
  for (const c of flat) {
    // Stop where adding the next row would overshoot the budget by more than leaving it out undershoots.
    if (used + c.cols - weightBudget > weightBudget - used) break;
    selected.get(c.name)![c.row] = 1;
    used += c.cols;
  }
  return { weightMasks: expandToWeights(fit.set, selected), weights: used };
}

