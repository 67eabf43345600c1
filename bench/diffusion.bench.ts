// Diffusion figures (not pass/fail): UNet forward at batch 32 with CFG (one thread, and spread over 2
// worker_threads), forward+backward w.r.t. all weights at batch 2, a training step at batch 32 (one thread, and
// data-parallel on 2 worker_threads), resident memory of `cadflow serve` idle with the model loaded, and sampling 64 images on one
// thread and on 2 worker_threads (time, images/s, peak RSS). With --torch, runs bench/torch_reference.py on the same
// safetensors (ε within 1e-3) and prints the ratios.
// Run: npx tsx bench/diffusion.bench.ts [--model shapes-tiny] [--torch] [--skip-train] [--skip-sample]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initRuntime, tf } from '../nodes/sdk/runtime.ts';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { encodePrompts, loadModel, predictEps, sampleImages, schedulerFor, tokenizerFor } from '../nodes/diffusion/api.ts';
import { samplePool } from '../nodes/diffusion/parallel/sample-pool.ts';
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

async function timeAsync(f: () => Promise<Tensor>, reps: number, warmups = 1): Promise<number> {
  for (let i = 0; i < warmups; i++) tf.dispose(await f());
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = await f();
    r.dataSync();
    ms.push(performance.now() - t0);
    r.dispose();
  }
  return median(ms);
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

/**
 * Resident set (MiB) of a fresh `cadflow serve` (own process, empty data folder, any free port) 3 s after it says it
 * listens with `model` preloaded: the figure, unaffected by whatever this process ran before.
 */
async function serveIdleRss(model: string): Promise<number> {
  const data = mkdtempSync(join(tmpdir(), 'cadflow-bench-serve-'));
  const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'cadflow.js'), 'serve', '--port', '0', '--model', model, '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`cadflow serve exited (code ${code}) before listening:\n${out}`)));
    });
    await new Promise((r) => setTimeout(r, 3000));
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    if (!kb) throw new Error('no VmRSS in /proc/<pid>/status');
    return Number(kb[1]) / 1024;
  } finally {
    const exited = child.exitCode === null ? new Promise((r) => child.once('exit', r)) : Promise.resolve();
    child.kill('SIGTERM');
    await exited;
    rmSync(data, { recursive: true, force: true });
  }
}

