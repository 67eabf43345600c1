// Data-parallel sampling on worker_threads, each with its own wasm backend (wasm runs one thread per backend).
// The prompts are cut into one contiguous part per worker; each worker runs the ordinary single-thread
// sampleImages on its part, so image i is bit-identical to the single-thread result (it depends only on its own
// prompt, seed and options). batchSize is shared out, so the images in flight (memory) stay as on one thread. Weights
// are sent to a worker once per model key. Per-step x0 previews are gathered from all parts and handed to the
// caller's onStep in step order; cancellation reaches every worker. Other packs run their own data-parallel work
// on the same workers as tasks (runTasks): an exported function of one of their modules, called in the worker with
// the weights it holds.
import { availableParallelism } from 'node:os';
import { isMainThread, type Worker } from 'node:worker_threads';
import { CancelledError } from '../../sdk/errors.ts';
import { tf } from '../../sdk/runtime.ts';
import type { Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { ModelWeights, SampleHooks, SampleOptions } from '../api.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Weights } from '../model/params.ts';
import { nextMessage, spawnTsWorker } from './spawn.ts';

/** Below this many images one thread is as fast (spreading a tiny batch gains less than it costs). */
export const MIN_POOL_IMAGES = 8;
/** Idle workers are closed after this long (their wasm heaps hold a few hundred MB). */
const IDLE_CLOSE_MS = 30_000;

export interface PoolModel {
  config: ModelConfig;
  weights: Weights;
  /** Identifies the weights (a handle's key); models without one are told apart by their tensors. */
  key?: string;
}

/** What a task function gets besides the worker's model and its args. */
export interface TaskContext {
  /** Aborted when the job is cancelled or another worker failed. */
  signal: AbortSignal;
  /** Sends a progress value to the caller's onReport (structured-cloneable). */
  report(value: unknown): void;
}

/** A function run in a worker: (the weights the worker holds, structured-cloneable args, context) → cloneable result. */
export type TaskFunction<A = never, R = unknown> = (model: ModelWeights, args: A, ctx: TaskContext) => Promise<R>;

/** One worker's share of a job: the exported function `fn` of the module at URL `module`, with `args`. */
export interface WorkerTask {
  module: string;
  fn: string;
  args: unknown;
}

/** Messages a sampling worker sends. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'step'; chunk: number; step: number; steps: number; data: Float32Array }
  | { type: 'report'; value: unknown }
  | { type: 'done'; data: Float32Array; shape: number[] }
  | { type: 'result'; value: unknown }
  | { type: 'error'; message: string; cancelled: boolean };

/** Messages a sampling worker receives. */
export type WorkerRequest =
  | { type: 'model'; key: string; config: ModelConfig; names: string[]; shapes: number[][]; data: Float32Array[] }
  | { type: 'sample'; prompts: string[]; seeds: number[]; opts: SampleOptions; previews: boolean }
  | { type: 'forward'; xt: Float32Array; xShape: number[]; ts: number[]; cond: Float32Array; condShape: number[] }
  | ({ type: 'task' } & WorkerTask)
  | { type: 'cancel' };

/**
 * Worker threads to use for sampling `n` images when the caller does not say: CADFLOW_SAMPLE_WORKERS if set,
 * else 2 (or the core count, if smaller) on the wasm backend in the main thread for n ≥ MIN_POOL_IMAGES, else 0.
 */
export function autoSampleWorkers(n: number): number {
  const env = process.env.CADFLOW_SAMPLE_WORKERS?.trim();
  if (env) {
    const v = Number(env);
    if (!Number.isInteger(v) || v < 0) throw new Error(`CADFLOW_SAMPLE_WORKERS=${env}: expected a whole number ≥ 0`);
    return isMainThread ? v : 0;
  }
  if (!isMainThread || tf.getBackend() !== 'wasm' || n < MIN_POOL_IMAGES) return 0;
  return Math.min(2, availableParallelism());
}

/** Contiguous [start, end) parts of n items over k workers, sizes differing by at most one; empty parts dropped. */
export function splitParts(n: number, k: number): [number, number][] {
  const parts: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const size = Math.floor(n / k) + (i < n % k ? 1 : 0);
    if (size > 0) parts.push([start, start + size]);
    start += size;
  }
  return parts;
}

/** A handle's key, else the tensors' ids (tfjs never reuses one): a Map edited in place is a new model. */
function keyOf(m: PoolModel): string {
  return m.key ?? `tensors:${[...m.weights.values()].map((t) => t.id).join(',')}`;
}

