// Model folder loading (clear errors), diffusers names, handle overlays, and gradients w.r.t. FF weights.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { encodePrompts, loadModel, predictEps, predictOutput, schedulerFor } from '../../nodes/diffusion/api.ts';
import type { WeightOverlay } from '../../nodes/diffusion/handle.ts';
import { seededNoise } from '../../nodes/diffusion/noise.ts';
import { writeRandomMicroModel } from './fixtures.ts';

let dir: string;
beforeAll(async () => {
  await initRuntime();
  dir = await writeRandomMicroModel();
});

function copyModel(name: string): string {
  const to = join(dir, '..', name);
  mkdirSync(to, { recursive: true });
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(dir, f), join(to, f));
  return to;
}

describe('loadModel', () => {
  it('loads a folder, exposes diffusers names with FF components at two widths', async () => {
    const h = await loadModel(dir, '/nonexistent');
    expect(h.weightsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(h.key).toBe(h.weightsHash);
    const names = h.paramNames();
    for (const n of ['conv_in.weight', 'time_embedding.linear_1.weight', 'down_blocks.0.resnets.0.conv1.weight',
      'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight', 'down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight',
      'mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight', 'up_blocks.0.resnets.1.conv_shortcut.weight', 'conv_out.weight',
      'text_encoder.text_model.embeddings.token_embedding.weight']) {
      expect(names).toContain(n);
    }
    const ffWidths = new Set(names.filter((n) => n.endsWith('ff.net.2.weight')).map((n) => h.paramShape(n)[0]));
    expect(ffWidths.size).toBeGreaterThanOrEqual(2);
    const proj = names.find((n) => n.endsWith('ff.net.0.proj.weight'))!;
    const [out, inp] = h.paramShape(proj);
    expect(out).toBe(8 * inp);
  });

  it('gives clear errors for missing, corrupt and mismatched model files', async () => {
    await expect(loadModel('no-such-model', dir)).rejects.toThrow(/no bundled model "no-such-model"/);
    await expect(loadModel(join(dir, 'nope'), dir)).rejects.toThrow(/does not exist/);
    const noWeights = join(dir, '..', 'no-weights');
    mkdirSync(noWeights, { recursive: true });
    copyFileSync(join(dir, 'config.json'), join(noWeights, 'config.json'));
    await expect(loadModel(noWeights, dir)).rejects.toThrow(/has no model.safetensors/);

    const corrupt = copyModel('corrupt');
    const bytes = readFileSync(join(corrupt, 'model.safetensors'));
    writeFileSync(join(corrupt, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    await expect(loadModel(corrupt, dir)).rejects.toThrow(/model.safetensors/);

    const mismatched = copyModel('mismatched');
    const cfg = JSON.parse(readFileSync(join(mismatched, 'config.json'), 'utf8'));
    cfg.block_out_channels = [16, 24, 40];
    writeFileSync(join(mismatched, 'config.json'), JSON.stringify(cfg));
    await expect(loadModel(mismatched, dir)).rejects.toThrow(/does not match config.json/);

    const badConfig = copyModel('bad-config');
    writeFileSync(join(badConfig, 'config.json'), '{"_class_name": "UNet2DConditionModel"}');
    await expect(loadModel(badConfig, dir)).rejects.toThrow(/block_out_channels/);
  });
});

describe('ModelHandle overlays', () => {
  it('applies overlays in order, memoises, keys by overlay ids, and never edits the base', async () => {
    const h = await loadModel(dir, dir);
    const name = h.paramNames().find((n) => n.endsWith('ff.net.2.weight'))!;
    const before = h.base(name).dataSync().slice();
    const zero: WeightOverlay = { id: 'zero', label: 'zero', params: [name], apply: (_n, w) => tf.zerosLike(w) };
    const plusOne: WeightOverlay = { id: 'plus1', label: '+1', params: [name], apply: (_n, w) => tf.add(w, 1) };
    const edited = h.withOverlay(zero).withOverlay(plusOne);
    expect(edited.key).toBe(`${h.weightsHash}+zero+plus1`);
    const w = edited.weights().get(name)!;
    expect(edited.weights().get(name)).toBe(w);
    expect([...new Set(w.dataSync())]).toEqual([1]);
    expect(h.weights().get(name)).toBe(h.base(name));
    const back = edited.withoutOverlay('plus1');
    expect([...new Set(back.weights().get(name)!.dataSync())]).toEqual([0]);
    edited.dispose();
    back.dispose();
    expect(h.base(name).dataSync()).toEqual(before);
    expect(() => h.withOverlay({ ...zero, params: ['nope.weight'] })).toThrow(/no parameter "nope.weight"/);
  });
});

describe('predictEps', () => {
  it('is the ε derived from v, and is differentiable w.r.t. substituted FF weights (matches finite differences)', async () => {
    const h = await loadModel(dir, dir);
    const names = h.paramNames().filter((n) => /transformer_blocks\.\d+\.ff\.net\.(0\.proj|2)\.weight$/.test(n));
    expect(names.length).toBeGreaterThanOrEqual(4);
    const xt = seededNoise([1, 2], [32, 32, 3]);
    const cond = encodePrompts(h, ['a red star', '']);
    const t = [300, 700];
    const eps = predictEps(h, xt, t, cond);
    const v = predictOutput(h, xt, t, cond);
    const ref = schedulerFor(h).epsFromOutput(v, xt, t);
    expect(tf.max(tf.abs(tf.sub(eps, ref))).dataSync()[0]).toBeLessThan(1e-6);

    const J = (ws: Tensor[]) => {
      const weights = new Map(h.weights());
      names.forEach((n, i) => weights.set(n, ws[i]));
      return tf.sum(tf.square(predictEps({ config: h.modelConfig, weights }, xt, t, cond)));
    };
    const base = names.map((n) => h.weights().get(n)!);
    const grads = tf.grads((...ws: Tensor[]) => J(ws))(base);
    const k = names.length - 1;
    const g = grads[k].dataSync();
    let idx = 0;
    for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[idx])) idx = i;
    expect(Math.abs(g[idx])).toBeGreaterThan(0);
    const h0 = 1e-2;
    const shifted = (d: number) => tf.tidy(() => {
      const delta = tf.buffer(base[k].shape);
      delta.values[idx] = d;
      const ws = base.map((w, i) => (i === k ? tf.add(w, delta.toTensor()) : w));
      return J(ws).dataSync()[0];
    });
    const numeric = (shifted(h0) - shifted(-h0)) / (2 * h0);
    expect(Math.abs(numeric - g[idx])).toBeLessThan(0.05 * Math.abs(g[idx]) + 1e-2);
    tf.dispose([xt, cond, eps, v, ref, ...grads] as Tensor4D[]);
  });
});
