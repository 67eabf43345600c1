// A small CLIP-style transformer text encoder (CLIPTextModel names under "text_encoder."): token + position
// embeddings, pre-LN layers (self-attention, GELU MLP), final layer norm. Output [N, L, hidden] feeds the
// UNet's cross-attention. The token lookup is a one-hot matMul (gather's gradient has no wasm kernel).
import { tf } from '../../sdk/runtime.ts';
import type { Tensor, Tensor2D, Tensor3D } from '@tensorflow/tfjs';
import { gelu, matMulPlain } from '../ops/index.ts';
import type { ModelConfig } from './config.ts';
import { attend, linear, lnorm } from './layers.ts';
import type { ParamSource } from './params.ts';

export function encodeTokens(p: ParamSource, cfg: ModelConfig, ids: Int32Array, n: number): Tensor3D {
  return tf.tidy(() => {
    const te = cfg.text_encoder;
    const d = te.hidden_size;
    const len = cfg.tokenizer.model_max_length;
    const vocab = cfg.tokenizer.vocab.length;
    const pre = `${cfg.cadflow.text_encoder_prefix}text_model`;
    const tok = p.get(`${pre}.embeddings.token_embedding.weight`, [vocab, d], { kind: 'normal', std: 0.02 }) as Tensor2D;
    const pos = p.get(`${pre}.embeddings.position_embedding.weight`, [len, d], { kind: 'normal', std: 0.01 });
    const oneHot = tf.oneHot(tf.tensor1d(ids, 'int32'), vocab).toFloat() as Tensor2D;
    let h: Tensor = tf.add(tf.reshape(matMulPlain(oneHot, tok), [n, len, d]), pos);
    for (let i = 0; i < te.num_hidden_layers; i++) {
      const l = `${pre}.encoder.layers.${i}`;
      const x = lnorm(p, `${l}.layer_norm1`, h, te.layer_norm_eps);
      const q = linear(p, `${l}.self_attn.q_proj`, x, d, d) as Tensor3D;
      const k = linear(p, `${l}.self_attn.k_proj`, x, d, d) as Tensor3D;
      const v = linear(p, `${l}.self_attn.v_proj`, x, d, d) as Tensor3D;
      h = tf.add(h, linear(p, `${l}.self_attn.out_proj`, attend(q, k, v, te.num_attention_heads), d, d));
      const y = lnorm(p, `${l}.layer_norm2`, h, te.layer_norm_eps);
      const m = linear(p, `${l}.mlp.fc2`, gelu(linear(p, `${l}.mlp.fc1`, y, d, te.intermediate_size)), te.intermediate_size, d);
      h = tf.add(h, m);
    }
    return lnorm(p, `${pre}.final_layer_norm`, h, te.layer_norm_eps) as Tensor3D;
  });
}
