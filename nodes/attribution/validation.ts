// Estimator validation (COAR's protocol, which the paper lacks): zero random component subsets of fraction α,
// measure the actual ΔJ on the objective's fixed inputs, and correlate it with the predicted −Σ s — beside the
// same with shuffled scores as a control.
import { tf } from '../sdk/runtime.ts';
import { evaluateObjective, predictedDrop, type AttributionValue, type GradientHooks, type Objective } from './attribution.ts';
import { ablatorsForMask, applyAblators, randomMask } from './masks.ts';
import { pearson, shuffled } from './stats.ts';
import { makeRng } from '../sdk/random.ts';

export interface ValidationPoint {
  alpha: number;
  predicted: number;
  actual: number;
  /** Prediction from the shuffled scores (control). */
  control: number;
}

export interface ValidationRow {
  alpha: number;
  masks: number;
  components: number;
  pearson: number;
  control_pearson: number;
  mean_actual: number;
  mean_predicted: number;
}

export interface ValidationResult {
  baseline: number;
  rows: ValidationRow[];
  points: ValidationPoint[];
}

/** Applies a mask's ablation to the weights, evaluates J, frees everything it made. */
export function objectiveWithMask(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, mask: Parameters<typeof ablatorsForMask>[0],
): number {
  const ablators = ablatorsForMask(mask);
  const { weights: edited, created } = applyAblators(weights, ablators);
  try {
    return evaluateObjective(objective, edited);
  } finally {
    created.forEach((t) => t.dispose());
    ablators.forEach((a) => a.dispose());
  }
}

export async function validateAttribution(
  attribution: AttributionValue, objective: Objective, weights: ReadonlyMap<string, tf.Tensor>,
  opts: { alphas: number[]; masksPerAlpha: number; seed: number }, hooks: GradientHooks = {},
): Promise<ValidationResult> {
  const set = attribution.set;
  const baseline = evaluateObjective(objective, weights);
  // Control: the same scores shuffled over the whole set, so magnitudes match but the assignment is random.
  const flat = new Float32Array(set.totalComponents);
  let o = 0;
  for (const m of set.matrices) {
    flat.set(attribution.scores.get(m.name)!, o);
    o += m.components;
  }
  const perm = shuffled(flat, makeRng(opts.seed ^ 0x5bd1e995));
  const control = new Map<string, Float32Array>();
  o = 0;
  for (const m of set.matrices) {
    control.set(m.name, perm.subarray(o, o + m.components));
    o += m.components;
  }

  const rows: ValidationRow[] = [];
  const points: ValidationPoint[] = [];
  const total = opts.alphas.length * opts.masksPerAlpha;
  let done = 0;
  for (const [ai, alpha] of opts.alphas.entries()) {
    const pts: ValidationPoint[] = [];
    let components = 0;
    for (let i = 0; i < opts.masksPerAlpha; i++) {
      hooks.throwIfAborted?.();
      const mask = randomMask(set, alpha, opts.seed + 100_003 * ai + i);
      components = mask.count;
      const actual = objectiveWithMask(objective, weights, mask) - baseline;
      pts.push({
        alpha,
        actual,
        predicted: -predictedDrop(attribution.scores, mask.selected),
        control: -predictedDrop(control, mask.selected),
      });
      hooks.onPass?.(++done, total);
      await new Promise((r) => setImmediate(r));
    }
    const actual = pts.map((p) => p.actual);
    rows.push({
      alpha,
      masks: pts.length,
      components,
      pearson: pearson(pts.map((p) => p.predicted), actual),
      control_pearson: pearson(pts.map((p) => p.control), actual),
      mean_actual: actual.reduce((a, b) => a + b, 0) / pts.length,
      mean_predicted: pts.reduce((a, p) => a + p.predicted, 0) / pts.length,
    });
    points.push(...pts);
  }
  return { baseline, rows, points };
}
