// First-order attribution s = w ⊙ Σ∇J over a component set: one forward+backward pass per batch of the
// objective, gradients taken w.r.t. the component matrices by substituting them in the weights Map. Objectives
// whose passes are plain data can have their passes spread over the diffusion pack's worker threads.
import { tf } from '../sdk/runtime.ts';
import { CancelledError } from '../sdk/errors.ts';
import type { ModelConfig } from '../diffusion/model/config.ts';
import { autoSampleWorkers, samplePool, type TaskContext } from '../diffusion/parallel/sample-pool.ts';
import { aggregateToComponents, type ComponentSet } from './components.ts';

/** A scalar objective J split into batches ("passes"); J is the sum over passes. */
export interface Objective {
  readonly name: string;
  readonly passes: number;
  /**
   * J of one pass as a scalar tensor, from a weights Map (some entries substituted by the caller); with `rows`, J of
   * those rows [start, end) of the pass only.
   */
  loss(weights: ReadonlyMap<string, tf.Tensor>, pass: number, rows?: readonly [number, number]): tf.Scalar;
  /** Rows of pass p, when its J is a sum over rows: gradients then run at most GRADIENT_ROWS rows at a time. */
  rows?(pass: number): number;
  /** What the objective was built from (prompts, timesteps, seeds, ...), for provenance. */
  readonly describe: Record<string, unknown>;
  /** UNet forward/backward passes spent building it (e.g. sampling trajectories) and per gradient pass. */
  readonly cost?: { setupForwardPasses: number; forwardPassesPerPass: number };
  /** Present when a worker thread can rebuild the passes: then accumulateGradients may spread them over workers. */
  readonly portable?: PortablePasses;
  /** Present when J is a function of other objectives' J (not a sum over passes): values and gradients go through them. */
  readonly composite?: Composite;
  dispose(): void;
}

/** J = value(J_1, …, J_n) of named part objectives; ∇J = Σ slopes_i ∇J_i. */
export interface Composite {
  readonly parts: readonly Objective[];
  readonly names: readonly string[];
  value(js: readonly number[]): number;
  /** ∂J/∂J_i at the parts' values. */
  slopes(js: readonly number[]): number[];
}

/** An objective's passes as plain data, and the worker function that computes Σ∇J and J from such data. */
export interface PortablePasses {
  /** The model the passes run on (workers rebuild it from this config and the weights they are sent). */
  readonly config: ModelConfig;
  /** Module URL and export of a TaskFunction<GradientTaskArgs, PassGradients> (see gradientsInWorker). */
  readonly task: { module: string; fn: string };
  /**
   * Share `share.index` of `share.of` of pass p (its rows cut as splitParts cuts them) as structured-cloneable data;
   * undefined when that share is empty. J of a pass is the sum of J over its shares, and so is ∇J.
   */
  pass(p: number, share: { index: number; of: number }): unknown;
}

export interface GradientTaskArgs {
  names: string[];
  passes: unknown[];
}

/** Σ∇J over some passes per named weight, and their J. */
export interface PassGradients {
  grads: Map<string, Float32Array>;
  value: number;
  /** A composite objective's part values, by part name. */
  parts?: Record<string, number>;
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
  /** Throws to cancel (called before each pass, and after each pass that ran on a worker). */
  throwIfAborted?(): void;
  /** Cancels work running on worker threads at once. */
  signal?: AbortSignal;
  /**
   * Worker threads for trajectories and gradient passes (each its own wasm backend): a count, or 'auto' = the
   * sampling pool's policy (wasm in the main thread and enough work; CADFLOW_SAMPLE_WORKERS overrides).
   * Absent or 1 = this thread.
   */
  workers?: number | 'auto';
}

/** hooks.workers for `items` units of work (trajectories, (x_t, t) pairs); at least 1. */
export function workersFor(hooks: GradientHooks, items: number): number {
  return Math.max(1, hooks.workers === 'auto' ? autoSampleWorkers(items) : hooks.workers ?? 1);
}

/**
 * Rows per forward+backward pass at most. The gradient tape holds every intermediate of the UNet: on shapes-tiny
 * ~27 MB per row (8 rows peak at 236 MB of wasm heap, 4 at 127 MB), and a wasm heap never shrinks, so the rows in
 * one pass set each thread's resident memory; fewer rows pay wasm's per-op overhead more often (bench/).
 */
export const GRADIENT_ROWS = 4;

/** sum += k·g, element-wise (the gradient sums over row parts, passes, workers and a composite's parts). */
function addScaled(sum: Float32Array, g: ArrayLike<number>, k = 1): void {
  for (let j = 0; j < sum.length; j++) sum[j] += k * g[j]!;
}