export default async function bench(argv: string[] = []): Promise<BenchFigure[]> {
  const { values } = parseArgs({ args: argv, options: { model: { type: 'string', default: 'shapes-tiny' }, torch: { type: 'boolean', default: false }, 'skip-train': { type: 'boolean', default: false }, 'skip-sample': { type: 'boolean', default: false } } });
  const modelName = values.model!;
  // Other jobs on the machine make every figure slower, 2-thread ones most (and PyTorch's OpenMP threads collapse).
  const loadStart = loadavg()[0];
  await initRuntime();
  const h = await loadModel(modelName, MODELS);
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

  push({ name: `RSS of cadflow serve idle with ${modelName} loaded`, value: await serveIdleRss(modelName), unit: 'MiB', target: { op: '<', value: 400 } });

  // Sampling 64 images (25 DDIM steps, CFG 3) on this thread, then on 2 worker_threads: time, images/s and peak
  // RSS of the whole process (workers included). One thread runs first, before any worker exists.
  const sampleRun = async (workers: number) => {
    let peak = process.memoryUsage().rss;
    const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    const t0 = performance.now();
    const imgs = await sampleImages(h, Array.from({ length: 64 }, () => 'a yellow circle on a dotted background'), Array.from({ length: 64 }, (_, i) => i), { steps: 25, cfg: 3, workers }, {
      onStep: () => { peak = Math.max(peak, process.memoryUsage().rss); },
    });
    const ms = performance.now() - t0;
    clearInterval(timer);
    imgs.dispose();
    const label = workers ? `${workers} worker_threads` : 'one thread';
    push({ name: `sample 64 images, 25 DDIM steps, CFG 3, ${label}`, value: ms, unit: 'ms' });
    push({ name: `sampling images/s, ${label}`, value: 64 / (ms / 1000), unit: 'img/s' });
    push({ name: `peak RSS sampling 64 images, ${label}`, value: peak / 2 ** 20, unit: 'MiB' });
  };
  if (!values['skip-sample']) await sampleRun(0);

  // The same forward (32 images with CFG) spread over 2 worker_threads: "using both cores". Two workers warm up
  // over several calls where one thread needs one (measured 279, 206, 178, 160, then 140–155 ms), so 4 warm-ups.
  const pool = await samplePool(2);
  const poolModel = { config: h.modelConfig, weights: h.weights(), key: h.key };
  const ts64 = new Array(64).fill(500);
  const fwd2 = await timeAsync(async () => {
    const out = await pool.unetOutput(poolModel, x32, ts64, c32);
    const eps = schedulerFor(h).epsFromOutput(out, x32, ts64);
    out.dispose();
    return eps;
  }, 5, 4);
  push({ name: `${modelName} UNet forward, 32 images with CFG, 2 worker_threads`, value: fwd2, unit: 'ms' });
  if (!values['skip-sample']) await sampleRun(2);
  await pool.close();
  tf.dispose([x32, c32, x2] as Tensor4D[]);

  // Training step at batch 32: one thread, then 2 worker_threads; median step after 2 warm-up steps.
  const preset = (modelName === 'shapes-micro' ? 'micro' : 'tiny') as PresetName;
  const root = mkdtempSync(join(tmpdir(), 'cadflow-bench-'));
  const trainMs: Record<number, number> = {};
  for (const workers of values['skip-train'] ? [] : [0, 2]) {
    const r = await train({
      settings: { ...TRAIN_PRESETS[preset], batch: 32, steps: 9, workers, checkpointSeconds: 1e9, reconstructionCheck: false },
      outDir: join(root, `w${workers}`), checkpointPath: join(root, `w${workers}.ckpt`), logPath: join(root, 'log'), resume: false, print: () => {},
    });
    trainMs[workers] = median(r.stepMs.slice(2));
    const how = workers ? `${workers} worker_threads` : 'one thread';
    push({ name: `training step, batch 32, ${how} (median of ${r.stepMs.length - 2})`, value: trainMs[workers], unit: 'ms', target: workers ? { op: '<', value: 500 } : undefined });
    // Where a step goes: the shards' gradients, then the optimiser (sum, norm, clip, Adam, EMA) on the main thread.
    push({ name: `  of which gradients, ${how} (median)`, value: median(r.gradientMs.slice(2)), unit: 'ms' });
    push({ name: `  of which optimiser on the main thread, ${how} (median)`, value: median(r.stepMs.slice(2).map((ms, i) => ms - r.gradientMs[i + 2]!)), unit: 'ms' });
  }

  push({ name: 'load average (1 min) at the start', value: loadStart, unit: '' });
  push({ name: 'load average (1 min) after the cadflow figures', value: loadavg()[0], unit: '' });

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
    for (const [k, v] of Object.entries(ref)) {
      if (k === 'eps_max_abs_diff') push({ name: 'max |ε cadflow − ε PyTorch|', value: v, unit: '', target: { op: '<', value: 1e-3 } });
      else if (k.endsWith('_1t') || k.endsWith('_2t')) push({ name: `PyTorch ${k}`, value: v, unit: 'ms' });
    }
    // Each cadflow figure against PyTorch on 2 threads (equal core count for the 2-worker figures).
    const ratios: [string, number | undefined, string][] = [
      ['forward 32 w/ CFG, one thread', fwd, 'forward_cfg32_ms_2t'],
      ['forward 32 w/ CFG, 2 workers', fwd2, 'forward_cfg32_ms_2t'],
      ['fwd+bwd batch 2, one thread', fb, 'fwd_bwd_b2_ms_2t'],
      ['training step b32, one thread', trainMs[0], 'train_step_b32_ms_2t'],
      ['training step b32, 2 workers', trainMs[2], 'train_step_b32_ms_2t'],
    ];
    for (const [label, ours, key] of ratios) {
      if (ours !== undefined && ref[key]) push({ name: `ratio cadflow/PyTorch(2 threads) ${label}`, value: ours / ref[key], unit: '×', target: { op: '<', value: 2 } });
    }
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figs = await bench(process.argv.slice(2));
  for (const f of figs) console.log(`${f.name.padEnd(52)} ${f.value.toFixed(2)} ${f.unit}`);
}
