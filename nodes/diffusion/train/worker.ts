// A data-parallel training worker: its own wasm backend; reads parameters from shared memory, writes its
// shard's gradient into its slot of the shared gradient buffer, and replies with the shard loss.
import { parentPort, workerData } from 'node:worker_threads';
import { initRuntime } from '../../sdk/runtime.ts';
import { ShardGradients, type ParamLayout } from './gradients.ts';
import type { ModelConfig } from '../model/config.ts';
import type { TrainSettings } from './presets.ts';

interface Init {
  cfg: ModelConfig;
  layout: ParamLayout;
  settings: TrainSettings;
  shard: number;
  shardSize: number;
  params: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

const init = workerData as Init;
await initRuntime();
const shard = new ShardGradients(init.cfg, init.layout, init.settings);
const params = new Float32Array(init.params);
const grads = new Float32Array(init.grads, init.shard * init.layout.total * 4, init.layout.total);
parentPort!.on('message', (msg: { step: number }) => {
  try {
    const loss = shard.compute(params, msg.step, init.shard, init.shardSize, grads);
    parentPort!.postMessage({ loss });
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
  }
});
parentPort!.postMessage({ ready: true });