/** [start, end) row ranges of pass p of at most GRADIENT_ROWS rows, or one undefined range (the whole pass). */
function rowRanges(objective: Objective, p: number): (readonly [number, number] | undefined)[] {
  const n = objective.rows?.(p);
  if (n === undefined) return [undefined];
  const ranges: [number, number][] = [];
  for (let s = 0; s < n; s += GRADIENT_ROWS) ranges.push([s, Math.min(n, s + GRADIENT_ROWS)]);
  return ranges;
}

/** J summed over passes (no gradients), from any weights Map. */
export function evaluateObjective(objective: Objective, weights: ReadonlyMap<string, tf.Tensor>): number {
  const c = objective.composite;
  if (c) return c.value(c.parts.map((part) => evaluateObjective(part, weights)));
  let total = 0;
  // Whole passes: without a tape a forward holds one UNet block's intermediates at a time (unet.ts).
  for (let p = 0; p < objective.passes; p++) {
    const v = tf.tidy(() => objective.loss(weights, p));
    total += v.dataSync()[0]!;
    v.dispose();
  }
  return total;
}

/**
 * ∇J of pass `p` w.r.t. the named weights, evaluated at `xs` (substituted for them in `weights`), plus J; a pass
 * with rows goes GRADIENT_ROWS rows at a time and its row parts' gradients are summed.
 */
export async function gradientsOfPass(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], xs: readonly tf.Tensor[], p: number,
): Promise<{ grads: Float32Array[]; value: number }> {
  let out: Float32Array[] | undefined;
  let value = 0;
  for (const rows of rowRanges(objective, p)) {
    const f = (...ts: tf.Tensor[]) => {
      const substituted = new Map(weights);
      names.forEach((n, i) => substituted.set(n, ts[i]!));
      return objective.loss(substituted, p, rows);
    };
    const { value: v, grads } = tf.valueAndGrads(f)([...xs]);
    value += (await v.data())[0]!;
    v.dispose();
    const got: Float32Array[] = [];
    for (const g of grads) {
      got.push(await g.data() as Float32Array);
      g.dispose();
    }
    if (!out) out = got;
    else out.forEach((sum, i) => addScaled(sum, got[i]!));
  }
  return { grads: out!, value };
}

/**
 * Σ over passes of ∇J w.r.t. the named weights, as Float32Arrays, plus J and the threads that ran the passes.
 * With hooks.workers and a portable objective every pass is shared out over the workers (each takes its part of the
 * pass's rows, so the rows in flight — memory — stay as on one thread) and the workers' sums are added here: equal
 * to the one-thread sums up to float rounding (the order of the sum differs).
 */
export async function accumulateGradients(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], hooks: GradientHooks = {},
): Promise<PassGradients & { workers: number }> {
  if (objective.composite) return compositeGradients(objective.composite, weights, names, hooks);
  const workers = objective.portable ? workersFor(hooks, objective.passes * (objective.cost?.forwardPassesPerPass ?? 1)) : 1;
  if (workers > 1) return gradientsOnWorkers(objective, weights, names, hooks, workers);
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
    pass.grads.forEach((g, i) => addScaled(sums[i]!, g));
    hooks.onPass?.(p + 1, objective.passes);
    // Let the event loop deliver progress and cancellation between passes.
    await new Promise((r) => setImmediate(r));
  }
  return { grads: new Map(names.map((n, i) => [n, sums[i]!])), value, workers: 1 };
}

/** ∇J of a composite objective: each part's Σ∇J (progress counted over all parts' passes), combined by its slopes. */
async function compositeGradients(
  c: Composite, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], hooks: GradientHooks,
): Promise<PassGradients & { workers: number }> {
  const total = c.parts.reduce((a, p) => a + p.passes, 0);
  let before = 0;
  const results: (PassGradients & { workers: number })[] = [];
  for (const part of c.parts) {
    const offset = before;
    results.push(await accumulateGradients(part, weights, names, { ...hooks, onPass: (d) => hooks.onPass?.(offset + d, total) }));
    before += part.passes;
  }
  const js = results.map((r) => r.value);
  const slopes = c.slopes(js);
  const grads = new Map(names.map((n) => {
    const sum = new Float32Array(weights.get(n)!.size);
    results.forEach((r, i) => addScaled(sum, r.grads.get(n)!, slopes[i]!));
    return [n, sum];
  }));
  return {
    grads, value: c.value(js), parts: Object.fromEntries(c.names.map((n, i) => [n, js[i]!])),
    workers: Math.max(...results.map((r) => r.workers)),
  };
}

