// SiLU and GELU with closed-form gradients; no tf.pow (4–9× slower than multiplies on wasm).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor } from '@tensorflow/tfjs';

/** silu(x) = x·σ(x); d/dx = σ + x·σ·(1−σ). */
export const silu = tf.customGrad(((x: Tensor, save: (t: Tensor[]) => void) => {
  const s = tf.sigmoid(x);
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: Tensor, [xs, ss]: Tensor[]) =>
      tf.mul(dy, tf.mul(ss, tf.add(1, tf.mul(xs, tf.sub(1, ss))))),
  };
}) as any) as (x: Tensor) => Tensor;

const K = Math.sqrt(2 / Math.PI);
const C = 0.044715;

/** GELU, tanh approximation (PyTorch `gelu(approximate='tanh')`): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export const gelu = tf.customGrad(((x: Tensor, save: (t: Tensor[]) => void) => {
  const x2 = tf.mul(x, x);
  const inner = tf.mul(tf.mul(x, tf.add(1, tf.mul(x2, C))), K);
  const th = tf.tanh(inner);
  save([x, x2, th]);
  return {
    value: tf.mul(tf.mul(x, 0.5), tf.add(th, 1)),
    gradFunc: (dy: Tensor, [xs, x2s, ths]: Tensor[]) => {
      // d/dx = 0.5(1+th) + 0.5·x·(1−th²)·K·(1 + 3C·x²)
      const sech2 = tf.sub(1, tf.mul(ths, ths));
      const dInner = tf.mul(tf.add(tf.mul(x2s, 3 * C), 1), K);
      const d = tf.add(tf.mul(tf.add(ths, 1), 0.5), tf.mul(tf.mul(tf.mul(xs, 0.5), sech2), dInner));
      return tf.mul(dy, d);
    },
  };
}) as any) as (x: Tensor) => Tensor;
