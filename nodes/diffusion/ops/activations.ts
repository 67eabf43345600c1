// SiLU and GELU with closed-form gradients; no tf.pow (4–9× slower than multiplies on wasm).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor } from '@tensorflow/tfjs';
import { customOp } from './custom-op.ts';

/** silu(x) = x·σ(x); d/dx = σ + x·σ·(1−σ). */
export function silu(x: Tensor): Tensor {
  return customOp([x], (save) => {
    const s = tf.sigmoid(x);
    save([x, s]);
    return tf.mul(x, s);
  }, (dy, [xs, ss]) => [() => tf.mul(dy, tf.mul(ss, tf.add(1, tf.mul(xs, tf.sub(1, ss)))))]);
}

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/**
 * GELU, tanh approximation (PyTorch `gelu(approximate='tanh')`): 0.5·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³),
 * computed as the identical x·σ(2u): wasm's Tanh costs ~25 ns an element, Sigmoid ~1.5.
 * d/dx = s + x·s·(1−s)·2u', s = σ(2u), 2u' = 2K·(1 + 3C·x²).
 */
export function gelu(x: Tensor): Tensor {
  return customOp([x], (save) => {
    const x2 = tf.square(x);
    const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, 2 * K * C), 2 * K)));
    save([x, x2, s]);
    return tf.mul(x, s);
  }, (dy, [xs, x2s, ss]) => [() => {
    const du2 = tf.add(tf.mul(x2s, 6 * K * C), 2 * K);
    return tf.mul(dy, tf.add(ss, tf.mul(tf.mul(xs, tf.mul(ss, tf.sub(1, ss))), du2)));
  }]);
}
