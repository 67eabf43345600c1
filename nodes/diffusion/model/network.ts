// The whole text-to-image network as functions of (config, weights): text encoding, the UNet's raw output,
// and fresh initial weights (created by running both once with an initialising ParamSource).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import type { ModelConfig } from './config.ts';
import { InitSource, MapSource, type Weights } from './params.ts';
import { encodeTokens } from './text-encoder.ts';
import { Tokenizer } from './tokenizer.ts';
import { unetForward } from './unet.ts';

export function textStates(cfg: ModelConfig, weights: Weights, ids: Int32Array): Tensor3D {
  const n = ids.length / cfg.tokenizer.model_max_length;
  return encodeTokens(new MapSource(weights), cfg, ids, n);
}

export function unetOutput(cfg: ModelConfig, weights: Weights, xt: Tensor4D, ts: ArrayLike<number>, cond: Tensor3D): Tensor4D {
  return unetForward(new MapSource(weights), cfg, xt, ts, cond);
}

/** Fresh weights (PyTorch default inits), deterministic in `seed`; names in declaration order. */
export function initWeights(cfg: ModelConfig, seed: number): Map<string, Tensor> {
  const src = new InitSource(seed);
  tf.tidy(() => {
    const tok = new Tokenizer(cfg.tokenizer);
    const cond = encodeTokens(src, cfg, tok.encode(''), 1);
    const size = cfg.cadflow.image_size;
    unetForward(src, cfg, tf.zeros([1, size, size, cfg.cadflow.image_channels]), [0], cond);
  });
  return src.created;
}

export function countParams(weights: Weights): number {
  let n = 0;
  for (const w of weights.values()) n += w.size;
  return n;
}

/** Parameter names and shapes a config implies (in declaration order), without keeping any weights. */
export function expectedShapes(cfg: ModelConfig): Map<string, number[]> {
  const w = initWeights(cfg, 0);
  const shapes = new Map([...w].map(([k, t]) => [k, [...t.shape]]));
  tf.dispose([...w.values()]);
  return shapes;
}