export class SamplePool {
  private readonly held: (string | undefined)[];
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly workers: Worker[], private readonly onClose: () => void) {
    this.held = workers.map(() => undefined);
    for (const w of workers) w.unref();
    this.armIdleClose();
  }

  static async create(size: number, onClose: () => void = () => {}): Promise<SamplePool> {
    const workers = Array.from({ length: size }, () => spawnTsWorker(new URL('./sample-worker.ts', import.meta.url), null));
    try {
      await Promise.all(workers.map((w) => nextMessage<WorkerReply>(w)));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new SamplePool(workers, onClose);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Samples like sampleImages (same options and hooks), spread over the workers. Caller owns the result. */
  sample(model: PoolModel, prompts: readonly string[], seeds: readonly number[], opts: SampleOptions, hooks: SampleHooks = {}): Promise<Tensor4D> {
    return this.exclusive(async () => {
      if (hooks.signal?.aborted) throw new CancelledError();
      const parts = splitParts(prompts.length, this.size);
      // batchSize bounds the images in flight (memory), so each worker takes its share of it per UNet call.
      const chunkSize = Math.max(1, Math.ceil((opts.batchSize ?? 32) / parts.length));
      const chunksOf = ([s, e]: [number, number]) => Math.ceil((e - s) / chunkSize);
      const maxChunks = Math.max(...parts.map(chunksOf));
      const image = model.config.cadflow.image_size;
      const channels = model.config.cadflow.image_channels;
      const onStep = hooks.onStep;
      // Steps arrive per part, in any interleaving; a (chunk, step) preview is complete once every part that has
      // that chunk reported it, and complete previews go out strictly in (chunk, step) order, as on one thread.
      const pending = new Map<string, Map<number, Float32Array>>();
      const complete = new Map<string, { x0: Map<number, Float32Array>; steps: number }>();
      const next = { chunk: 0, step: 0 };
      let previews: Promise<void> = Promise.resolve();
      let previewFailed = false;
      const deliver = (chunk: number, step: number, steps: number, got: Map<number, Float32Array>) => async () => {
        if (previewFailed) return;
        const order = [...got.keys()].sort((a, b) => a - b);
        const n = order.reduce((s, k) => s + got.get(k)!.length, 0) / (image * image * channels);
        const data = new Float32Array(n * image * image * channels);
        let at = 0;
        for (const k of order) { data.set(got.get(k)!, at); at += got.get(k)!.length; }
        const x0 = tf.tensor4d(data, [n, image, image, channels]);
        try {
          await onStep!(step, x0, { steps, chunk, chunks: maxChunks });
        } finally {
          x0.dispose();
        }
      };
      const results = await this.run(model, parts.length, (p) => ({
        type: 'sample', prompts: prompts.slice(...parts[p]), seeds: seeds.slice(...parts[p]),
        opts: { ...opts, batchSize: chunkSize, workers: 0 }, previews: Boolean(onStep),
      }), hooks.signal, (p, msg, fail) => {
        if (msg.type !== 'step' || !onStep) return;
        const key = `${msg.chunk}:${msg.step}`;
        const got = pending.get(key) ?? new Map<number, Float32Array>();
        got.set(p, msg.data);
        pending.set(key, got);
        if (got.size < parts.filter((part) => chunksOf(part) > msg.chunk).length) return;
        pending.delete(key);
        complete.set(key, { x0: got, steps: msg.steps });
        for (let c = complete.get(`${next.chunk}:${next.step}`); c; c = complete.get(`${next.chunk}:${next.step}`)) {
          complete.delete(`${next.chunk}:${next.step}`);
          previews = previews.then(deliver(next.chunk, next.step, c.steps, c.x0)).catch((err) => { previewFailed = true; fail(err); });
          if (++next.step === c.steps) { next.step = 0; next.chunk++; }
        }
      });
      await previews;
      const total = prompts.length * image * image * channels;
      const data = new Float32Array(total);
      let at = 0;
      for (const r of results as Float32Array[]) { data.set(r, at); at += r.length; }
      return tf.tensor4d(data, [prompts.length, image, image, channels]);
    });
  }

  /** The UNet's raw output for x_t [N,...], timesteps and text states, rows spread over the workers. */
  unetOutput(model: PoolModel, xt: Tensor4D, ts: readonly number[], cond: Tensor3D): Promise<Tensor4D> {
    return this.exclusive(async () => {
      const n = xt.shape[0];
      const parts = splitParts(n, this.size);
      const x = xt.dataSync() as Float32Array;
      const c = cond.dataSync() as Float32Array;
      const xRow = x.length / n;
      const cRow = c.length / n;
      const results = await this.run(model, parts.length, (p) => {
        const [s, e] = parts[p];
        return {
          type: 'forward', xt: x.slice(s * xRow, e * xRow), xShape: [e - s, ...xt.shape.slice(1)], ts: ts.slice(s, e),
          cond: c.slice(s * cRow, e * cRow), condShape: [e - s, ...cond.shape.slice(1)],
        };
      }) as Float32Array[];
      const out = new Float32Array(results.reduce((s, r) => s + r.length, 0));
      let at = 0;
      for (const r of results) { out.set(r, at); at += r.length; }
      return tf.tensor4d(out, [n, ...xt.shape.slice(1)] as [number, number, number, number]);
    });
  }

  /**
   * Runs tasks[p] on worker p (at most `size` tasks) with `model`'s weights and returns their results in task
   * order. onReport gets each task's reports as they come (if it throws, the job fails with that error);
   * cancellation (signal) and the first failure reach every worker.
   */
  runTasks<R>(model: PoolModel, tasks: readonly WorkerTask[], hooks: { signal?: AbortSignal; onReport?(p: number, value: unknown): void } = {}): Promise<R[]> {
    if (tasks.length > this.size) throw new Error(`${tasks.length} tasks for a pool of ${this.size} workers`);
    return this.exclusive(async () => {
      if (hooks.signal?.aborted) throw new CancelledError();
      const results = await this.run(model, tasks.length, (p) => ({ type: 'task', ...tasks[p]! }), hooks.signal, (p, msg, fail) => {
        if (msg.type !== 'report') return;
        try {
          hooks.onReport?.(p, msg.value);
        } catch (err) {
          fail(err);
        }
      });
      return results as R[];
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.onClose();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** One job at a time: each worker runs one request and its replies belong to it. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const job = this.queue.then(async () => {
      if (this.closed) throw new Error('sampling pool is closed');
      clearTimeout(this.idleTimer);
      try {
        return await f();
      } finally {
        this.armIdleClose();
      }
    });
    this.queue = job.catch(() => {});
    return job;
  }

  private armIdleClose(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.close(), IDLE_CLOSE_MS);
    this.idleTimer.unref();
  }

  private sendModel(i: number, model: PoolModel): void {
    const key = keyOf(model);
    if (this.held[i] === key) return;
    const names = [...model.weights.keys()];
    const tensors = names.map((n) => model.weights.get(n)!);
    this.workers[i].postMessage({
      type: 'model', key, config: model.config, names, shapes: tensors.map((t) => [...t.shape]),
      data: tensors.map((t) => t.dataSync() as Float32Array),
    } satisfies WorkerRequest);
    this.held[i] = key;
  }

  /**
   * Sends request(p) to worker p for p < count and collects every worker's final reply (data of 'done', value of
   * 'result'). On the first failure (a worker error, the signal, or `fail` from onReply) the other workers are
   * cancelled, all final replies are still awaited (so none leaks into the next job), and that failure is thrown.
   */
  private async run(
    model: PoolModel, count: number, request: (p: number) => WorkerRequest, signal?: AbortSignal,
    onReply?: (p: number, msg: WorkerReply, fail: (err: unknown) => void) => void,
  ): Promise<unknown[]> {
    let failure: unknown;
    let crashed = false;
    const active = this.workers.slice(0, count);
    const fail = (err: unknown) => {
      if (failure !== undefined) return;
      failure = err;
      for (const w of active) w.postMessage({ type: 'cancel' } satisfies WorkerRequest);
    };
    const onAbort = () => fail(new CancelledError());
    signal?.addEventListener('abort', onAbort);
    try {
      const finals = active.map((w, p) => new Promise<unknown>((resolve) => {
        w.ref();
        const finish = (v: unknown) => {
          w.off('message', onMsg); w.off('error', onErr); w.off('exit', onExit); w.unref();
          resolve(v);
        };
        const onMsg = (msg: WorkerReply) => {
          if (msg.type === 'done') finish(msg.data);
          else if (msg.type === 'result') finish(msg.value);
          else if (msg.type === 'error') { fail(msg.cancelled ? new CancelledError() : new Error(`sampling worker: ${msg.message}`)); finish(undefined); }
          else onReply?.(p, msg, fail);
        };
        const onErr = (err: Error) => { crashed = true; fail(err); finish(undefined); };
        const onExit = (code: number) => { crashed = true; fail(new Error(`sampling worker exited (code ${code})`)); finish(undefined); };
        w.on('message', onMsg); w.on('error', onErr); w.on('exit', onExit);
        this.sendModel(p, model);
        w.postMessage(request(p));
      }));
      const results = await Promise.all(finals);
      if (crashed) void this.close();
      if (failure !== undefined) throw failure;
      return results;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

const shared = new Map<number, Promise<SamplePool>>();
/** The process's pool of `size` sampling workers, started on first use and closed after a while idle. */
export function samplePool(size: number): Promise<SamplePool> {
  let p = shared.get(size);
  if (!p) {
    p = SamplePool.create(size, () => shared.delete(size));
    shared.set(size, p);
    p.catch(() => shared.delete(size));
  }
  return p;
}

/** Closes every shared pool now (frees the workers' wasm heaps; the next samplePool call starts afresh). */
export async function closeSamplePools(): Promise<void> {
  const pools = await Promise.allSettled([...shared.values()]);
  await Promise.all(pools.map((p) => (p.status === 'fulfilled' ? p.value.close() : undefined)));
}
