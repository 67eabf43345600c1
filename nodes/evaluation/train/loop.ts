// One optimisation loop for the evaluation networks: flat parameters, tf.valueAndGrads through the wasm-safe ops,
// FlatAdam, linear warm-up then cosine decay to 10%.
import type { Scalar, Tensor } from '@tensorflow/tfjs';
import { tf } from '../../sdk/runtime.ts';
import { FlatAdam } from '../../diffusion/ops/index.ts';
import { mapOf, tensorsOf, type ParamLayout } from '../params.ts';
import type { Weights } from '../networks.ts';

export interface LoopOptions {
  layout: ParamLayout;
  flat: Float32Array;
  steps: number;
  lr: number;
  warmup?: number;
  weightDecay?: number;
  /** The loss of one step's batch; runs inside tf.tidy. */
  loss(weights: Weights, step: number): Scalar;
  /** Called after each step with the loss value (e.g. to log or evaluate). */
  after?(step: number, loss: number): void | Promise<void>;
}

export function learningRate(step: number, steps: number, lr: number, warmup: number): number {
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const p = (step - warmup) / Math.max(1, steps - warmup);
  return lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export async function trainLoop(o: LoopOptions): Promise<void> {
  const adam = new FlatAdam(o.layout.size, { weightDecay: o.weightDecay ?? 0 });
  const grads = new Float32Array(o.layout.size);
  for (let step = 0; step < o.steps; step++) {
    const params = tensorsOf(o.layout, o.flat);
    const { value, grads: g } = tf.valueAndGrads((...ts: Tensor[]) => tf.tidy(() => o.loss(mapOf(o.layout, ts), step)))(params);
    g.forEach((t, i) => grads.set(t.dataSync() as Float32Array, o.layout.offsets[i]));
    const lossValue = value.dataSync()[0];
    tf.dispose([value, ...g, ...params]);
    if (!Number.isFinite(lossValue)) throw new Error(`training diverged at step ${step} (loss ${lossValue})`);
    adam.step(o.flat, grads, learningRate(step, o.steps, o.lr, o.warmup ?? 50));
    await o.after?.(step, lossValue);
  }
}
