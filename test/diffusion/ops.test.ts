// The wasm-safe ops: custom gradients vs the cpu backend's autodiff of the plain tf ops, and vs finite differences.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import {
  addPerSampleChannels, batchMatMul, conv2d, dense, FlatAdam, gelu, groupNorm, layerNorm, pixelShuffle2, pixelUnshuffle2, silu,
  upsampleNearest2,
} from '../../nodes/diffusion/ops/index.ts';
import { customOp } from '../../nodes/diffusion/ops/custom-op.ts';

function rand(shape: number[], seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Runs f on the named backend with fresh tensors; returns the value and gradients as arrays. */
async function valueAndGrads(
  backend: string, f: (...xs: Tensor[]) => Tensor, inputs: { shape: number[]; data: Float32Array }[],
): Promise<{ value: Float32Array; grads: Float32Array[] }> {
  const prev = tf.getBackend();
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.data, i.shape));
  // A fixed random cotangent makes every output element matter.
  const probe = (...a: Tensor[]) => {
    const y = f(...a);
    return tf.sum(tf.mul(y, tf.tensor(rand(y.shape, 99), y.shape)));
  };
  const { value, grads } = tf.valueAndGrads(probe)(xs);
  const out = { value: (await value.data()) as Float32Array, grads: await Promise.all(grads.map((g) => g.data() as Promise<Float32Array>)) };
  tf.dispose([value, ...grads, ...xs]);
  await tf.setBackend(prev);
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Central finite differences of the probed scalar w.r.t. a few entries of input k. */
async function finiteDiffCheck(f: (...xs: Tensor[]) => Tensor, inputs: { shape: number[]; data: Float32Array }[], k: number, analytic: Float32Array) {
  const h = 1e-2;
  const probeScalar = (datas: Float32Array[]) => tf.tidy(() => {
    const y = f(...datas.map((d, i) => tf.tensor(d, inputs[i].shape)));
    return tf.sum(tf.mul(y, tf.tensor(rand(y.shape, 99), y.shape))).dataSync()[0];
  });
  const n = inputs[k].data.length;
  for (const idx of [0, Math.floor(n / 3), Math.floor((2 * n) / 3), n - 1]) {
    const plus = inputs.map((i) => i.data.slice());
    const minus = inputs.map((i) => i.data.slice());
    plus[k][idx] += h;
    minus[k][idx] -= h;
    const numeric = (probeScalar(plus) - probeScalar(minus)) / (2 * h);
    expect(Math.abs(numeric - analytic[idx])).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
  }
}

beforeAll(async () => {
  await initRuntime();
});

