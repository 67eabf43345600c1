// The evaluation networks, as pure functions of a weights Map built from the wasm-safe diffusion ops:
// a small CNN image trunk (shared design of the judge and of shapes-CLIP's image tower), the judge's
// per-attribute heads, and shapes-CLIP's text transformer with its word-level tokenizer.
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { batchMatMul, conv2d, dense, gelu, groupNorm, layerNorm, matMulPlain, pixelUnshuffle2, silu } from '../diffusion/ops/index.ts';
import type { ParamSpec } from './params.ts';

export type Weights = ReadonlyMap<string, Tensor>;

// Callers pass the result straight to ops that need a specific rank; the spec list guarantees it.
function get(w: Weights, name: string): any {
  const t = w.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

// ---------------------------------------------------------------------------------------------- image trunk
export interface TrunkConfig {
  /**
   * Conv 3×3 layers in order, each followed by GroupNorm + SiLU. Stride 2 halves the resolution by a 2×2 average
   * pool before a stride-1 conv: on wasm a stride-2 conv's backward pass (dilated weight-gradient conv,
   * conv2dTranspose) measured 10–15× its forward, pool-then-conv ~4× and a quarter of the work.
   */
  layers: { channels: number; stride: 1 | 2 }[];
  groups: number;
  /** Space-to-depth 2×2 at the input (32×32×3 → 16×16×12): the costliest full-resolution level goes away. */
  unshuffle?: boolean;
}

export function trunkSpecs(cfg: TrunkConfig, prefix: string): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let cin = cfg.unshuffle ? 12 : 3;
  cfg.layers.forEach((l, i) => {
    specs.push(
      { name: `${prefix}.convs.${i}.weight`, shape: [3, 3, cin, l.channels], init: 'he' },
      { name: `${prefix}.convs.${i}.bias`, shape: [l.channels], init: 'zeros' },
      { name: `${prefix}.norms.${i}.weight`, shape: [l.channels], init: 'ones' },
      { name: `${prefix}.norms.${i}.bias`, shape: [l.channels], init: 'zeros' },
    );
    cin = l.channels;
  });
  return specs;
}

/** 2×2 average pool [N,H,W,C] → [N,H/2,W/2,C] from reshapes and means (rank ≤ 4; cheap gradients on wasm). */
export function avgPool2(x: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const rows = tf.mean(tf.reshape(x, [n * (h / 2), 2, w, c]), 1); // [N·H/2, W, C]
    const both = tf.mean(tf.reshape(rows, [n * (h / 2), w / 2, 2, c]), 2); // [N·H/2, W/2, C]
    return tf.reshape(both, [n, h / 2, w / 2, c]);
  });
}

export function trunkWidth(cfg: TrunkConfig): number {
  return cfg.layers[cfg.layers.length - 1].channels;
}

/** Images [N,32,32,3] in [0,1] → pooled features [N, C] (global average over the last feature map). */
export function trunkFeatures(w: Weights, cfg: TrunkConfig, prefix: string, images: Tensor4D): Tensor2D {
  return tf.tidy(() => {
    let h = tf.sub(tf.mul(images, 2), 1) as Tensor4D;
    if (cfg.unshuffle) h = pixelUnshuffle2(h);
    cfg.layers.forEach((l, i) => {
      if (l.stride === 2) h = avgPool2(h);
      h = conv2d(h, get(w, `${prefix}.convs.${i}.weight`), get(w, `${prefix}.convs.${i}.bias`), 1);
      h = silu(groupNorm(h, cfg.groups, get(w, `${prefix}.norms.${i}.weight`), get(w, `${prefix}.norms.${i}.bias`))) as Tensor4D;
    });
    return tf.mean(h, [1, 2]) as Tensor2D;
  });
}

// ----------------------------------------------------------------------------------------------- judge heads
export type AttributeValues = Record<string, string[]>;

export function headSpecs(attributes: AttributeValues, width: number): ParamSpec[] {
  return Object.entries(attributes).flatMap(([attr, values]) => [
    { name: `heads.${attr}.weight`, shape: [values.length, width], init: 'lecun' as const },
    { name: `heads.${attr}.bias`, shape: [values.length], init: 'zeros' as const },
  ]);
}

