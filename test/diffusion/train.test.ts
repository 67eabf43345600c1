// Training: the micro preset's loss falls; a run stopped and resumed from its checkpoint ends bit-identical to
// an uninterrupted run (weights, EMA, Adam state and the data stream all restore).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { initWeights } from '../../nodes/diffusion/model/network.ts';
import { presetConfig } from '../../nodes/diffusion/model/presets.ts';
import { FlatAdam } from '../../nodes/diffusion/ops/index.ts';
import { loadCheckpoint } from '../../nodes/diffusion/train/checkpoint.ts';
import { layoutOf, ShardGradients } from '../../nodes/diffusion/train/gradients.ts';
import { TRAIN_PRESETS } from '../../nodes/diffusion/train/presets.ts';
import { train } from '../../nodes/diffusion/train/trainer.ts';
import { loadModel } from '../../nodes/diffusion/api.ts';

beforeAll(async () => {
  await initRuntime();
});

// Generous timeouts: on the shared 2-core machine these took 70–95 s each under heavy load (≈10 s unloaded).
describe('micro preset training', { timeout: 300_000 }, () => {
  it('lowers the loss on a batch it trains on', () => {
    const cfg = presetConfig('micro');
    const w = initWeights(cfg, 1);
    const layout = layoutOf(new Map([...w].map(([k, t]) => [k, [...t.shape]])));
    const params = new Float32Array(layout.total);
    layout.names.forEach((n, i) => params.set(w.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
    tf.dispose([...w.values()]);
    const s = { ...TRAIN_PRESETS.micro, batch: 4 };
    const shard = new ShardGradients(cfg, layout, s);
    const grads = new Float32Array(layout.total);
    const adam = new FlatAdam(layout.total);
    const losses: number[] = [];
    for (let i = 0; i < 7; i++) {
      losses.push(shard.compute(params, 0, 0, 4, grads));
      adam.step(params, grads, 3e-3);
    }
    expect(losses.every(Number.isFinite), String(losses)).toBe(true);
    // Measured: 0.0845 → 0.0608 after 6 updates (0.72×); a loop that does not learn stays near 1×.
    expect(losses[losses.length - 1], String(losses)).toBeLessThan(0.8 * losses[0]);
  });

  const resumesExactly = async (workers: number) => {
    const root = mkdtempSync(join(tmpdir(), 'cadflow-train-'));
    const settings = { ...TRAIN_PRESETS.micro, batch: 2, workers, checkpointSeconds: 3600, reconstructionCheck: false };
    const run = (name: string, steps: number, resume: boolean) => train({
      settings: { ...settings, steps }, outDir: join(root, name), checkpointPath: join(root, name, 'ckpt.safetensors'),
      logPath: join(root, `${name}.log`), resume, print: () => {},
    });
    const straight = await run('a', 3, false);
    expect(straight.steps).toBe(3);
    // Each step's time splits into the shards' gradients and the optimiser after them.
    expect(straight.gradientMs).toHaveLength(3);
    straight.gradientMs.forEach((g, i) => expect(g > 0 && g <= straight.stepMs[i]!).toBe(true));
    await run('b', 2, false);
    const resumed = await run('b', 3, true);
    expect(resumed.steps).toBe(3);
    const total = layoutOf(new Map([...(await loadModel(join(root, 'a'), root)).weights()].map(([k, t]) => [k, [...t.shape]]))).total;
    const a = await loadCheckpoint(join(root, 'a', 'ckpt.safetensors'), presetConfig('micro'), total);
    const b = await loadCheckpoint(join(root, 'b', 'ckpt.safetensors'), presetConfig('micro'), total);
    expect(b.step).toBe(3);
    expect(b.adamT).toBe(3);
    expect(Buffer.from(b.params.buffer).equals(Buffer.from(a.params.buffer))).toBe(true);
    expect(Buffer.from(b.ema.buffer).equals(Buffer.from(a.ema.buffer))).toBe(true);
    expect(Buffer.from(b.adamV.buffer).equals(Buffer.from(a.adamV.buffer))).toBe(true);
    // Both halves of the parameters moved from the seeded init (a run that left some untouched would still resume exactly).
    const w0 = initWeights(presetConfig('micro'), settings.seed);
    const layout = layoutOf(new Map([...w0].map(([k, t]) => [k, [...t.shape]])));
    const init = new Float32Array(layout.total);
    layout.names.forEach((n, i) => init.set(w0.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
    tf.dispose([...w0.values()]);
    for (const [s0, e0] of [[0, total >> 1], [total >> 1, total]]) {
      expect(b.params.subarray(s0, e0).some((x, i) => x !== init[s0 + i])).toBe(true);
      expect(b.ema.subarray(s0, e0).some((x, i) => x !== init[s0 + i])).toBe(true);
      expect(b.adamV.subarray(s0, e0).some((x) => x > 0)).toBe(true);
    }
    expect(resumed.weightsSha256).toBe(straight.weightsSha256);
    await expect(loadCheckpoint(join(root, 'b', 'ckpt.safetensors'), presetConfig('tiny'), total)).rejects.toThrow(/different model config/);
  };

  it('resumes from a checkpoint to exactly the state of an uninterrupted run, and exports a loadable model', () => resumesExactly(0));

  it('on 2 training workers (shards summed through shared memory) resumes exactly too', () => resumesExactly(2));
});
