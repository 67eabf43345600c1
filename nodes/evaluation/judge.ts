// The shapes-judge: a small CNN with one softmax head per world attribute. It plays the role of the paper's
// ResNet-50 classifier: every erase/keep accuracy is "what the judge sees in the generated image".
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { NodeParamError } from '../sdk/errors.ts';
import type { NodeContext } from '../sdk/define.ts';
import { DEFAULT_CONCEPTS, type Attribute } from '../world/concepts.ts';
import { headLogits, headSpecs, trunkFeatures, trunkSpecs, trunkWidth, type AttributeValues, type TrunkConfig, type Weights } from './networks.ts';
import { layoutOf, type ParamLayout } from './params.ts';
import { loadEvalModel, type LoadedModel } from './model-files.ts';
import { checkModelRoots } from '../diffusion/model-handle.ts';

export interface JudgeConfig {
  kind: 'shapes-judge';
  image_size: number;
  trunk: TrunkConfig;
  /** Attribute → class names, in head order. */
  attributes: AttributeValues;
}

export const DEFAULT_JUDGE_CONFIG: JudgeConfig = {
  kind: 'shapes-judge',
  image_size: 32,
  trunk: {
    unshuffle: true,
    // Sized to train in minutes on a small share of 2 cores: the full-resolution work is at 16×16 after unshuffle.
    layers: [{ channels: 32, stride: 1 }, { channels: 64, stride: 2 }, { channels: 96, stride: 2 }, { channels: 128, stride: 1 }],
    groups: 8,
  },
  attributes: { ...DEFAULT_CONCEPTS },
};

export function judgeLayout(cfg: JudgeConfig): ParamLayout {
  return layoutOf([...trunkSpecs(cfg.trunk, 'trunk'), ...headSpecs(cfg.attributes, trunkWidth(cfg.trunk))]);
}

export function judgeLogits(w: Weights, cfg: JudgeConfig, images: Tensor4D): Record<string, Tensor2D> {
  return tf.tidy(() => headLogits(w, cfg.attributes, trunkFeatures(w, cfg.trunk, 'trunk', images)));
}

export type Judge = LoadedModel<JudgeConfig>;

export interface JudgeResult {
  /** Attributes the judge has heads for, in order. */
  attributes: string[];
  /** Per image: attribute → predicted value. */
  labels: Record<string, string>[];
  /** attribute → per image → probability of each class (classes as in `classes[attribute]`). */
  probs: Record<string, number[][]>;
  classes: AttributeValues;
}

/** Loads a judge (bundled name under modelsDir, or a folder); validates names and shapes against its config. */
export function loadJudge(nameOrDir = 'shapes-judge', modelsDir = 'models'): Promise<Judge> {
  return loadEvalModel<JudgeConfig>(nameOrDir, 'shapes-judge', judgeLayout, modelsDir);
}

/** Classifies images [N,32,32,3] in [0,1] in batches; does not dispose `images`. */
export async function judgeImages(judge: Judge, images: Tensor4D, batchSize = 128): Promise<JudgeResult> {
  const cfg = judge.config;
  const [n, h, w, c] = images.shape;
  if (h !== cfg.image_size || w !== cfg.image_size || c !== 3) {
    throw new Error(`judgeImages: expected [N,${cfg.image_size},${cfg.image_size},3] images, got [${images.shape}]`);
  }
  const attributes = Object.keys(cfg.attributes);
  const labels: Record<string, string>[] = Array.from({ length: n }, () => ({}));
  const probs: Record<string, number[][]> = Object.fromEntries(attributes.map((a) => [a, []]));
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const batchProbs = tf.tidy(() => {
      const x = tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]);
      const logits = judgeLogits(judge.weights, cfg, x);
      return attributes.map((a) => tf.softmax(logits[a]));
    });
    const arrays = await Promise.all(batchProbs.map((t: Tensor) => t.array() as Promise<number[][]>));
    tf.dispose(batchProbs);
    attributes.forEach((a, k) => {
      arrays[k].forEach((p, i) => {
        probs[a].push(p);
        let best = 0;
        for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
        labels[start + i][a] = cfg.attributes[a][best];
      });
    });
  }
  return { attributes, labels, probs, classes: cfg.attributes };
}

/** Fraction of images whose predicted `attribute` equals the expected label (images without one are skipped). */
export function attributeAccuracy(
  predicted: Record<string, string>[], expected: (Record<string, string> | undefined)[], attribute: Attribute | string,
): { accuracy: number; count: number } {
  let hits = 0;
  let count = 0;
  predicted.forEach((p, i) => {
    const want = expected[i]?.[attribute];
    if (want === undefined) return;
    count++;
    if (p[attribute] === want) hits++;
  });
  return { accuracy: count ? hits / count : NaN, count };
}

/** The judge a node's param names, its hash recorded; a load failure is a NodeParamError on that param. */
export async function judgeFor(ctx: NodeContext, param: string, nameOrDir: string): Promise<Judge> {
  checkModelRoots(nameOrDir, ctx.dirs.modelRoots, param);
  try {
    const judge = await loadJudge(nameOrDir, ctx.dirs.models);
    ctx.record({ hashes: { [`judge:${nameOrDir}`]: judge.sha256 } });
    return judge;
  } catch (err) {
    throw new NodeParamError(param, `cannot load judge "${nameOrDir}": ${(err as Error).message}`);
  }
}
