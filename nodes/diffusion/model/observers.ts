// Observers on named modules: a caller may read any named module's output, or an attention's probabilities
// (softmax(QKᵀ/√d)), during a forward, without changing it. Observers are active only inside observe(fn), which
// is synchronous (so they never leak into another caller's forward). With none active a module pays one null
// check: no pattern matching, no extra tensors.
import type { Tensor } from '@tensorflow/tfjs';

/**
 * What an observer sees: `output` is a module's output (diffusers name, e.g. `…attn2`, `…ff`, `…resnets.0`,
 * `…attn2.to_k`); `attention` is an attention module's probabilities [N, heads, H, W, L] (query position on the
 * H×W grid of its level, L = key tokens: text tokens for attn2, H·W pixels for attn1), summing to 1 over L.
 */
export type ObservedKind = 'output' | 'attention';

export interface ModuleObserver {
  /** Module names to observe: a RegExp tested against the full name, or a string that must equal it. */
  module: RegExp | string;
  kind: ObservedKind;
  /**
   * Called during the forward with the tensor (owned by the forward, disposed after the module's block: read or
   * reduce it here and tf.keep what you keep). Runs inside tf.tidy; must be synchronous.
   */
  onTensor(name: string, tensor: Tensor): void;
}

let active: readonly ModuleObserver[] | null = null;

/**
 * Runs fn (synchronous, e.g. a predictOutput call) with the observers active, nested scopes adding to the outer
 * ones; returns fn's result.
 */
export function observe<T>(observers: readonly ModuleObserver[], fn: () => T): T {
  const outer = active;
  active = observers.length === 0 ? outer : [...(outer ?? []), ...observers];
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('observe: fn must be synchronous (observers only see synchronous forwards)');
    return result;
  } finally {
    active = outer;
  }
}

function matches(o: ModuleObserver, name: string): boolean {
  // search(), unlike test(), ignores a /g pattern's lastIndex.
  return typeof o.module === 'string' ? o.module === name : name.search(o.module) !== -1;
}

/** True when some active observer wants `kind` of module `name` (for work only an observer needs). */
export function observing(name: string, kind: ObservedKind): boolean {
  return active !== null && active.some((o) => o.kind === kind && matches(o, name));
}

/** Hands `tensor` to the active observers of (name, kind); returns it unchanged. */
export function emit<T extends Tensor>(name: string, kind: ObservedKind, tensor: T): T {
  if (active === null) return tensor;
  for (const o of active) if (o.kind === kind && matches(o, name)) o.onTensor(name, tensor);
  return tensor;
}
