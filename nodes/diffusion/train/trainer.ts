// The training loop: data-parallel gradients (worker_threads, each its own wasm backend, or in-process), global
// gradient clipping, flat Adam, EMA, time-based resumable checkpoints, model export, progress with loss and ETA,
// and the "noise a render, reconstruct x0 in one step, per t" check.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { initRuntime, tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor4D } from '@tensorflow/tfjs';
import { renderBatch } from '../../world/render.ts';
import { encodePrompts, predictOutput, schedulerFor } from '../api.ts';
import type { ModelConfig } from '../model/config.ts';
import { initWeights } from '../model/network.ts';
import { presetConfig } from '../model/presets.ts';
import { seededNoise } from '../noise.ts';
import { FlatAdam } from '../ops/index.ts';
import { exportModel, loadCheckpoint, saveCheckpoint, type TrainState, unflatten } from './checkpoint.ts';
import { layoutOf, ShardGradients, type ParamLayout } from './gradients.ts';
import type { TrainSettings } from './presets.ts';
import { nextMessage, spawnTsWorker } from '../parallel/spawn.ts';

export interface TrainOptions {
  settings: TrainSettings;
  /** Model folder written with the EMA weights at every checkpoint and at the end. */
  outDir: string;
  checkpointPath: string;
  logPath: string;
  resume: boolean;
  /** Stop (checkpoint + export) after this much wall time in this run. */
  maxMinutes?: number;
  /** Progress lines (default: stderr). */
  print?: (line: string) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  /** Mean loss of the first and last 10% of this run's steps. */
  firstLosses: number;
  lastLosses: number;
  msPerStep: number;
  /** Wall time of each step of this run (gradients, all-reduce, Adam, EMA), for warm-up-free medians. */
  stepMs: number[];
  /** Per step, the part spent computing the shards' gradients (the rest is the optimiser on this thread). */
  gradientMs: number[];
  elapsedMs: number;
  weightsSha256: string;
}

const CHECK_TIMESTEPS = [50, 250, 500, 750, 900, 990];

/** One-step x0 reconstruction MSE (model range) of 8 fixed noised renders at several t, conditioned on their captions. */
export function reconstructionCheck(cfg: ModelConfig, flat: Float32Array, layout: ParamLayout): Record<number, number> {
  const n = 8;
  const errT = tf.tidy(() => {
    const weights = new Map<string, Tensor>();
    for (const [name, t] of unflatten(flat, layout)) weights.set(name, tf.tensor(t.data, [...t.shape]));
    const model = { config: cfg, weights };
    const { pixels, captions } = renderBatch(n, 424242);
    const x0 = tf.sub(tf.mul(tf.tensor4d(pixels, [n, 32, 32, 3]), 2), 1) as Tensor4D;
    const sched = schedulerFor(cfg);
    const seeds = Array.from({ length: n }, (_, i) => 9000 + i);
    const ts = CHECK_TIMESTEPS.flatMap((t) => new Array(n).fill(t) as number[]);
    const xt = tf.concat(CHECK_TIMESTEPS.map((t) => sched.addNoise(x0, seededNoise(seeds, [32, 32, 3], t), new Array(n).fill(t)))) as Tensor4D;
    const cond = encodePrompts(model, CHECK_TIMESTEPS.flatMap(() => captions));
    const x0hat = sched.x0FromOutput(predictOutput(model, xt, ts, cond), xt, ts);
    return tf.mean(tf.square(tf.sub(x0hat, tf.concat(CHECK_TIMESTEPS.map(() => x0)))), [1, 2, 3]);
  });
  const err = errT.dataSync();
  errT.dispose();
  const out: Record<number, number> = {};
  CHECK_TIMESTEPS.forEach((t, k) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += err[k * n + i];
    out[t] = s / n;
  });
  return out;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** Gradient sources: worker_threads sharing parameter/gradient memory, or this thread. */
interface GradientPool {
  /** Runs every shard for `step`; returns the summed loss and leaves each shard's gradient in its slot. */
  step(step: number): Promise<number>;
  close(): Promise<void>;
}

