// The heap Transpose kernel on wasm against the cpu backend's, over random shapes, permutations and dtypes.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { reducePermutation } from '../../nodes/sdk/transpose.ts';
import { makeRng } from '../../nodes/sdk/random.ts';

function shuffled(n: number, rng: () => number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

async function transposeOn(backend: string, data: number[], shape: number[], dtype: 'float32' | 'int32' | 'bool', perm: number[]) {
  await tf.setBackend(backend);
  const x = tf.tensor(data, shape, dtype);
  const y = tf.transpose(x, perm);
  const out = { shape: y.shape, dtype: y.dtype, values: Array.from(y.dataSync()) };
  tf.dispose([x, y]);
  return out;
}

describe('heap Transpose kernel (wasm)', () => {
  beforeAll(async () => {
    await initRuntime();
  });

  it('merges adjacent axes and drops size-1 axes', () => {
    expect(reducePermutation([32, 16, 16, 8], [3, 1, 2, 0])).toEqual({ shape: [32, 256, 8], perm: [2, 1, 0] });
    expect(reducePermutation([4, 1, 5], [2, 1, 0])).toEqual({ shape: [4, 5], perm: [1, 0] });
    expect(reducePermutation([2, 3, 4], [0, 1, 2])).toEqual({ shape: [24], perm: [0] });
    expect(reducePermutation([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
    // Axes 0 and 2 are adjacent once the size-1 axis between them is dropped.
    expect(reducePermutation([3, 1, 6], [0, 1, 2])).toEqual({ shape: [18], perm: [0] });
    expect(reducePermutation([3, 1, 6], [2, 1, 0])).toEqual({ shape: [3, 6], perm: [1, 0] });
  });

  it('equals the cpu backend on random shapes, permutations and dtypes', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const rng = makeRng(7);
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + Math.floor(rng() * 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(rng() * 6));
      const perm = shuffled(rank, rng);
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3];
      const size = shape.reduce((a, b) => a * b, 1);
      const data = Array.from({ length: size }, (_, i) => (dtype === 'float32' ? rng() * 2 - 1 : dtype === 'int32' ? i - 7 : i % 3 === 0 ? 1 : 0));
      const wasm = await transposeOn('wasm', data, shape, dtype, perm);
      const cpu = await transposeOn('cpu', data, shape, dtype, perm);
      expect(wasm, `shape [${shape}] perm [${perm}] ${dtype}`).toEqual(cpu);
    }
    await tf.setBackend('wasm');
  });

  it('handles empty tensors and gradients through a transpose without leaking', async () => {
    await tf.setBackend('wasm');
    const empty = tf.transpose(tf.zeros([0, 3]), [1, 0]);
    expect(empty.shape).toEqual([3, 0]);
    empty.dispose();
    const x = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const w = tf.tensor3d(Array.from({ length: 24 }, (_, i) => (i % 5) - 2), [4, 2, 3]);
    const before = tf.memory().numTensors;
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.transpose(a, [2, 0, 1]), w)))(x);
    // d/dx Σ transpose(x)·w = w transposed back: g[i,j,k] = w[k,i,j].
    expect(Array.from(g.dataSync())).toEqual(Array.from(tf.transpose(w, [1, 2, 0]).dataSync()));
    g.dispose();
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, w]);
  });
});
