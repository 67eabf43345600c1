// Every cadflow op with a hand-written gradient is built with customOp: one gradient thunk per input. tf.customGrad
// computes the gradient of every input of an op on the differentiated path; tfjs's tape only asks for the inputs that
// depend on what is being differentiated, so with thunks the gradients of frozen inputs are never computed — e.g.
// every conv, attention and norm weight when FitAttribution differentiates the FF matrices. Goes through the engine's
// runKernelFunc, which tf.customGrad itself uses (private in tfjs-core 4.22's typings; the ops tests exercise it on
// wasm and cpu).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor } from '@tensorflow/tfjs';

export type Save = (tensors: Tensor[]) => void;

interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: Save) => Tensor;
    backwardsFunc: (dy: Tensor, saved: Tensor[]) => Record<string, () => Tensor>;
    inputs: Record<string, Tensor>;
  }): Tensor;
}

/**
 * An op over `inputs`: forward(save) computes the value from the inputs (saving what backward needs), and
 * backward(dy, saved) returns one gradient thunk per input, in order; autodiff calls only the thunks it needs.
 */
export function customOp<T extends Tensor>(
  inputs: readonly Tensor[],
  forward: (save: Save) => T,
  backward: (dy: T, saved: Tensor[]) => (() => Tensor)[],
): T {
  return (tf.engine() as unknown as KernelFuncEngine).runKernelFunc({
    forwardFunc: (_backend, save) => forward(save),
    backwardsFunc: (dy, saved) => Object.fromEntries(backward(dy as T, saved).map((g, i) => [String(i), g])),
    inputs: Object.fromEntries(inputs.map((t, i) => [String(i), t])),
  }) as T;
}
