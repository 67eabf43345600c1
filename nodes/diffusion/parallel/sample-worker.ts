// A sampling worker (see sample-pool.ts): its own wasm backend, the weights it was last sent, and the ordinary
// single-thread sampleImages / predictOutput on the part of the batch it is given, or another pack's task function.
import { parentPort } from 'node:worker_threads';
import type { Tensor } from '@tensorflow/tfjs';
import { CancelledError } from '../../sdk/errors.ts';
import { initRuntime, tf } from '../../sdk/runtime.ts';
import { predictOutput, sampleImages, type ModelWeights } from '../api.ts';
import type { TaskFunction, WorkerReply, WorkerRequest } from './sample-pool.ts';

await initRuntime();
const port = parentPort!;
const reply = (m: WorkerReply) => port.postMessage(m);
let model: ModelWeights | undefined;
let current: AbortController | undefined;

async function handle(msg: WorkerRequest): Promise<void> {
  if (msg.type === 'cancel') {
    current?.abort();
    return;
  }
  if (msg.type === 'model') {
    if (model) tf.dispose([...model.weights.values()]);
    model = { config: msg.config, weights: new Map(msg.names.map((n, i) => [n, tf.tensor(msg.data[i], msg.shapes[i])])) };
    return;
  }
  if (!model) throw new Error('no model sent before the first request');
  if (msg.type === 'sample') {
    current = new AbortController();
    const images = await sampleImages(model, msg.prompts, msg.seeds, msg.opts, {
      signal: current.signal,
      onStep: msg.previews
        ? (step, x0, info) => reply({ type: 'step', chunk: info.chunk, step, steps: info.steps, data: x0.dataSync() as Float32Array })
        : undefined,
    });
    reply({ type: 'done', data: images.dataSync() as Float32Array, shape: images.shape });
    images.dispose();
    return;
  }
  const m = model;
  if (msg.type === 'task') {
    const controller = (current = new AbortController());
    const fn = ((await import(msg.module)) as Record<string, unknown>)[msg.fn];
    if (typeof fn !== 'function') throw new Error(`${msg.module} exports no function ${msg.fn}`);
    const value = await (fn as TaskFunction<unknown>)(m, msg.args, {
      signal: controller.signal, report: (v) => reply({ type: 'report', value: v }),
    });
    reply({ type: 'result', value });
    return;
  }
  const out = tf.tidy(() => predictOutput(m, tf.tensor4d(msg.xt, msg.xShape as [number, number, number, number]), msg.ts,
    tf.tensor3d(msg.cond, msg.condShape as [number, number, number])));
  reply({ type: 'done', data: out.dataSync() as Float32Array, shape: out.shape });
  (out as Tensor).dispose();
}

port.on('message', (msg: WorkerRequest) => {
  handle(msg).catch((err: unknown) => {
    reply({ type: 'error', message: (err as Error).stack ?? String(err), cancelled: err instanceof CancelledError });
  });
});
reply({ type: 'ready' });
