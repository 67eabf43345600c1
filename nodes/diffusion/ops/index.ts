// wasm-safe differentiable ops shared by the UNet, the text encoder and the evaluation helper's judge.
export { conv2d } from './conv.ts';
export { addPerSampleChannels, dense, matMulPlain, batchMatMul } from './linear.ts';
export { groupNorm, layerNorm } from './norm.ts';
export { silu, gelu } from './activations.ts';
export { pixelUnshuffle2, pixelShuffle2, upsampleNearest2 } from './spatial.ts';
export { FlatAdam, type AdamOptions } from './adam.ts';
