// Observers on named modules (model/observers.ts through api.ts): shapes, probabilities, no leaks, no effect.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { configOf, encodePrompts, loadModel, observe, predictOutput, sampleImages, type ModuleObserver } from '../../nodes/diffusion/api.ts';
import type { ModelHandle } from '../../nodes/diffusion/handle.ts';
import { seededNoise } from '../../nodes/diffusion/noise.ts';
import { writeRandomMicroModel } from './fixtures.ts';

let handle: ModelHandle;
beforeAll(async () => {
  await initRuntime();
  handle = await loadModel(await writeRandomMicroModel(), '/nonexistent');
});

const CROSS = /\.attn2$/;

function forward(): Tensor4D {
  return tf.tidy(() => {
    const x = seededNoise([1, 2], [32, 32, 3], 0);
    const cond = encodePrompts(handle, ['a red heart on a black background', 'a blue star']);
    return predictOutput(handle, x, [500, 500], cond);
  });
}

describe('observe', () => {
  it('gives each cross-attention its probabilities [N, heads, H, W, L], summing to 1 over tokens', () => {
    const cfg = configOf(handle);
    const seen: { name: string; shape: number[]; sums: number[] }[] = [];
    const out = observe([{
      module: CROSS, kind: 'attention',
      onTensor: (name, p) => seen.push({ name, shape: p.shape, sums: Array.from(tf.sum(p, -1).dataSync()) }),
    }], forward);
    out.dispose();
    const names = handle.paramNames().filter((n) => n.endsWith('attn2.to_q.weight')).map((n) => n.slice(0, -'.to_q.weight'.length));
    expect(names.length).toBeGreaterThan(2);
    expect(seen.map((s) => s.name).sort()).toEqual([...names].sort());
    for (const s of seen) {
      const [n, heads, h, w, l] = s.shape;
      expect([n, heads, l]).toEqual([2, cfg.num_attention_heads, cfg.tokenizer.model_max_length]);
      expect(h).toBe(w);
      expect([16, 8, 4]).toContain(h);
      for (const v of s.sums) expect(v).toBeCloseTo(1, 5);
    }
    // The mid block sits on the lowest level's grid (16×16 after pixel-unshuffle, halved per level).
    const mid = seen.find((s) => s.name.startsWith('mid_block'))!;
    expect(mid.shape[2]).toBe(32 / 2 / 2 ** (cfg.block_out_channels.length - 1));
  });

  it('gives module outputs by exact name and by pattern, and self-attention maps over pixels', () => {
    const got = new Map<string, number[]>();
    const record: ModuleObserver['onTensor'] = (name, t) => got.set(name, t.shape);
    observe([
      { module: 'mid_block.resnets.0', kind: 'output', onTensor: record },
      { module: /^mid_block\.attentions\.0\.transformer_blocks\.0\.(attn1|ff)$/g, kind: 'output', onTensor: record },
      { module: 'mid_block.attentions.0.transformer_blocks.0.attn1', kind: 'attention', onTensor: (n, t) => got.set(`${n}:probs`, t.shape) },
    ], forward).dispose();
    const top = configOf(handle).block_out_channels.at(-1)!;
    expect(got.get('mid_block.resnets.0')).toEqual([2, 4, 4, top]);
    expect(got.get('mid_block.attentions.0.transformer_blocks.0.attn1')).toEqual([2, 16, top]);
    expect(got.get('mid_block.attentions.0.transformer_blocks.0.ff')).toEqual([2, 16, top]);
    expect(got.get('mid_block.attentions.0.transformer_blocks.0.attn1:probs')).toEqual([2, configOf(handle).num_attention_heads, 4, 4, 16]);
  });

  it('leaves the output bit-identical, leaks no tensor, and is inactive outside its scope', async () => {
    const plain = forward();
    const before = tf.memory().numTensors;
    let calls = 0;
    const kept: Tensor[] = [];
    const observed = observe([
      { module: /attn2$/, kind: 'attention', onTensor: (_n, p) => { calls++; kept.push(tf.keep(tf.sum(p, [1, 4]))); } },
      { module: /.*/, kind: 'output', onTensor: () => { calls++; } },
      { module: 'no.such.module', kind: 'output', onTensor: () => { throw new Error('unreachable'); } },
    ], forward);
    expect(calls).toBeGreaterThan(50);
    expect(tf.memory().numTensors).toBe(before + 1 + kept.length); // the output and what the observer kept
    expect(Array.from(observed.dataSync())).toEqual(Array.from(plain.dataSync()));
    tf.dispose([observed, ...kept]);
    expect(tf.memory().numTensors).toBe(before);

    const callsInScope = calls;
    forward().dispose(); // outside the scope: nobody is called
    expect(calls).toBe(callsInScope);
    plain.dispose();
    expect(() => observe([], () => Promise.resolve(1))).toThrow(/synchronous/);
  });

  it('sees every step of sampleImages on this thread, with the same images as without observers', async () => {
    const prompts = ['a red heart', 'a green circle', 'a blue star', 'a white cross', 'a red square', 'a green heart', 'a blue cross', 'a red star'];
    const seeds = prompts.map((_, i) => 10 + i);
    const opts = { steps: 3, cfg: 2, batchSize: 8 };
    const plain = await sampleImages(handle, prompts, seeds, { ...opts, workers: 0 });
    const before = tf.memory().numTensors;
    const calls: { step: number; n: number }[] = [];
    let step = 0;
    const observed = await sampleImages(handle, prompts, seeds, { ...opts, workers: 2 }, {
      observers: [{ module: 'mid_block.attentions.0.transformer_blocks.0.attn2', kind: 'attention', onTensor: (_n, p) => calls.push({ step, n: p.shape[0] }) }],
      onStep: () => { step++; },
    });
    expect(calls).toEqual([0, 1, 2].map((s) => ({ step: s, n: 2 * prompts.length }))); // CFG: conditional + unconditional rows
    expect(Array.from(observed.dataSync())).toEqual(Array.from(plain.dataSync()));
    observed.dispose();
    expect(tf.memory().numTensors).toBe(before);
    plain.dispose();
  });
});