describe('ops gradients (wasm custom grads vs cpu autodiff and finite differences)', () => {
  const cases: { name: string; ours: (...xs: Tensor[]) => Tensor; ref: (...xs: Tensor[]) => Tensor; shapes: number[][] }[] = [
    {
      name: 'conv2d 3×3 stride 1',
      ours: (x, w, b) => conv2d(x as Tensor4D, w as Tensor4D, b as Tensor1D, 1),
      ref: (x, w, b) => tf.add(tf.conv2d(x as Tensor4D, w as Tensor4D, 1, 'same'), b),
      shapes: [[2, 6, 6, 3], [3, 3, 3, 4], [4]],
    },
    {
      name: 'conv2d 3×3 stride 2',
      ours: (x, w) => conv2d(x as Tensor4D, w as Tensor4D, undefined, 2),
      ref: (x, w) => tf.conv2d(x as Tensor4D, w as Tensor4D, 2, 'same'),
      shapes: [[2, 8, 8, 3], [3, 3, 3, 5]],
    },
    {
      name: 'conv2d 3×3 stride 2 with bias',
      ours: (x, w, b) => conv2d(x as Tensor4D, w as Tensor4D, b as Tensor1D, 2),
      ref: (x, w, b) => tf.add(tf.conv2d(x as Tensor4D, w as Tensor4D, 2, 'same'), b),
      shapes: [[2, 7, 7, 3], [3, 3, 3, 5], [5]],
    },
    {
      name: 'conv2d 1×1',
      ours: (x, w, b) => conv2d(x as Tensor4D, w as Tensor4D, b as Tensor1D),
      ref: (x, w, b) => tf.add(tf.conv2d(x as Tensor4D, w as Tensor4D, 1, 'same'), b),
      shapes: [[2, 4, 4, 6], [1, 1, 6, 3], [3]],
    },
    {
      name: 'dense [out,in] weight',
      ours: (x, w, b) => dense(x, w as Tensor2D, b as Tensor1D),
      ref: (x, w, b) => tf.add(tf.matMul(tf.reshape(x, [-1, 5]), w as Tensor2D, false, true), b).reshape([2, 3, 4]),
      shapes: [[2, 3, 5], [4, 5], [4]],
    },
    {
      name: 'batchMatMul',
      ours: (a, b) => batchMatMul(a as any, b as any),
      ref: (a, b) => tf.matMul(a as any, b as any),
      shapes: [[2, 3, 4], [2, 4, 5]],
    },
    {
      name: 'addPerSampleChannels',
      ours: (x, v) => addPerSampleChannels(x as Tensor4D, v as Tensor2D),
      ref: (x, v) => tf.add(x, tf.reshape(v, [2, 1, 1, 3])),
      shapes: [[2, 4, 5, 3], [2, 3]],
    },
    {
      name: 'groupNorm',
      ours: (x, g, b) => groupNorm(x as Tensor4D, 2, g as Tensor1D, b as Tensor1D),
      ref: (x, g, b) => {
        const r = tf.reshape(x, [2, 16, 2, 3]);
        const { mean, variance } = tf.moments(r, [1, 3], true);
        return tf.add(tf.mul(tf.reshape(tf.div(tf.sub(r, mean), tf.sqrt(tf.add(variance, 1e-5))), [2, 4, 4, 6]), g), b);
      },
      shapes: [[2, 4, 4, 6], [6], [6]],
    },
    {
      name: 'layerNorm',
      ours: (x, g, b) => layerNorm(x, g as Tensor1D, b as Tensor1D),
      ref: (x, g, b) => {
        const { mean, variance } = tf.moments(x, [2], true);
        return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), g), b);
      },
      shapes: [[2, 3, 8], [8], [8]],
    },
    { name: 'silu', ours: (x) => silu(tf.mul(x, 4)), ref: (x) => { const y = tf.mul(x, 4); return tf.mul(y, tf.sigmoid(y)); }, shapes: [[3, 7]] },
    {
      name: 'gelu (tanh)',
      ours: (x) => gelu(tf.mul(x, 4)),
      ref: (x) => { const y = tf.mul(x, 4); return tf.mul(tf.mul(y, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(y, tf.mul(0.044715, tf.pow(y, 3))))))); },
      shapes: [[3, 7]],
    },
    {
      name: 'pixel unshuffle/shuffle',
      ours: (x) => pixelShuffle2(tf.mul(pixelUnshuffle2(x as Tensor4D), pixelUnshuffle2(x as Tensor4D)) as Tensor4D),
      ref: (x) => tf.mul(x, x),
      shapes: [[2, 4, 6, 3]],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const inputs = c.shapes.map((shape, i) => ({ shape, data: rand(shape, 7 + i) }));
      const ours = await valueAndGrads('wasm', c.ours, inputs);
      const ref = await valueAndGrads('cpu', c.ref, inputs);
      expect(maxAbsDiff(ours.value, ref.value)).toBeLessThan(1e-4);
      ours.grads.forEach((g, k) => expect(maxAbsDiff(g, ref.grads[k])).toBeLessThan(1e-3));
      for (let k = 0; k < inputs.length; k++) await finiteDiffCheck(c.ours, inputs, k, ours.grads[k]);
    });
  }

  it('nearest 2× upsample gradient matches finite differences (cpu autodiff is wrong for it)', async () => {
    const inputs = [{ shape: [2, 3, 3, 4], data: rand([2, 3, 3, 4], 5) }];
    const f = (x: Tensor) => upsampleNearest2(x as Tensor4D);
    const ours = await valueAndGrads('wasm', f, inputs);
    // Each input pixel feeds a 2×2 block: its gradient is the sum of the cotangent over that block.
    const cot = rand([2, 6, 6, 4], 99);
    for (const [n, i, j, c] of [[0, 0, 0, 0], [1, 2, 1, 3], [0, 1, 2, 2]]) {
      let s = 0;
      for (const di of [0, 1]) for (const dj of [0, 1]) s += cot[((n * 6 + 2 * i + di) * 6 + 2 * j + dj) * 4 + c];
      expect(Math.abs(ours.grads[0][((n * 3 + i) * 3 + j) * 4 + c] - s)).toBeLessThan(1e-5);
    }
    await finiteDiffCheck(f, inputs, 0, ours.grads[0]);
  });
});

describe('customOp', () => {
  it('computes only the gradients autodiff asks for, and those right', async () => {
    await initRuntime();
    const calls = [0, 0];
    const scaledProduct = (a: Tensor, b: Tensor) => customOp([a, b], (save) => {
      save([a, b]);
      return tf.mul(a, b);
    }, (dy, [as, bs]) => [() => (calls[0]++, tf.mul(dy, bs)), () => (calls[1]++, tf.mul(dy, as))]);
    const a = tf.tensor1d([1, 2, 3]);
    const frozen = tf.tensor1d([4, 5, 6]);
    const before = tf.memory().numTensors;
    // a feeds the op through another op, so the tape keeps its path; `frozen` does not depend on a.
    const g = tf.grad((x: Tensor) => tf.sum(scaledProduct(tf.mul(x, 2), frozen)))(a);
    expect(Array.from(g.dataSync())).toEqual([8, 10, 12]);
    expect(calls).toEqual([1, 0]);
    const both = tf.grads((x: Tensor, y: Tensor) => tf.sum(scaledProduct(x, y)))([a, frozen]);
    expect(both.map((t) => Array.from(t.dataSync()))).toEqual([[4, 5, 6], [1, 2, 3]]);
    expect(calls).toEqual([2, 1]);
    tf.dispose([g, ...both]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, frozen]);
  });
});

describe('FlatAdam', () => {
  it('first step moves each parameter by lr against the gradient sign and minimises a quadratic', () => {
    const p = new Float32Array([1, -2, 3]);
    const adam = new FlatAdam(3);
    adam.step(p, new Float32Array([0.5, -4, 0]), 0.1);
    expect(p[0]).toBeCloseTo(0.9, 5);
    expect(p[1]).toBeCloseTo(-1.9, 5);
    expect(p[2]).toBeCloseTo(3, 5);
    for (let i = 0; i < 500; i++) adam.step(p, new Float32Array([2 * p[0], 2 * p[1], 2 * p[2]]), 0.05);
    for (const v of p) expect(Math.abs(v)).toBeLessThan(0.05);
  });
});