async function workerPool(cfg: ModelConfig, layout: ParamLayout, s: TrainSettings, params: SharedArrayBuffer, grads: SharedArrayBuffer): Promise<GradientPool> {
  const shardSize = s.batch / s.workers;
  const workers = Array.from({ length: s.workers }, (_, shard) => spawnTsWorker(new URL('./worker.ts', import.meta.url), { cfg, layout, settings: s, shard, shardSize, params, grads }));
  const next = (w: Worker) => nextMessage<{ loss?: number; error?: string; ready?: boolean }>(w);
  await Promise.all(workers.map(next));
  return {
    async step(step) {
      const replies = workers.map(next);
      workers.forEach((w) => w.postMessage({ step }));
      const rs = await Promise.all(replies);
      const bad = rs.find((r) => r.error);
      if (bad) throw new Error(`training worker failed: ${bad.error}`);
      return rs.reduce((a, r) => a + (r.loss ?? 0), 0);
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

function inProcessPool(cfg: ModelConfig, layout: ParamLayout, s: TrainSettings, params: Float32Array, grads: Float32Array): GradientPool {
  const shard = new ShardGradients(cfg, layout, s);
  return {
    async step(step) {
      return shard.compute(params, step, 0, s.batch, grads);
    },
    async close() {},
  };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const s = opts.settings;
  const print = opts.print ?? ((l: string) => process.stderr.write(l + '\n'));
  const log = (line: string) => {
    appendFileSync(opts.logPath, `${new Date().toISOString()} ${line}\n`);
  };
  mkdirSync(dirname(opts.logPath), { recursive: true });
  if (s.workers > 0 && s.batch % s.workers !== 0) throw new Error(`batch ${s.batch} does not split over ${s.workers} workers`);
  await initRuntime();
  const cfg = presetConfig(s.preset);
  const init = initWeights(cfg, s.seed);
  const layout = layoutOf(new Map([...init].map(([k, t]) => [k, [...t.shape]])));
  const paramsBuf = new SharedArrayBuffer(layout.total * 4);
  const params = new Float32Array(paramsBuf);
  let st: TrainState;
  if (opts.resume) {
    st = await loadCheckpoint(opts.checkpointPath, cfg, layout.total);
    params.set(st.params);
    st.params = params;
    print(`resumed ${opts.checkpointPath} at step ${st.step}`);
  } else {
    layout.names.forEach((n, i) => params.set(init.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
    st = { step: 0, params, ema: Float32Array.from(params), adamM: new Float32Array(layout.total), adamV: new Float32Array(layout.total), adamT: 0, elapsedMs: 0 };
  }
  tf.dispose([...init.values()]);
  const adam = new FlatAdam(layout.total);
  adam.load(st.adamM, st.adamV, st.adamT);
  st.adamM = adam.m;
  st.adamV = adam.v;

  const shards = Math.max(1, s.workers);
  const gradsBuf = new SharedArrayBuffer(shards * layout.total * 4);
  const grads = new Float32Array(gradsBuf);
  const pool = s.workers > 0 ? await workerPool(cfg, layout, s, paramsBuf, gradsBuf) : inProcessPool(cfg, layout, s, params, grads);
  const summed = new Float32Array(layout.total);
  print(`training ${s.preset}: ${layout.total} parameters, batch ${s.batch}, ${s.workers || 'no'} workers, steps ${st.step}→${s.steps}`);
  log(`start preset=${s.preset} params=${layout.total} batch=${s.batch} workers=${s.workers} step=${st.step} target=${s.steps} resume=${opts.resume}`);

  let stopReason = '';
  const onSignal = () => { stopReason = 'signal'; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runStart = Date.now();
  const startStep = st.step;
  let lastCkpt = Date.now();
  let smooth = NaN;
  const losses: number[] = [];
  const stepMs: number[] = [];
  const gradientMs: number[] = [];
  let weightsSha256 = '';

  const checkpoint = async (final: boolean) => {
    st.elapsedMs += Date.now() - lastElapsedMark;
    lastElapsedMark = Date.now();
    await saveCheckpoint(opts.checkpointPath, st, cfg, s);
    weightsSha256 = await exportModel(opts.outDir, st.ema, layout, cfg, { step: String(st.step), weights: 'ema', preset: s.preset });
    const fmt = (r: Record<number, number>) => Object.entries(r).map(([t, e]) => `t${t}=${e.toFixed(4)}`).join(' ');
    const check = s.reconstructionCheck
      ? ` x0-mse ema[${fmt(reconstructionCheck(cfg, st.ema, layout))}] raw[${fmt(reconstructionCheck(cfg, st.params, layout))}]`
      : '';
    const line = `${final ? 'final ' : ''}checkpoint step=${st.step} elapsed=${formatDuration(st.elapsedMs)}${check}`;
    log(line);
    print(line);
  };
  let lastElapsedMark = Date.now();

  try {
    while (st.step < s.steps && !stopReason) {
      if (opts.signal?.aborted) { stopReason = 'aborted'; break; }
      if (opts.maxMinutes !== undefined && Date.now() - runStart > opts.maxMinutes * 60_000) { stopReason = 'time'; break; }
      const stepStart = performance.now();
      const loss = await pool.step(st.step);
      gradientMs.push(performance.now() - stepStart);
      summed.set(grads.subarray(0, layout.total));
      for (let k = 1; k < shards; k++) {
        const g = grads.subarray(k * layout.total, (k + 1) * layout.total);
        for (let i = 0; i < summed.length; i++) summed[i] += g[i];
      }
      let sq = 0;
      for (let i = 0; i < summed.length; i++) sq += summed[i] * summed[i];
      const norm = Math.sqrt(sq);
      if (!Number.isFinite(norm)) throw new Error(`non-finite gradient at step ${st.step}`);
      if (s.gradClip > 0 && norm > s.gradClip) {
        const k = s.gradClip / norm;
        for (let i = 0; i < summed.length; i++) summed[i] *= k;
      }
      const lr = s.lr * Math.min(1, (st.step + 1) / s.warmupSteps);
      adam.step(params, summed, lr);
      st.adamT = adam.t;
      const d = Math.min(s.emaDecay, (1 + st.step) / (10 + st.step));
      const ema = st.ema;
      for (let i = 0; i < ema.length; i++) ema[i] = d * ema[i] + (1 - d) * params[i];
      st.step += 1;
      stepMs.push(performance.now() - stepStart);
      losses.push(loss);
      smooth = Number.isNaN(smooth) ? loss : 0.98 * smooth + 0.02 * loss;

      const done = st.step - startStep;
      const msPerStep = (Date.now() - runStart) / done;
      if (st.step % 25 === 0 || st.step === s.steps) {
        const eta = formatDuration(msPerStep * (s.steps - st.step));
        const frac = st.step / s.steps;
        const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
        const line = `[${bar}] step ${st.step}/${s.steps} loss ${smooth.toFixed(4)} (last ${loss.toFixed(4)}) |g| ${norm.toFixed(3)} ${(1000 / msPerStep).toFixed(2)} steps/s ${msPerStep.toFixed(0)} ms/step ETA ${eta}`;
        log(line);
        print(line);
      }
      if (Date.now() - lastCkpt > s.checkpointSeconds * 1000) {
        await checkpoint(false);
        lastCkpt = Date.now();
      }
    }
    await checkpoint(true);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool.close();
  }
  if (stopReason) log(`stopped early (${stopReason}) at step ${st.step}`);
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
  return {
    steps: st.step,
    finalLoss: smooth,
    firstLosses: mean(losses.slice(0, tenth)),
    lastLosses: mean(losses.slice(-tenth)),
    msPerStep: (Date.now() - runStart) / Math.max(1, st.step - startStep),
    stepMs,
    gradientMs,
    elapsedMs: st.elapsedMs,
    weightsSha256,
  };
}
