// The tensor runtime: one tfjs instance for the whole process, backend chosen once.
// Order: tfjs-node-gpu (CUDA) → tfjs-node → wasm (SIMD) → cpu; CADFLOW_BACKEND overrides.
import * as tf from '@tensorflow/tfjs';
import { useHeapTranspose } from './transpose.ts';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
let ready: Promise<BackendInfo> | undefined;

export interface BackendInfo {
  backend: string;
  /** Which package provides it, e.g. '@tensorflow/tfjs-backend-wasm@4.22.0'. */
  provider: string;
  simd?: boolean;
  threads?: number;
}

async function tryImport(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * wasm's Identity kernel copies its input; autodiff runs it on every tensor saved for the backward pass.
 * Sharing the buffer (as the cpu backend does, and as wasm's own Reshape does) saves memory and time.
 */
function shareIdentityBuffers(backendName: string): void {
  tf.unregisterKernel('Identity', backendName);
  tf.registerKernel({
    kernelName: 'Identity',
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(id: tf.DataId): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}

/**
 * tfjs's cpu backend prints a "looks like you are running TensorFlow.js in Node.js" banner on its first tensor.
 * cadflow picked cpu knowingly (and says which backend runs), so that one banner is marked as already shown.
 */
function skipCpuBanner(): void {
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
}

async function select(): Promise<BackendInfo> {
  const wanted = process.env.CADFLOW_BACKEND?.trim();
  const order: string[] = wanted ? [wanted] : ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];
  for (const choice of order) {
    if (choice === 'tfjs-node-gpu' || choice === 'tfjs-node' || choice === 'tensorflow') {
      const pkg = choice === 'tfjs-node' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
      if ((await tryImport(pkg)) && (await tf.setBackend('tensorflow'))) return { backend: 'tensorflow', provider: pkg };
    } else if (choice === 'wasm') {
      if (await tryImport('@tensorflow/tfjs-backend-wasm')) {
        if (await tf.setBackend('wasm')) {
          shareIdentityBuffers('wasm');
          useHeapTranspose('wasm');
          const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
          return { backend: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', simd, threads: 1 };
        }
      }
    } else if (choice === 'cpu') {
      if (await tf.setBackend('cpu')) {
        skipCpuBanner();
        return { backend: 'cpu', provider: '@tensorflow/tfjs-backend-cpu' };
      }
    }
    if (wanted) throw new Error(`CADFLOW_BACKEND=${wanted} is not available (try wasm or cpu)`);
  }
  throw new Error('no tensorflow.js backend could be initialised');
}

/** Initialises the backend once and returns what was chosen. */
export function initRuntime(): Promise<BackendInfo> {
  ready ??= select().then(async (info) => {
    await tf.ready();
    return info;
  });
  return ready;
}

export { tf };
