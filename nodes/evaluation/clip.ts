// shapes-CLIP: a dual encoder (CNN image tower, small transformer text tower) trained contrastively on
// (render, caption) pairs. Gives the CLIP score (torchmetrics: 100·max(cos, 0)) and the embeddings for FD.
import type { Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { NodeParamError } from '../sdk/errors.ts';
import type { NodeContext } from '../sdk/define.ts';
import { DEFAULT_CONCEPTS, type WorldConcepts } from '../world/concepts.ts';
import { worldVocabulary } from '../world/captions.ts';
import {
  l2normalize, projection, textFeatures, textSpecs, tokenizerVocabulary, trunkFeatures, trunkSpecs, trunkWidth,
  type TextConfig, type TrunkConfig, type Weights,
} from './networks.ts';
import { layoutOf, type ParamLayout } from './params.ts';
import { loadEvalModel, type LoadedModel } from './model-files.ts';
import { checkModelRoots } from '../diffusion/model-handle.ts';

export interface ClipConfig {
  kind: 'shapes-clip';
  image_size: number;
  trunk: TrunkConfig;
  text: TextConfig;
  embed_dim: number;
  /** Softmax temperature of the contrastive loss (fixed). */
  temperature: number;
  /** The concepts it was trained on (zero-shot prompts are built from these). */
  concepts: WorldConcepts;
}

export function defaultClipConfig(concepts: WorldConcepts = DEFAULT_CONCEPTS): ClipConfig {
  return {
    kind: 'shapes-clip',
    image_size: 32,
    // A third of the judge's conv cost: CLIP must train in minutes on a shared 2-core machine.
    trunk: {
      unshuffle: true,
      layers: [{ channels: 32, stride: 1 }, { channels: 64, stride: 2 }, { channels: 96, stride: 2 }],
      groups: 8,
    },
    text: { vocab: tokenizerVocabulary(worldVocabulary(concepts)), maxLen: 12, width: 64, layers: 1, mlp: 128 },
    embed_dim: 64,
    temperature: 0.07,
    concepts,
  };
}

export function clipLayout(cfg: ClipConfig): ParamLayout {
  return layoutOf([
    ...trunkSpecs(cfg.trunk, 'image.trunk'),
    { name: 'image.proj.weight', shape: [cfg.embed_dim, trunkWidth(cfg.trunk)], init: 'lecun' },
    { name: 'image.proj.bias', shape: [cfg.embed_dim], init: 'zeros' },
    ...textSpecs(cfg.text),
    { name: 'text.proj.weight', shape: [cfg.embed_dim, cfg.text.width], init: 'lecun' },
    { name: 'text.proj.bias', shape: [cfg.embed_dim], init: 'zeros' },
  ]);
}

/** Unit-norm image embeddings [N, D] (inside the caller's tidy or owned by the caller). */
export function imageEmbeddings(w: Weights, cfg: ClipConfig, images: Tensor4D): Tensor2D {
  return tf.tidy(() => l2normalize(projection(w, 'image.proj', trunkFeatures(w, cfg.trunk, 'image.trunk', images))));
}

/** Unit-norm text embeddings [N, D]. */
export function textEmbeddings(w: Weights, cfg: ClipConfig, texts: readonly string[]): Tensor2D {
  return tf.tidy(() => l2normalize(projection(w, 'text.proj', textFeatures(w, cfg.text, texts))));
}

export type Clip = LoadedModel<ClipConfig>;

/** Loads a shapes-CLIP (bundled name under modelsDir, or a folder). */
export function loadClip(nameOrDir = 'shapes-clip', modelsDir = 'models'): Promise<Clip> {
  return loadEvalModel<ClipConfig>(nameOrDir, 'shapes-clip', clipLayout, modelsDir);
}

/** Image embeddings as a flat row-major Float32Array [N·D], computed in batches; does not dispose `images`. */
export async function embedImages(clip: Clip, images: Tensor4D, batchSize = 128): Promise<Float32Array> {
  const n = images.shape[0];
  const d = clip.config.embed_dim;
  const out = new Float32Array(n * d);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const e = tf.tidy(() => imageEmbeddings(clip.weights, clip.config, tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1])));
    out.set(await e.data() as Float32Array, start * d);
    e.dispose();
  }
  return out;
}

export async function embedTexts(clip: Clip, texts: readonly string[], batchSize = 256): Promise<Float32Array> {
  const d = clip.config.embed_dim;
  const out = new Float32Array(texts.length * d);
  for (let start = 0; start < texts.length; start += batchSize) {
    const part = texts.slice(start, start + batchSize);
    const e = textEmbeddings(clip.weights, clip.config, part);
    out.set(await e.data() as Float32Array, start * d);
    e.dispose();
  }
  return out;
}

/** CLIP score per (image i, text i) pair from unit-norm embeddings: 100·max(cos, 0), as torchmetrics. */
export function clipScoresOf(imageEmb: Float32Array, textEmb: Float32Array, d: number): number[] {
  const n = imageEmb.length / d;
  if (textEmb.length !== imageEmb.length) throw new Error(`clipScores: ${n} images but ${textEmb.length / d} texts`);
  return Array.from({ length: n }, (_, i) => {
    let dot = 0;
    for (let k = 0; k < d; k++) dot += imageEmb[i * d + k] * textEmb[i * d + k];
    return 100 * Math.max(dot, 0);
  });
}

/** The shapes-CLIP a node's param names, its hash recorded; a load failure is a NodeParamError on that param. */
export async function clipFor(ctx: NodeContext, param: string, nameOrDir: string): Promise<Clip> {
  checkModelRoots(nameOrDir, ctx.dirs.modelRoots, param);
  try {
    const clip = await loadClip(nameOrDir, ctx.dirs.models);
    ctx.record({ hashes: { [`clip:${nameOrDir}`]: clip.sha256 } });
    return clip;
  } catch (err) {
    throw new NodeParamError(param, `cannot load shapes-CLIP "${nameOrDir}": ${(err as Error).message}`);
  }
}
