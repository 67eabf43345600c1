// Matrix products with explicit-transpose gradients. tfjs's built-in matMul gradient uses transposed batch
// matMuls that run ~10× slower on wasm than plain 2-D matMuls (PERFORMANCE-NOTES §1).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { batchedProduct } from './batched-matmul.ts';
import { customOp } from './custom-op.ts';

/** a [M,K] @ b [K,N]; grads dA = dy·bᵀ, dB = aᵀ·dy with the transposes materialised. */
export function matMulPlain(a: Tensor2D, b: Tensor2D): Tensor2D {
  return customOp([a, b], (save) => {
    save([a, b]);
    return tf.matMul(a, b);
  }, (dy, saved) => {
    const [as, bs] = saved as [Tensor2D, Tensor2D];
    return [() => tf.matMul(dy, tf.transpose(bs)), () => tf.matMul(tf.transpose(as), dy)];
  });
}

/** Σ over rows of dy [R,N] → [N], as ones[1,R]·dy: wasm reduces over a leading axis by transposing first (~10× slower). */
export function sumRows(dy: Tensor2D): Tensor1D {
  return tf.reshape(tf.matMul(tf.ones([1, dy.shape[0]]), dy), [dy.shape[1]]);
}

/**
 * x [N,H,W,C] + v [N,C] broadcast over H and W (a resnet's time embedding); dv = Σ_{h,w} dy per sample as a
 * batched ones·dy product instead of wasm's transpose-then-reduce Sum.
 */
export function addPerSampleChannels(x: Tensor4D, v: Tensor2D): Tensor4D {
  const [n, h, w, c] = x.shape;
  return customOp([x, v], () => tf.add(x, tf.reshape(v, [n, 1, 1, c])) as Tensor4D, (dy) => [
    () => dy,
    () => tf.reshape(batchedProduct(tf.ones([n, 1, h * w]) as Tensor3D, tf.reshape(dy, [n, h * w, c]) as Tensor3D), [n, c]),
  ]);
}

/** a [M,K] @ b [K,N] + bias [N] in one fused XNNPACK call; grads as matMulPlain's, dBias = Σ_rows dy. */
export function matMulBias(a: Tensor2D, b: Tensor2D, bias: Tensor1D): Tensor2D {
  return customOp([a, b, bias], (save) => {
    save([a, b]);
    return tf.fused.matMul({ a, b, bias }) as Tensor2D;
  }, (dy, saved) => {
    const [as, bs] = saved as [Tensor2D, Tensor2D];
    return [() => tf.matMul(dy, tf.transpose(bs)), () => tf.matMul(tf.transpose(as), dy), () => sumRows(dy)];
  });
}

/** Batched a [B,M,K] @ b [B,K,N] (attention); same explicit-transpose gradients, all on the fast batched product. */
export function batchMatMul(a: Tensor3D, b: Tensor3D): Tensor3D {
  return customOp([a, b], (save) => {
    save([a, b]);
    return batchedProduct(a, b);
  }, (dy, saved) => {
    const [as, bs] = saved as [Tensor3D, Tensor3D];
    return [
      () => batchedProduct(dy, tf.transpose(bs, [0, 2, 1]) as Tensor3D),
      () => batchedProduct(tf.transpose(as, [0, 2, 1]) as Tensor3D, dy),
    ];
  });
}

/**
 * Linear layer in PyTorch layout: y = x·Wᵀ + b with W [out, in] (the layout stored in safetensors, so the
 * attribution helper's components are W's entries). x may have any leading dims.
 * Grads: dX = dy·W (no transpose), dW = dyᵀ·x; with a bias the fused product (matMulBias) on Wᵀ.
 */
function linearCore(x: Tensor2D, w: Tensor2D): Tensor2D {
  return customOp([x, w], (save) => {
    save([x, w]);
    return tf.matMul(x, tf.transpose(w));
  }, (dy, saved) => {
    const [xs, ws] = saved as [Tensor2D, Tensor2D];
    return [() => tf.matMul(dy, ws), () => tf.matMul(tf.transpose(dy), xs)];
  });
}

export function dense(x: Tensor, w: Tensor2D, b?: Tensor1D): Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1];
    const lead = x.shape.slice(0, -1);
    const x2 = tf.reshape(x, [-1, inDim]) as Tensor2D;
    const y = b ? matMulBias(x2, tf.transpose(w), b) : linearCore(x2, w);
    return tf.reshape(y, [...lead, w.shape[0]]);
  });
}
