// Diffusion figures (not pass/fail): UNet forward at batch 32 with CFG, forward+backward w.r.t. all weights at
// batch 2, a training step at batch 32 (one thread, and data-parallel on 2 worker_threads), resident memory idle
// with the model loaded and peak while sampling 64 images. With --torch, runs bench/torch_reference.py on the same
// safetensors (ε within 1e-3) and prints the ratios.
// Run: npx tsx bench/diffusion.bench.ts [--model shapes-tiny] [--torch] [--skip-train] [--skip-sample]
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime, tf } from '../nodes/sdk/runtime.ts';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { encodePrompts, loadModel, predictEps, sampleImages, tokenizerFor } from '../nodes/diffusion/api.ts';
import { resolveModelDir } from '../nodes/diffusion/model-handle.ts';
import { writeSafetensors } from '../nodes/diffusion/safetensors.ts';
import { seededNoise } from '../nodes/diffusion/noise.ts';
import { TRAIN_PRESETS } from '../nodes/diffusion/train/presets.ts';
import { train } from '../nodes/diffusion/train/trainer.ts';
import type { PresetName } from '../nodes/diffusion/model/presets.ts';
import type { BenchFigure } from './run.ts';

const MODELS = join(import.meta.dirname, '..', 'models');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeIt(f: () => Tensor | Tensor[], reps: number): Promise<number> {
  tf.dispose(f());
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = f();
    const list = Array.isArray(r) ? r : [r];
    for (const t of list) t.dataSync();
    ms.push(performance.now() - t0);
    tf.dispose(list);
  }
  return median(ms);
}

