// First-order attribution s = w ⊙ Σ∇J over a component set: one forward+backward pass per batch of the
// objective, gradients taken w.r.t. the component matrices by substituting them in the weights Map.
import { tf } from '../sdk/runtime.ts';
import { aggregateToComponents, type ComponentSet } from './components.ts';

/** A scalar objective J split into batches ("passes"); J is the sum over passes. */
export interface Objective {
  readonly name: string;
  readonly passes: number;
  /** J of one pass as a scalar tensor, from a weights Map (some entries substituted by the caller). */
  loss(weights: ReadonlyMap<string, tf.Tensor>, pass: number): tf.Scalar;
  /** What the objective was built from (prompts, timesteps, seeds, ...), for provenance. */
  readonly describe: Record<string, unknown>;
  /** UNet forward/backward passes spent building it (e.g. sampling trajectories) and per gradient pass. */
  readonly cost?: { setupForwardPasses: number; forwardPassesPerPass: number };
  dispose(): void;
}

export interface AttributionValue {
  set: ComponentSet;
  objective: string;
  /** Per matrix, per component: s = Σ over its weights of w ⊙ Σ∇J. */
  scores: Map<string, Float32Array>;
  /** Per component: Σ∇J over its weights (the gradient-only baseline ranks by its magnitude). */
  grads: Map<string, Float32Array>;
  /** Per component: Σ|w| over its weights (the magnitude baseline). */
  magnitude: Map<string, Float32Array>;
  /** J of the unedited model (sum over passes). */
  value: number;
  provenance: Record<string, unknown>;
}

export interface GradientHooks {
  /** Called after each gradient pass. */
  onPass?(done: number, total: number): void;
  /** Throws to cancel (called before each pass). */
  throwIfAborted?(): void;
}

/** J summed over passes (no gradients), from any weights Map. */
export function evaluateObjective(objective: Objective, weights: ReadonlyMap<string, tf.Tensor>): number {
  let total = 0;
  for (let p = 0; p < objective.passes; p++) {
    const v = tf.tidy(() => objective.loss(weights, p));
    total += v.dataSync()[0]!;
    v.dispose();
  }
  return total;
}

/** ∇J of pass `p` w.r.t. the named weights, evaluated at `xs` (substituted for them in `weights`), plus J. */
export async function gradientsOfPass(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], xs: readonly tf.Tensor[], p: number,
): Promise<{ grads: Float32Array[]; value: number }> {
  const f = (...ts: tf.Tensor[]) => {
    const substituted = new Map(weights);
    names.forEach((n, i) => substituted.set(n, ts[i]!));
    return objective.loss(substituted, p);
  };
  const { value: v, grads } = tf.valueAndGrads(f)([...xs]);
  const value = (await v.data())[0]!;
  v.dispose();
  const out: Float32Array[] = [];
  for (const g of grads) {
    out.push(await g.data() as Float32Array);
    g.dispose();
  }
  return { grads: out, value };
}

/** Σ over passes of ∇J w.r.t. the named weights, as Float32Arrays, plus J. */
export async function accumulateGradients(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], hooks: GradientHooks = {},
): Promise<{ grads: Map<string, Float32Array>; value: number }> {
  const xs = names.map((n) => {
    const w = weights.get(n);
    if (!w) throw new Error(`model has no parameter ${n}`);
    return w;
  });
  const sums = xs.map((x) => new Float32Array(x.size));
  let value = 0;
  for (let p = 0; p < objective.passes; p++) {
    hooks.throwIfAborted?.();
    const pass = await gradientsOfPass(objective, weights, names, xs, p);
    value += pass.value;
    pass.grads.forEach((g, i) => {
      const sum = sums[i]!;
      for (let j = 0; j < sum.length; j++) sum[j] += g[j]!;
    });
    hooks.onPass?.(p + 1, objective.passes);
    // Let the event loop deliver progress and cancellation between passes.
    await new Promise((r) => setImmediate(r));
  }
  return { grads: new Map(names.map((n, i) => [n, sums[i]!])), value };
}

/** s = w ⊙ Σ∇J for every matrix of the set, aggregated to its granularity. */
export async function fitAttribution(
  set: ComponentSet, objective: Objective, weights: ReadonlyMap<string, tf.Tensor>,
  hooks: GradientHooks = {}, provenance: Record<string, unknown> = {},
): Promise<AttributionValue> {
  const names = set.matrices.map((m) => m.name);
  const { grads, value } = await accumulateGradients(objective, weights, names, hooks);
  const wScores = new Map<string, Float32Array>();
  const wAbs = new Map<string, Float32Array>();
  for (const n of names) {
    const w = await weights.get(n)!.data();
    const g = grads.get(n)!;
    const s = new Float32Array(g.length);
    const a = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) {
      s[i] = w[i]! * g[i]!;
      a[i] = Math.abs(w[i]!);
    }
    wScores.set(n, s);
    wAbs.set(n, a);
  }
  return {
    set,
    objective: objective.name,
    scores: aggregateToComponents(set, wScores),
    grads: aggregateToComponents(set, grads),
    magnitude: aggregateToComponents(set, wAbs),
    value,
    provenance: { objective: objective.describe, cost: objective.cost, ...provenance },
  };
}

/** The first `passes` batches of an objective (it stays owned by `objective`). */
export function firstPasses(objective: Objective, passes: number): Objective {
  if (passes >= objective.passes) return objective;
  return {
    name: objective.name,
    passes,
    describe: { ...objective.describe, passesUsed: passes },
    cost: objective.cost,
    loss: (w, p) => objective.loss(w, p),
    dispose: () => {},
  };
}

/** Σ of the scores of the selected components: the predicted drop of J when they are zeroed (ΔJ ≈ −Σ s). */
export function predictedDrop(scores: ReadonlyMap<string, Float32Array>, selected: ReadonlyMap<string, Uint8Array>): number {
  let sum = 0;
  for (const [name, sel] of selected) {
    const s = scores.get(name);
    if (!s) throw new Error(`no scores for ${name}`);
    for (let i = 0; i < sel.length; i++) if (sel[i]) sum += s[i]!;
  }
  return sum;
}
