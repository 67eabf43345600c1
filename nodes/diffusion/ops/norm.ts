// Group norm and layer norm with a hand-written backward pass (one fused formula instead of the many small
// broadcasting ops tfjs autodiff would emit; broadcasting element-wise ops are slow on wasm).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { customOp } from './custom-op.ts';
import { sumRows } from './linear.ts';

/**
 * Normalises each row of x [R, K] to zero mean and unit variance.
 * Backward: dx = r·(dy − mean(dy) − x̂·mean(dy·x̂)) with r = 1/√(var+eps).
 */
function normalizeRows(x: Tensor, eps: number): Tensor {
  return customOp([x], (save) => {
    const mean = tf.mean(x, 1, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), 1, true);
    const r = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(centered, r);
    save([xhat, r]);
    return xhat;
  }, (dy, [xh, rs]) => [() => {
    const meanDy = tf.mean(dy, 1, true);
    const meanDyX = tf.mean(tf.mul(dy, xh), 1, true);
    return tf.mul(rs, tf.sub(tf.sub(dy, meanDy), tf.mul(xh, meanDyX)));
  }]);
}

/** y [R,D]·γ + β; dγ = Σ_rows dy·y and dβ = Σ_rows dy as ones·(…) products (wasm's leading-axis Sum is slow). */
function affineRows(y: Tensor2D, gamma: Tensor1D, beta: Tensor1D): Tensor2D {
  return customOp([y, gamma, beta], (save) => {
    save([y, gamma]);
    return tf.add(tf.mul(y, gamma), beta) as Tensor2D;
  }, (dy, [ys, gs]) => [() => tf.mul(dy, gs), () => sumRows(tf.mul(dy, ys) as Tensor2D), () => sumRows(dy)]);
}

/** GroupNorm over x [N,H,W,C] with `groups` groups (PyTorch semantics), affine gamma/beta [C]. */
export function groupNorm(x: Tensor4D, groups: number, gamma: Tensor1D, beta: Tensor1D, eps = 1e-5): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    if (c % groups !== 0) throw new Error(`groupNorm: ${c} channels not divisible into ${groups} groups`);
    const cg = c / groups;
    // [N, HW, G, Cg] → [N, G, HW·Cg] rows; the transpose is skipped when each group is one channel block.
    let v: Tensor = tf.reshape(x, [n, h * w, groups, cg]);
    v = groups === 1 ? tf.reshape(v, [n, h * w * cg]) : tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [n * groups, h * w * cg]);
    let y = normalizeRows(v, eps);
    y = groups === 1 ? y : tf.transpose(tf.reshape(y, [n, groups, h * w, cg]), [0, 2, 1, 3]);
    return tf.reshape(affineRows(tf.reshape(y, [n * h * w, c]) as Tensor2D, gamma, beta), [n, h, w, c]) as Tensor4D;
  });
}

/** LayerNorm over the last axis of x [..., D], affine gamma/beta [D]. */
export function layerNorm(x: Tensor, gamma: Tensor1D, beta: Tensor1D, eps = 1e-5): Tensor {
  return tf.tidy(() => {
    const d = x.shape[x.rank - 1];
    const y = normalizeRows(tf.reshape(x, [-1, d]), eps);
    return tf.reshape(affineRows(y as Tensor2D, gamma, beta), x.shape);
  });
}

