// ESD-u-style fine-tune (Gandikota et al. 2023, "Erasing Concepts from Diffusion Models"), the contrast to CAD's
// zeroing: Adam on every UNet weight outside cross-attention, the time embedding and conv_out, towards the
// target ε(x_t, "") − η·(ε(x_t, c) − ε(x_t, "")) of the unedited model on the erase objective's (x_t, t) pairs.
// One difference from ESD, said where it is reported: x_t come from the unedited model's trajectories (fixed once)
// rather than from the model being tuned.
import { createHash } from 'node:crypto';
import { tf } from '../sdk/runtime.ts';
import type { ModelHandle, WeightOverlay } from '../diffusion/handle.ts';
import type { TableValue } from '../sdk/values.ts';
import { buildObjective, type FitPlan } from './plan.ts';
import { FlatAdam } from '../diffusion/ops/adam.ts';
import { makeRng } from '../sdk/random.ts';
import { gradientsOfPass, type GradientHooks, type Objective } from './attribution.ts';

/** What ESD-u leaves frozen: cross-attention, the time embedding, the output conv and the text encoder. */
export const ESD_U_FROZEN = /(^|\.)attn2\.|^time_embedding\.|^conv_out\.|^text_encoder\./;

export interface EsdOptions {
  steps: number;
  lr: number;
  seed: number;
}

/** Fine-tunes the ESD-u weights on `objective` (one random pass per step); returns the change per weight. */
export async function esdFineTune(
  objective: Objective, weights: ReadonlyMap<string, tf.Tensor>, o: EsdOptions, hooks: GradientHooks = {},
): Promise<{ deltas: Map<string, Float32Array>; losses: number[] }> {
  const names = [...weights.keys()].filter((n) => !ESD_U_FROZEN.test(n));
  const base = await Promise.all(names.map(async (n) => Float32Array.from(await weights.get(n)!.data())));
  const params = base.map((b) => Float32Array.from(b));
  const adams = params.map((p) => new FlatAdam(p.length));
  const rand = makeRng(o.seed);
  const losses: number[] = [];
  for (let step = 0; step < o.steps; step++) {
    hooks.throwIfAborted?.();
    const xs = names.map((n, i) => tf.tensor(params[i]!, weights.get(n)!.shape));
    try {
      const { grads, value } = await gradientsOfPass(objective, weights, names, xs, Math.floor(rand() * objective.passes));
      grads.forEach((g, i) => adams[i]!.step(params[i]!, g, o.lr));
      losses.push(value);
    } finally {
      tf.dispose(xs);
    }
    hooks.onPass?.(step + 1, o.steps);
    await new Promise((r) => setImmediate(r));
  }
  return { deltas: new Map(names.map((n, i) => [n, params[i]!.map((v, j) => v - base[i]![j]!)])), losses };
}

/** Adds fixed deltas to weights; holds no tensors (apply builds them inside the handle's tidy). */
export function deltaOverlay(deltas: ReadonlyMap<string, Float32Array>, label: string): WeightOverlay {
  const hash = createHash('sha256');
  for (const [name, d] of [...deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    hash.update(name);
    hash.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return {
    id: hash.digest('hex').slice(0, 16),
    label,
    params: [...deltas.keys()],
    apply(name, w) {
      const d = deltas.get(name);
      return d ? tf.add(w, tf.tensor(d, w.shape)) : w;
    },
  };
}

export interface EsdEraseOptions extends EsdOptions {
  /** η of the target ε("") − η·(ε(c) − ε("")). */
  guidance: number;
}

/**
 * ESD-u on the erase objective rebuilt from an erase attribution's plan (anchor "", no preserve term, η = guidance):
 * the tuned model as a delta overlay and a per-matrix report of what changed.
 */
export async function esdErase(
  model: ModelHandle, plan: FitPlan, o: EsdEraseOptions, hooks: GradientHooks & { log(m: string): void },
): Promise<{ model: ModelHandle; report: TableValue }> {
  const objective = await buildObjective(model, { ...plan, preserve: 0, anchor: 'empty', guidance: o.guidance }, hooks);
  let tuned;
  try {
    tuned = await esdFineTune(objective, model.weights(), o, hooks);
  } finally {
    objective.dispose();
  }
  const changed = [...tuned.deltas.values()].reduce((a, d) => a + d.length, 0);
  const label = `ESD-u erase '${plan.concept}' (${o.steps} steps, lr ${o.lr}, η ${o.guidance}): ${changed.toLocaleString('en-US')} weights tuned`;
  hooks.log(`${label}; loss ${tuned.losses[0]?.toFixed(3)} → ${tuned.losses.at(-1)?.toFixed(3)}`);
  const report: TableValue = {
    columns: ['layer', 'weights_tuned', 'mean_abs_change'],
    rows: [
      ...[...tuned.deltas].map(([layer, d]) => ({ layer, weights_tuned: d.length, mean_abs_change: d.reduce((a, v) => a + Math.abs(v), 0) / d.length })),
      { layer: 'total (esd)', weights_tuned: changed, mean_abs_change: null },
    ],
  };
  return { model: model.withOverlay(deltaOverlay(tuned.deltas, label)), report };
}
