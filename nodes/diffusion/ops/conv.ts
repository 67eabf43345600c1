// Conv2D (NHWC, SAME padding, stride 1 or 2) whose gradients are themselves convolutions, so it trains on wasm
// (no Conv2DBackpropFilter kernel there). Kernel layout [kh, kw, cin, cout] (tfjs); bias [cout].
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs';
import { matMulPlain } from './linear.ts';

/** Padding (before, after) that TF's SAME rule gives for one spatial axis. */
function samePad(size: number, k: number, stride: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + k - size, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** dW[i,j,ci,co] = Σ x_pad[n, h·s+i, w·s+j, ci]·dy[n,h,w,co], as a (dilated) conv over transposed activations. */
function convWeightGrad(x: Tensor4D, dy: Tensor4D, kh: number, kw: number, stride: number): Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const ph = samePad(h, kh, stride);
    const pw = samePad(w, kw, stride);
    const padded = ph[0] || ph[1] || pw[0] || pw[1] ? tf.pad(x, [[0, 0], ph, pw, [0, 0]]) : x;
    // Valid conv needs exactly (out-1)·s + k input rows; SAME may pad more than that on the far side.
    const [, ho, wo] = dy.shape;
    const needH = (ho - 1) * stride + kh;
    const needW = (wo - 1) * stride + kw;
    const cropped = padded.shape[1] === needH && padded.shape[2] === needW
      ? padded
      : tf.slice(padded, [0, 0, 0, 0], [-1, needH, needW, -1]);
    const xT = tf.transpose(cropped, [3, 1, 2, 0]) as Tensor4D; // [cin, H, W, n]
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as Tensor4D; // [ho, wo, n, cout]
    const g = tf.conv2d(xT, dyT, 1, 'valid', 'NHWC', stride); // [cin, kh, kw, cout]
    return tf.transpose(g, [1, 2, 0, 3]) as Tensor4D;
  });
}

/** Input gradient: a stride-1 conv with the flipped, in/out-swapped kernel, or conv2dTranspose for stride 2. */
function convInputGrad(dy: Tensor4D, w: Tensor4D, xShape: [number, number, number, number], stride: number): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = w.shape;
    if (stride === 1 && kh % 2 === 1 && kw % 2 === 1) {
      const flipped = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as Tensor4D;
      return tf.conv2d(dy, flipped, 1, 'same');
    }
    return tf.conv2dTranspose(dy, w, xShape, stride, 'same');
  });
}

/** One customGrad per stride (customGrad functions take tensors only). */
const convByStride = new Map<number, (x: Tensor4D, w: Tensor4D) => Tensor4D>();
function convWithStride(stride: number): (x: Tensor4D, w: Tensor4D) => Tensor4D {
  let f = convByStride.get(stride);
  if (!f) {
    f = tf.customGrad(((x: Tensor4D, w: Tensor4D, save: (t: Tensor[]) => void) => {
      save([x, w]);
      return {
        value: tf.conv2d(x, w, stride, 'same'),
        gradFunc: (dy: Tensor4D, saved: Tensor[]) => {
          const [xs, ws] = saved as [Tensor4D, Tensor4D];
          return [convInputGrad(dy, ws, xs.shape, stride), convWeightGrad(xs, dy, ws.shape[0], ws.shape[1], stride)];
        },
      };
    }) as any) as (x: Tensor4D, w: Tensor4D) => Tensor4D;
    convByStride.set(stride, f);
  }
  return f;
}

/**
 * conv2d(x [N,H,W,Cin], w [kh,kw,Cin,Cout], b? [Cout], stride 1|2) with SAME padding.
 * 1×1 kernels run as a matMul (faster on wasm than a conv).
 */
export function conv2d(x: Tensor4D, w: Tensor4D, b?: Tensor1D, stride: 1 | 2 = 1): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = w.shape;
    let y: Tensor4D;
    if (kh === 1 && kw === 1 && stride === 1) {
      const [n, h, wd] = x.shape;
      y = tf.reshape(matMulPlain(tf.reshape(x, [n * h * wd, cin]), tf.reshape(w, [cin, cout])), [n, h, wd, cout]);
    } else {
      y = convWithStride(stride)(x, w);
    }
    return b ? tf.add(y, b) : y;
  });
}