export default async function bench(argv: string[] = []): Promise<BenchFigure[]> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string', default: 'shapes-tiny' }, torch: { type: 'boolean', default: false }, 'skip-train': { type: 'boolean', default: false }, 'skip-sample': { type: 'boolean', default: false } } });
  const modelName = values.model!;
  await initRuntime();
  const rssBefore = process.memoryUsage().rss;
  const h = await loadModel(modelName, MODELS);
  const rssIdle = process.memoryUsage().rss;
  // The folder itself: a running training may re-export a bundled model while this bench runs.
  const modelDir = resolveModelDir(modelName, MODELS);
  const figures: BenchFigure[] = [];
  // Logged as soon as measured, so a run cut short still reports what it got.
  const push = (f: BenchFigure) => {
    figures.push(f);
    console.log(`  [measured] ${f.name}: ${+f.value.toPrecision(5)} ${f.unit}`);
  };

  // UNet call, 32 images with CFG (64 rows), no grad.
  const x32 = seededNoise(Array.from({ length: 64 }, (_, i) => i), [32, 32, 3]);
  const c32 = encodePrompts(h, Array.from({ length: 64 }, (_, i) => (i < 32 ? 'a red star on a striped background' : '')));
  const fwd = await timeIt(() => predictEps(h, x32, 500, c32), 5);
  push({ name: `${modelName} UNet forward, 32 images with CFG`, value: fwd, unit: 'ms' });

  // Forward + backward w.r.t. every weight, batch 2.
  const names = h.paramNames();
  const x2 = seededNoise([1, 2], [32, 32, 3]);
  const fb = await timeIt(() => {
    const { grads, value } = tf.valueAndGrads((...ws: Tensor[]) => {
      const weights = new Map(names.map((n, i) => [n, ws[i]]));
      const m = { config: h.modelConfig, weights };
      return tf.sum(tf.square(predictEps(m, x2, [300, 700], encodePrompts(m, ['a blue heart', '']))));
    })(names.map((n) => h.weights().get(n)!));
    return [value, ...grads];
  }, 5);
  push({ name: `${modelName} forward+backward (all weights), batch 2`, value: fb, unit: 'ms' });

  push({ name: 'RSS idle with the model loaded', value: rssIdle / 2 ** 20, unit: 'MiB', target: { op: '<', value: 400 } });
  push({ name: 'RSS before loading (runtime only)', value: rssBefore / 2 ** 20, unit: 'MiB' });
  // Peak RSS while sampling 64 images (25 steps, CFG 3).
  if (!values['skip-sample']) {
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    const t0 = performance.now();
    const imgs = await sampleImages(h, Array.from({ length: 64 }, () => 'a yellow circle on a dotted background'), Array.from({ length: 64 }, (_, i) => i), { steps: 25, cfg: 3 }, {
      onStep: () => { peak = Math.max(peak, process.memoryUsage().rss); },
    });
    const sampleMs = performance.now() - t0;
    clearInterval(timer);
    imgs.dispose();
    push({ name: 'sample 64 images, 25 DDIM steps, CFG 3', value: sampleMs, unit: 'ms' });
    push({ name: 'peak RSS sampling 64 images', value: peak / 2 ** 20, unit: 'MiB' });
  }
  tf.dispose([x32, c32, x2] as Tensor4D[]);

  // Training step at batch 32: one thread, then 2 worker_threads (sustained over the run, after a warm-up step).
  const preset = (modelName === 'shapes-micro' ? 'micro' : 'tiny') as PresetName;
  const root = mkdtempSync(join(tmpdir(), 'cadflow-bench-'));
  for (const workers of values['skip-train'] ? [] : [0, 2]) {
    const r = await train({
      settings: { ...TRAIN_PRESETS[preset], batch: 32, steps: 6, workers, checkpointSeconds: 1e9, reconstructionCheck: false },
      outDir: join(root, `w${workers}`), checkpointPath: join(root, `w${workers}.ckpt`), logPath: join(root, 'log'), resume: false, print: () => {},
    });
    push({ name: `training step, batch 32, ${workers ? `${workers} worker_threads` : 'one thread'}`, value: r.msPerStep, unit: 'ms', target: workers ? { op: '<', value: 500 } : undefined });
  }

  if (values.torch) {
    // cadflow's ε on fixed inputs, for the reference to reproduce within 1e-3.
    const check = join(root, 'check.safetensors');
    const n = 4;
    const prompts = ['a red star on a striped background', 'an outlined blue heart', '', 'a white cross'];
    const ts = [10, 300, 650, 990];
    const xc = seededNoise([11, 12, 13, 14], [32, 32, 3]);
    const ec = predictEps(h, xc, ts, encodePrompts(h, prompts));
    await writeSafetensors(check, {
      x: { shape: [n, 32, 32, 3], data: xc.dataSync() as Float32Array },
      t: { shape: [n], data: Float32Array.from(ts) },
      ids: { shape: [n * h.modelConfig.tokenizer.model_max_length], data: Float32Array.from(tokenizerFor(h.modelConfig).encodeBatch(prompts)) },
      eps: { shape: [n, 32, 32, 3], data: ec.dataSync() as Float32Array },
    });
    tf.dispose([xc, ec]);
    const py = spawnSync('/usr/bin/python3', [join(import.meta.dirname, 'torch_reference.py'), modelDir, check], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, encoding: 'utf8',
    });
    if (py.status !== 0) throw new Error(`torch_reference.py failed: ${py.stderr}`);
    const ref = JSON.parse(py.stdout.trim().split('\n').pop()!) as Record<string, number>;
    const ours: Record<string, number> = { forward_cfg32_ms: fwd, fwd_bwd_b2_ms: fb };
    for (const [k, v] of Object.entries(ref)) {
      if (k in ours) push({ name: `ratio cadflow/PyTorch(2 threads) ${k}`, value: ours[k] / v, unit: '×', target: { op: '<', value: 2 } });
      else if (k === 'eps_max_abs_diff') push({ name: 'max |ε cadflow − ε PyTorch|', value: v, unit: '', target: { op: '<', value: 1e-3 } });
      else push({ name: `PyTorch ${k}`, value: v, unit: 'ms' });
    }
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figs = await bench(process.argv.slice(2));
  for (const f of figs) console.log(`${f.name.padEnd(52)} ${f.value.toFixed(2)} ${f.unit}`);
}
