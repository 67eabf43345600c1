// What a thread's tensors hold: its wasm heap, which grows to the largest working set the thread ever needed and
// never shrinks. Benches ask the main thread directly and each pool worker through workersMemory.
import { tf } from '../../sdk/runtime.ts';
import type { PoolModel, SamplePool, TaskFunction } from './sample-pool.ts';

export interface ThreadMemory {
  /** The wasm backend's heap in MiB (0 on another backend). */
  wasmMb: number;
}

export function threadMemory(): ThreadMemory {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return { wasmMb: Math.round((backend.wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20) };
}

export const threadMemoryTask: TaskFunction<null, ThreadMemory> = async () => threadMemory();

/** Each of the pool's workers' memory, in worker order. `model`: the weights the workers hold (the same key sends nothing). */
export function workersMemory(pool: SamplePool, model: PoolModel): Promise<ThreadMemory[]> {
  const task = { module: import.meta.url, fn: 'threadMemoryTask', args: null };
  return pool.runTasks<ThreadMemory>(model, Array(pool.size).fill(task));
}
