// Spatial rearrangements with autodiff-safe ops (rank ≤ 4 transposes; wasm's nearest-upsample gradient is right).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor4D } from '@tensorflow/tfjs';

/** Space-to-depth 2×2: [N,H,W,C] → [N,H/2,W/2,4C], channel order (dy, dx, c). */
export function pixelUnshuffle2(x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    // rows pair up: [N·H/2, 2, W/2, 2C] → [N·H/2, W/2, 2, 2C]
    const t = tf.transpose(tf.reshape(x, [n * (h / 2), 2, w / 2, 2 * c]), [0, 2, 1, 3]);
    return tf.reshape(t, [n, h / 2, w / 2, 4 * c]);
  });
}

/** Depth-to-space 2×2, the inverse of pixelUnshuffle2: [N,H,W,4C] → [N,2H,2W,C]. */
export function pixelShuffle2(x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c4] = x.shape;
    const t = tf.transpose(tf.reshape(x, [n * h, w, 2, c4 / 2]), [0, 2, 1, 3]);
    return tf.reshape(t, [n, 2 * h, 2 * w, c4 / 4]);
  });
}

/** Nearest-neighbour 2× upsample (diffusers Upsample2D's interpolate). */
export function upsampleNearest2(x: Tensor4D): Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]);
}
