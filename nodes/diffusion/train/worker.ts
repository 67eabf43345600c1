// A data-parallel training worker: its own wasm backend; reads parameters from shared memory, writes its shard's
// gradient into its slot of the shared gradient buffer (reply: the shard loss), then, when told, sums the shards'
// gradients over its slice of the parameters (reply: that slice's squared norm) and takes the clip, Adam and EMA
// step on that slice (update.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { initRuntime } from '../../sdk/runtime.ts';
import { FlatAdam } from '../ops/index.ts';
import { ShardGradients, type ParamLayout } from './gradients.ts';
import type { ModelConfig } from '../model/config.ts';
import type { TrainSettings } from './presets.ts';
import { applySlice, reduceSlice, sliceOf, trainArrays, type ApplyArgs, type TrainBuffers } from './update.ts';

interface Init {
  cfg: ModelConfig;
  layout: ParamLayout;
  settings: TrainSettings;
  shard: number;
  shardSize: number;
  buffers: TrainBuffers;
}

type Request = { type: 'step'; step: number } | { type: 'reduce' } | { type: 'apply'; args: ApplyArgs };

const init = workerData as Init;
await initRuntime();
const shard = new ShardGradients(init.cfg, init.layout, init.settings);
const arrays = trainArrays(init.buffers);
const total = init.layout.total;
const shards = init.settings.workers;
const grads = arrays.grads.subarray(init.shard * total, (init.shard + 1) * total);
const slice = sliceOf(total, init.shard, shards);
const adam = new FlatAdam(total, {}, { m: arrays.adamM, v: arrays.adamV });

parentPort!.on('message', (msg: Request) => {
  try {
    if (msg.type === 'step') parentPort!.postMessage({ loss: shard.compute(arrays.params, msg.step, init.shard, init.shardSize, grads) });
    else if (msg.type === 'reduce') parentPort!.postMessage({ sq: reduceSlice(arrays, shards, slice) });
    else {
      applySlice(arrays, adam, msg.args, slice);
      parentPort!.postMessage({ applied: true });
    }
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).stack ?? String(err) });
  }
});
parentPort!.postMessage({ ready: true });
