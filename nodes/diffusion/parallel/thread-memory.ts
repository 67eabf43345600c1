// What a thread holds: its wasm heap (which grows to the largest working set the thread ever needed and never
// shrinks) and its V8 heap. Benches ask the main thread directly and each pool worker through threadMemoryTask.
import { getHeapStatistics } from 'node:v8';
import { tf } from '../../sdk/runtime.ts';
import type { TaskFunction } from './sample-pool.ts';

export interface ThreadMemory {
  /** The wasm backend's heap in MiB (0 on another backend). */
  wasmMb: number;
  /** V8 heap in use / reserved, MiB. */
  v8UsedMb: number;
  v8TotalMb: number;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export function threadMemory(): ThreadMemory {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  const heap = getHeapStatistics();
  return { wasmMb: mb(backend.wasm?.HEAPU8.buffer.byteLength ?? 0), v8UsedMb: mb(heap.used_heap_size), v8TotalMb: mb(heap.total_heap_size) };
}

export const threadMemoryTask: TaskFunction<null, ThreadMemory> = async () => threadMemory();