/** Per-attribute logits [N, values] from pooled features. */
export function headLogits(w: Weights, attributes: AttributeValues, features: Tensor2D): Record<string, Tensor2D> {
  const out: Record<string, Tensor2D> = {};
  for (const attr of Object.keys(attributes)) {
    out[attr] = dense(features, get(w, `heads.${attr}.weight`), get(w, `heads.${attr}.bias`)) as Tensor2D;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ tokenizer
export const PAD = '<pad>';
export const UNK = '<unk>';

export function tokenizerVocabulary(words: readonly string[]): string[] {
  return [PAD, UNK, ...words];
}

/** Word-level ids [n, maxLen] (pad = 0) and the number of real tokens per text (≥ 1: empty text → one <unk>). */
export function tokenize(texts: readonly string[], vocab: readonly string[], maxLen: number): { ids: Int32Array; lengths: number[] } {
  const index = new Map(vocab.map((w, i) => [w, i]));
  const unk = index.get(UNK)!;
  const ids = new Int32Array(texts.length * maxLen);
  const lengths = texts.map((text, i) => {
    const words = text.toLowerCase().split(/[^a-z0-9-]+/).filter(Boolean).slice(0, maxLen);
    if (words.length === 0) words.push(UNK);
    words.forEach((word, k) => (ids[i * maxLen + k] = index.get(word) ?? unk));
    return words.length;
  });
  return { ids, lengths };
}

// --------------------------------------------------------------------------------------- text transformer
export interface TextConfig {
  vocab: string[];
  maxLen: number;
  width: number;
  layers: number;
  mlp: number;
}

export function textSpecs(cfg: TextConfig): ParamSpec[] {
  const d = cfg.width;
  const specs: ParamSpec[] = [
    { name: 'text.token_embedding.weight', shape: [cfg.vocab.length, d], init: { normal: 0.02 } },
    { name: 'text.position_embedding.weight', shape: [cfg.maxLen, d], init: { normal: 0.01 } },
  ];
  for (let i = 0; i < cfg.layers; i++) {
    const p = `text.layers.${i}`;
    specs.push(
      { name: `${p}.ln1.weight`, shape: [d], init: 'ones' }, { name: `${p}.ln1.bias`, shape: [d], init: 'zeros' },
      ...['q', 'k', 'v', 'out'].flatMap((m): ParamSpec[] => [
        { name: `${p}.attn.${m}.weight`, shape: [d, d], init: 'lecun' },
        { name: `${p}.attn.${m}.bias`, shape: [d], init: 'zeros' },
      ]),
      { name: `${p}.ln2.weight`, shape: [d], init: 'ones' }, { name: `${p}.ln2.bias`, shape: [d], init: 'zeros' },
      { name: `${p}.mlp.fc1.weight`, shape: [cfg.mlp, d], init: 'lecun' }, { name: `${p}.mlp.fc1.bias`, shape: [cfg.mlp], init: 'zeros' },
      { name: `${p}.mlp.fc2.weight`, shape: [d, cfg.mlp], init: 'lecun' }, { name: `${p}.mlp.fc2.bias`, shape: [d], init: 'zeros' },
    );
  }
  specs.push({ name: 'text.ln_final.weight', shape: [d], init: 'ones' }, { name: 'text.ln_final.bias', shape: [d], init: 'zeros' });
  return specs;
}

/**
 * Texts → features [n, width]: token + position embeddings, pre-LN transformer blocks (one attention head,
 * padded keys masked), final LayerNorm, mean over the real tokens. Embedding lookup is a one-hot matMul
 * (its gradient is a plain matMul; the vocabulary is a few dozen words).
 */
export function textFeatures(w: Weights, cfg: TextConfig, texts: readonly string[]): Tensor2D {
  const { ids, lengths } = tokenize(texts, cfg.vocab, cfg.maxLen);
  const n = texts.length;
  const L = cfg.maxLen;
  const d = cfg.width;
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.tensor1d(ids, 'int32'), cfg.vocab.length).toFloat() as Tensor2D;
    let h = tf.reshape(matMulPlain(oneHot, get(w, 'text.token_embedding.weight')), [n, L, d]) as Tensor3D;
    h = tf.add(h, get(w, 'text.position_embedding.weight')) as Tensor3D;
    const valid = new Float32Array(n * L);
    lengths.forEach((len, i) => valid.fill(1, i * L, i * L + len));
    const validT = tf.tensor2d(valid, [n, L]);
    const keyMask = tf.reshape(tf.mul(tf.sub(validT, 1), 1e9), [n, 1, L]); // 0 for real keys, −1e9 for padding
    const scale = 1 / Math.sqrt(d);
    for (let i = 0; i < cfg.layers; i++) {
      const p = `text.layers.${i}`;
      const x = layerNorm(h, get(w, `${p}.ln1.weight`), get(w, `${p}.ln1.bias`));
      const q = dense(x, get(w, `${p}.attn.q.weight`), get(w, `${p}.attn.q.bias`)) as Tensor3D;
      const k = dense(x, get(w, `${p}.attn.k.weight`), get(w, `${p}.attn.k.bias`)) as Tensor3D;
      const v = dense(x, get(w, `${p}.attn.v.weight`), get(w, `${p}.attn.v.bias`)) as Tensor3D;
      const scores = tf.add(tf.mul(batchMatMul(q, tf.transpose(k, [0, 2, 1]) as Tensor3D), scale), keyMask);
      const attn = batchMatMul(tf.softmax(scores) as Tensor3D, v);
      h = tf.add(h, dense(attn, get(w, `${p}.attn.out.weight`), get(w, `${p}.attn.out.bias`))) as Tensor3D;
      const y = layerNorm(h, get(w, `${p}.ln2.weight`), get(w, `${p}.ln2.bias`));
      const m = dense(gelu(dense(y, get(w, `${p}.mlp.fc1.weight`), get(w, `${p}.mlp.fc1.bias`))),
        get(w, `${p}.mlp.fc2.weight`), get(w, `${p}.mlp.fc2.bias`));
      h = tf.add(h, m) as Tensor3D;
    }
    h = layerNorm(h, get(w, 'text.ln_final.weight'), get(w, 'text.ln_final.bias')) as Tensor3D;
    const summed = tf.sum(tf.mul(h, tf.reshape(validT, [n, L, 1])), 1);
    return tf.div(summed, tf.tensor2d(lengths.map(Number), [n, 1])) as Tensor2D;
  });
}

/** Row-wise L2 normalisation. */
export function l2normalize(x: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.mul(x, x), 1, true), 1e-12))) as Tensor2D);
}

export function projection(w: Weights, name: string, x: Tensor2D): Tensor2D {
  return dense(x, get(w, `${name}.weight`), get(w, `${name}.bias`)) as Tensor2D;
}
