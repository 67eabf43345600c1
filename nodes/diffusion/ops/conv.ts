// Conv2D (NHWC, SAME padding, stride 1 or 2) whose gradients are themselves convolutions, so it trains on wasm
// (no Conv2DBackpropFilter kernel there). Kernel layout [kh, kw, cin, cout] (tfjs); bias [cout].
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { customOp } from './custom-op.ts';
import { matMulBias, matMulPlain, sumRows } from './linear.ts';

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

/**
 * w reversed along kh and kw, as the product with the exchange matrix over the kh·kw taps: exact (one 1 per
 * row) and ~8× faster than wasm's Reverse kernel.
 */
function flipSpatial(w: Tensor4D): Tensor4D {
  const [kh, kw, cin, cout] = w.shape;
  const taps = kh * kw;
  const exchange = tf.tensor2d(Array.from({ length: taps * taps }, (_, i) => (Math.floor(i / taps) + (i % taps) === taps - 1 ? 1 : 0)), [taps, taps]);
  return tf.reshape(tf.matMul(exchange, tf.reshape(w, [taps, cin * cout]) as Tensor2D), [kh, kw, cin, cout]);
}

/** dy [N,h,w,C] with stride − 1 zero rows and columns after each row and column: [N, h·s, w·s, C]. */
function dilate(dy: Tensor4D, stride: number): Tensor4D {
  const [n, h, w, c] = dy.shape;
  const zeros = tf.zeros([n, h, w, c]);
  const cols = tf.reshape(tf.stack([dy, ...Array(stride - 1).fill(zeros)], 3), [n, h, w * stride, c]);
  const colZeros = tf.zeros([n, h, w * stride, c]);
  return tf.reshape(tf.stack([cols, ...Array(stride - 1).fill(colZeros)], 2), [n, h * stride, w * stride, c]) as Tensor4D;
}

/**
 * Input gradient: a stride-1 conv with the flipped, in/out-swapped kernel — for stride s over dy dilated by s and
 * padded to line up with SAME's padding (2.4× faster than wasm's Conv2DBackpropInput for the UNet's downsamplers).
 * conv2dTranspose for even kernels.
 */
function convInputGrad(dy: Tensor4D, w: Tensor4D, xShape: [number, number, number, number], stride: number): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = w.shape;
    if (kh % 2 === 0 || kw % 2 === 0) return tf.conv2dTranspose(dy, w, xShape, stride, 'same');
    const flipped = tf.transpose(flipSpatial(w), [0, 1, 3, 2]) as Tensor4D;
    if (stride === 1) return tf.conv2d(dy, flipped, 1, 'same');
    // dx[p] = Σ_i dy_dilated[p + before − i]·w[i] (SAME pads `before` ahead of the input).
    const [, h, wd] = xShape;
    const [beforeH] = samePad(h, kh, stride);
    const [beforeW] = samePad(wd, kw, stride);
    const d = dilate(dy, stride);
    const padH: [number, number] = [kh - 1 - beforeH, Math.max(0, h + beforeH - d.shape[1])];
    const padW: [number, number] = [kw - 1 - beforeW, Math.max(0, wd + beforeW - d.shape[2])];
    const full = tf.conv2d(d, flipped, 1, [[0, 0], padH, padW, [0, 0]]);
    return full.shape[1] === h && full.shape[2] === wd ? full : tf.slice(full, [0, 0, 0, 0], xShape) as Tensor4D;
  });
}

/** SAME conv with hand-written gradients; each input's gradient is computed only if autodiff needs it. */
function convOp(x: Tensor4D, w: Tensor4D, b: Tensor1D | undefined, stride: 1 | 2): Tensor4D {
  return customOp(b ? [x, w, b] : [x, w], (save) => {
    save([x, w]);
    // FusedConv2D adds the bias inside XNNPACK's convolution instead of a separate broadcasting Add.
    return b ? tf.fused.conv2d({ x, filter: w, strides: stride, pad: 'same', bias: b }) : tf.conv2d(x, w, stride, 'same');
  }, (dy, saved) => {
    const [xs, ws] = saved as [Tensor4D, Tensor4D];
    return [
      () => convInputGrad(dy, ws, xs.shape, stride),
      () => convWeightGrad(xs, dy, ws.shape[0], ws.shape[1], stride),
      () => sumRows(tf.reshape(dy, [-1, dy.shape[3]]) as Tensor2D),
    ].slice(0, b ? 3 : 2);
  });
}

/**
 * conv2d(x [N,H,W,Cin], w [kh,kw,Cin,Cout], b? [Cout], stride 1|2) with SAME padding.
 * 1×1 kernels run as a matMul (faster on wasm than a conv).
 */
export function conv2d(x: Tensor4D, w: Tensor4D, b?: Tensor1D, stride: 1 | 2 = 1): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, cin, cout] = w.shape;
    if (kh === 1 && kw === 1 && stride === 1) {
      const [n, h, wd] = x.shape;
      const x2 = tf.reshape(x, [n * h * wd, cin]) as Tensor2D;
      const w2 = tf.reshape(w, [cin, cout]) as Tensor2D;
      return tf.reshape(b ? matMulBias(x2, w2, b) : matMulPlain(x2, w2), [n, h, wd, cout]);
    }
    return convOp(x, w, b, stride);
  });
}
