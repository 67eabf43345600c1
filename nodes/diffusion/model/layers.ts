// Building blocks with diffusers/PyTorch parameter names and layouts: Linear [out,in], Conv2d [out,in,kh,kw],
// GroupNorm/LayerNorm weight+bias, attention (to_q/to_k/to_v/to_out.0), GEGLU feed-forward. Every named module's
// output (and an attention's probabilities) goes past the active observers (observers.ts).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { batchMatMul, conv2d, dense, gelu, groupNorm, layerNorm } from '../ops/index.ts';
import { emit, observing } from './observers.ts';
import type { ParamSource } from './params.ts';

export function linear(p: ParamSource, name: string, x: Tensor, inDim: number, outDim: number, bias = true): Tensor {
  const w = p.get(`${name}.weight`, [outDim, inDim], { kind: 'uniform', fanIn: inDim }) as Tensor2D;
  const b = bias ? (p.get(`${name}.bias`, [outDim], { kind: 'uniform', fanIn: inDim }) as Tensor1D) : undefined;
  return emit(name, 'output', dense(x, w, b));
}

/** Conv2d in PyTorch layout [out,in,kh,kw] (as stored), transposed to tfjs's [kh,kw,in,out] at use. */
export function conv(p: ParamSource, name: string, x: Tensor4D, inCh: number, outCh: number, k: number, stride: 1 | 2 = 1): Tensor4D {
  const fanIn = inCh * k * k;
  const w = p.get(`${name}.weight`, [outCh, inCh, k, k], { kind: 'uniform', fanIn }) as Tensor4D;
  const b = p.get(`${name}.bias`, [outCh], { kind: 'uniform', fanIn }) as Tensor1D;
  return emit(name, 'output', conv2d(x, tf.transpose(w, [2, 3, 1, 0]) as Tensor4D, b, stride));
}

export function gnorm(p: ParamSource, name: string, x: Tensor4D, groups: number, eps: number): Tensor4D {
  const c = x.shape[3];
  const g = p.get(`${name}.weight`, [c], { kind: 'ones' }) as Tensor1D;
  const b = p.get(`${name}.bias`, [c], { kind: 'zeros' }) as Tensor1D;
  return emit(name, 'output', groupNorm(x, groups, g, b, eps));
}

export function lnorm(p: ParamSource, name: string, x: Tensor, eps: number): Tensor {
  const d = x.shape[x.rank - 1];
  const g = p.get(`${name}.weight`, [d], { kind: 'ones' }) as Tensor1D;
  const b = p.get(`${name}.bias`, [d], { kind: 'zeros' }) as Tensor1D;
  return emit(name, 'output', layerNorm(x, g, b, eps));
}

/**
 * Scaled dot-product attention of q [N,S,D] over k,v [N,L,D] with `heads` heads; `onProbs` (when given) sees
 * the probabilities [N·heads, S, L].
 */
export function attend(q: Tensor3D, k: Tensor3D, v: Tensor3D, heads: number, onProbs?: (probs: Tensor3D) => void): Tensor3D {
  const [n, s, d] = q.shape;
  const l = k.shape[1];
  const dh = d / heads;
  const split = (t: Tensor3D, len: number) =>
    heads === 1 ? t : (tf.reshape(tf.transpose(tf.reshape(t, [n, len, heads, dh]), [0, 2, 1, 3]), [n * heads, len, dh]) as Tensor3D);
  const qh = split(q, s);
  const kT = tf.transpose(split(k, l), [0, 2, 1]) as Tensor3D;
  const scores = tf.mul(batchMatMul(qh, kT), 1 / Math.sqrt(dh)) as Tensor3D;
  const probs = tf.softmax(scores) as Tensor3D;
  onProbs?.(probs);
  const out = batchMatMul(probs, split(v, l));
  return heads === 1 ? out : (tf.reshape(tf.transpose(tf.reshape(out, [n, heads, s, dh]), [0, 2, 1, 3]), [n, s, d]) as Tensor3D);
}

/**
 * diffusers Attention: to_q/to_k/to_v without bias, to_out.0 with bias; context = x for self-attention. The
 * queries sit on a grid [H, W] (H·W = x's length), the shape observers of its probabilities get.
 */
export function attention(
  p: ParamSource, name: string, x: Tensor3D, context: Tensor3D | null, dim: number, ctxDim: number, heads: number, grid: [number, number],
): Tensor3D {
  const ctx = context ?? x;
  const cd = context ? ctxDim : dim;
  const q = linear(p, `${name}.to_q`, x, dim, dim, false) as Tensor3D;
  const k = linear(p, `${name}.to_k`, ctx, cd, dim, false) as Tensor3D;
  const v = linear(p, `${name}.to_v`, ctx, cd, dim, false) as Tensor3D;
  const onProbs = observing(name, 'attention')
    ? (probs: Tensor3D) => emit(name, 'attention', tf.reshape(probs, [x.shape[0], heads, grid[0], grid[1], ctx.shape[1]]))
    : undefined;
  return emit(name, 'output', linear(p, `${name}.to_out.0`, attend(q, k, v, heads, onProbs), dim, dim) as Tensor3D);
}

/**
 * diffusers FeedForward with GEGLU: net.0.proj [2·4d, d] → hidden·gelu(gate) → net.2 [d, 4d]. The projection's
 * weight is split (hidden rows, gate rows) rather than its output: splitting a small weight is cheap, while wasm
 * slices a wide activation along its last axis element by element.
 */
export function feedForward(p: ParamSource, name: string, x: Tensor, dim: number): Tensor {
  const inner = 4 * dim;
  const w = p.get(`${name}.net.0.proj.weight`, [2 * inner, dim], { kind: 'uniform', fanIn: dim }) as Tensor2D;
  const b = p.get(`${name}.net.0.proj.bias`, [2 * inner], { kind: 'uniform', fanIn: dim }) as Tensor1D;
  const [wHidden, wGate] = tf.split(w, 2, 0) as [Tensor2D, Tensor2D];
  const [bHidden, bGate] = tf.split(b, 2, 0) as [Tensor1D, Tensor1D];
  return emit(name, 'output', linear(p, `${name}.net.2`, tf.mul(dense(x, wHidden, bHidden), gelu(dense(x, wGate, bGate))), inner, dim));
}
