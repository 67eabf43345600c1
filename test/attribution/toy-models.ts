// Toy models for the attribution tests: an in-memory MODEL handle (base weights + ordered overlays, as the
// contract in nodes/diffusion/handle.ts says) and objectives on a linear model and a 2-layer MLP.
import { tf } from '../../nodes/sdk/runtime.ts';
import type { ModelHandle, WeightOverlay } from '../../nodes/diffusion/handle.ts';
import type { Objective } from '../../nodes/attribution/attribution.ts';
import { makeRng } from '../../nodes/sdk/random.ts';

export const W1 = 'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.weight';
export const W2 = 'down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.weight';
export const OTHER = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight';

export function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor {
  const rand = makeRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale), shape);
}

export function toyHandle(base: Map<string, tf.Tensor>, overlays: WeightOverlay[] = []): ModelHandle {
  let memo: Map<string, tf.Tensor> | undefined;
  const handle: ModelHandle = {
    name: 'toy',
    config: {},
    weightsHash: 'toy',
    overlays,
    key: ['toy', ...overlays.map((o) => o.id)].join('+'),
    paramNames: () => [...base.keys()],
    paramShape: (n) => base.get(n)!.shape,
    base: (n) => base.get(n)!,
    weights() {
      if (!memo) {
        memo = new Map();
        for (const [n, w] of base) {
          const touching = overlays.filter((o) => o.params.includes(n));
          memo.set(n, touching.length === 0 ? w : tf.tidy(() => touching.reduce((acc, o) => o.apply(n, acc), w)));
        }
      }
      return memo;
    },
    withOverlay: (o) => toyHandle(base, [...overlays, o]),
    withoutOverlay: (id) => toyHandle(base, overlays.filter((o) => o.id !== id)),
    dispose() {
      if (memo) for (const [n, w] of memo) if (w !== base.get(n)) w.dispose();
      memo = undefined;
    },
  };
  return handle;
}

/** Two matrices in diffusers FF names ([8,5] and [3,8]) plus one non-component matrix. */
export function toyWeights(seed = 1): Map<string, tf.Tensor> {
  return new Map([
    [W1, randomTensor([8, 5], seed)],
    [W2, randomTensor([3, 8], seed + 1)],
    [OTHER, randomTensor([5, 5], seed + 2)],
  ]);
}

/** J = Σ_batches Σ c1 ⊙ (x W1ᵀ) + Σ c2 ⊙ (h W2ᵀ): linear in every weight, so ΔJ = −Σ s exactly for any zeroing. */
export function linearObjective(passes = 2, seed = 7): Objective {
  const xs = Array.from({ length: passes }, (_, i) => randomTensor([4, 5], seed + i));
  const hs = Array.from({ length: passes }, (_, i) => randomTensor([4, 8], seed + 20 + i));
  const c1 = randomTensor([4, 8], seed + 100);
  const c2 = randomTensor([4, 3], seed + 101);
  return {
    name: 'toy-linear',
    passes,
    describe: { seed },
    loss: (w, p) => tf.tidy(() => tf.add(
      tf.sum(tf.mul(tf.matMul(xs[p]!, w.get(W1)!, false, true), c1)),
      tf.sum(tf.mul(tf.matMul(hs[p]!, w.get(W2)!, false, true), c2)),
    )),
    dispose: () => { [...xs, ...hs, c1, c2].forEach((x) => x.dispose()); },
  };
}

/** J = Σ ‖W2 tanh(W1 x) − y‖²: a non-linear 2-layer MLP. */
export function mlpObjective(passes = 2, seed = 11): Objective {
  const xs = Array.from({ length: passes }, (_, i) => randomTensor([6, 5], seed + i));
  const ys = Array.from({ length: passes }, (_, i) => randomTensor([6, 3], seed + 50 + i));
  return {
    name: 'toy-mlp',
    passes,
    describe: { seed },
    loss: (w, p) => tf.tidy(() => {
      const h = tf.tanh(tf.matMul(xs[p]!, w.get(W1)!, false, true));
      const out = tf.matMul(h, w.get(W2)!, false, true);
      return tf.sum(tf.square(tf.sub(out, ys[p]!)));
    }),
    dispose: () => { xs.forEach((x) => x.dispose()); ys.forEach((y) => y.dispose()); },
  };
}
