// What a thread's tensors hold: its wasm heap, which grows to the largest working set the thread ever needed and
// never shrinks. Benches ask the main thread directly and each pool worker through threadMemoryTask.
import { tf } from '../../sdk/runtime.ts';
import type { TaskFunction } from './sample-pool.ts';

export interface ThreadMemory {
  /** The wasm backend's heap in MiB (0 on another backend). */
  wasmMb: number;
}

export function threadMemory(): ThreadMemory {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return { wasmMb: Math.round((backend.wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20) };
}

export const threadMemoryTask: TaskFunction<null, ThreadMemory> = async () => threadMemory();