/** An objective whose J is `value` of its parts' J (owns the parts). Its passes are the parts' passes in order. */
export function compositeObjective(
  name: string, describe: Record<string, unknown>, composite: Composite,
): Objective {
  const { parts } = composite;
  return {
    name,
    passes: parts.reduce((a, p) => a + p.passes, 0),
    describe,
    cost: {
      setupForwardPasses: parts.reduce((a, p) => a + (p.cost?.setupForwardPasses ?? 0), 0),
      forwardPassesPerPass: Math.max(...parts.map((p) => p.cost?.forwardPassesPerPass ?? 0)),
    },
    composite,
    loss: () => { throw new Error(`${name}: a composite objective has no per-pass J; evaluate it with evaluateObjective`); },
    dispose: () => parts.forEach((p) => p.dispose()),
  };
}

async function gradientsOnWorkers(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], hooks: GradientHooks, workers: number,
): Promise<PassGradients & { workers: number }> {
  const portable = objective.portable!;
  for (const n of names) if (!weights.has(n)) throw new Error(`model has no parameter ${n}`);
  hooks.throwIfAborted?.();
  // Worker w takes share w of every pass (those with rows for it); a pass is done once each of its shares is.
  const shares = Array.from({ length: workers }, (_, w) => {
    const ids: number[] = [];
    const passes: unknown[] = [];
    for (let p = 0; p < objective.passes; p++) {
      const data = portable.pass(p, { index: w, of: workers });
      if (data !== undefined) { ids.push(p); passes.push(data); }
    }
    return { ids, passes, reported: 0 };
  }).filter((s) => s.ids.length > 0);
  const waiting = new Array<number>(objective.passes).fill(0);
  for (const s of shares) for (const p of s.ids) waiting[p]!++;
  let done = 0;
  const pool = await samplePool(workers);
  const results = await pool.runTasks<PassGradients>(
    { config: portable.config, weights: weights as Map<string, tf.Tensor> },
    shares.map((s) => ({ ...portable.task, args: { names: [...names], passes: s.passes } satisfies GradientTaskArgs })),
    {
      signal: hooks.signal,
      onReport: (w) => {
        const share = shares[w]!;
        if (--waiting[share.ids[share.reported++]!]! > 0) return;
        hooks.onPass?.(++done, objective.passes);
        hooks.throwIfAborted?.();
      },
    },
  );
  const grads = new Map(names.map((n) => [n, new Float32Array(weights.get(n)!.size)]));
  for (const r of results) {
    for (const [n, sum] of grads) addScaled(sum, r.grads.get(n)!);
  }
  return { grads, value: results.reduce((a, r) => a + r.value, 0), workers: shares.length };
}

/** The worker side of a portable objective: Σ∇J and J over the passes it was given, one report per pass. Owns `objective`. */
export async function gradientsInWorker(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, names: readonly string[], ctx: TaskContext,
): Promise<PassGradients> {
  try {
    const { grads, value } = await accumulateGradients(objective, weights, names, {
      throwIfAborted: () => { if (ctx.signal.aborted) throw new CancelledError(); },
      onPass: () => ctx.report(null),
    });
    return { grads, value };
  } finally {
    objective.dispose();
  }
}

/** s = w ⊙ Σ∇J for every matrix of the set, aggregated to its granularity. */
export async function fitAttribution(
  set: ComponentSet, objective: Objective, weights: ReadonlyMap<string, tf.Tensor>,
  hooks: GradientHooks = {}, provenance: Record<string, unknown> = {},
): Promise<AttributionValue> {
  const names = set.matrices.map((m) => m.name);
  const { grads, value, workers, parts } = await accumulateGradients(objective, weights, names, hooks);
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
    provenance: { objective: objective.describe, cost: objective.cost, gradientWorkers: workers, ...(parts && { parts }), ...provenance },
  };
}

/**
 * The first `passes` batches of an objective (it stays owned by `objective`); of a composite, the first batches of
 * each part in proportion to its passes.
 */
export function firstPasses(objective: Objective, passes: number): Objective {
  if (passes >= objective.passes) return objective;
  const c = objective.composite;
  if (c) {
    const parts = c.parts.map((p) => firstPasses(p, Math.max(1, Math.round((passes * p.passes) / objective.passes))));
    const view = compositeObjective(objective.name, { ...objective.describe, passesUsed: passes }, { ...c, parts });
    return { ...view, dispose: () => {} };
  }
  return {
    name: objective.name,
    passes,
    describe: { ...objective.describe, passesUsed: passes },
    cost: objective.cost,
    portable: objective.portable,
    loss: (w, p, rows) => objective.loss(w, p, rows),
    ...(objective.rows && { rows: (p: number) => objective.rows!(p) }),
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
