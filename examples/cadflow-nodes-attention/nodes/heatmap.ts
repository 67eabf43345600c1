// DAAM (Tang et al. 2023, "What the DAAM: Interpreting Stable Diffusion Using Cross Attention"): while an image
// is sampled, every cross-attention module's probabilities for the word's token(s) are read through the model
// API's observers, upsampled to image size and summed over heads, layers and steps; each image's map is then
// scaled to [0,1] between its minimum and maximum (the attention never falls to 0 anywhere, so scaling by the
// maximum alone leaves the background lukewarm). Sampling runs on this thread (observers do not cross to worker threads).
import { tf } from 'cadflow/sdk';
import { configOf, sampleImages, tokenizerFor, type ModelLike, type ModuleObserver } from 'cadflow/model';

type Tensor = tf.Tensor;
type Tensor3D = tf.Tensor3D;
type Tensor4D = tf.Tensor4D;

/** The UNet's cross-attention modules, by part (diffusers names end in `.attn2`). */
export const CROSS_ATTENTION = {
  all: /\.attn2$/, down: /^down_blocks\..*\.attn2$/, mid: /^mid_block\..*\.attn2$/, up: /^up_blocks\..*\.attn2$/,
} as const;

/** The node's defaults: they localise best on shapes-tiny (examples/cadflow-nodes-attention/README.md). */
export const DEFAULT_HEATMAP = { layers: CROSS_ATTENTION.down, finestOnly: true, fromStep: 0.75 } as const;

export interface HeatmapOptions {
  steps?: number;
  cfg?: number;
  /** Images sampled together (each image depends only on its prompt and seed, not on the batch). */
  batchSize?: number;
  /** Cross-attention modules to aggregate (default every one: CROSS_ATTENTION.all). */
  layers?: RegExp;
  /** Only the finest grid among the observed modules (e.g. 8×8 of 8×8 and 4×4); default false: every grid. */
  finestOnly?: boolean;
  /** Aggregate the steps from this fraction of the sampling on (default 0: every step). */
  fromStep?: number;
  /** Renormalise each query's probabilities over the tokens other than the start token (default false). */
  excludeStart?: boolean;
  signal?: AbortSignal;
  /** After every sampling step (for progress and cancellation): steps done so far of all images, and the total. */
  onStep?(done: number, total: number): void | Promise<void>;
}

export interface ConceptHeatmaps {
  /** The samples [N,S,S,3] in [0,1]. */
  images: Tensor4D;
  /** Per image, where the word was drawn [N,S,S] in [0,1] (0 at the map's minimum, 1 at its maximum; all 0 if the word is absent). */
  heatmaps: Tensor3D;
  /** Per prompt, the positions of the word's tokens in the prompt's encoding (empty when it does not occur). */
  positions: number[][];
}

/** Positions of `word` in each prompt's token ids; throws when the word is not in the model's vocabulary. */
export function wordPositions(model: ModelLike, prompts: readonly string[], word: string): number[][] {
  const tok = tokenizerFor(configOf(model));
  const id = tok.idOf(word);
  if (id === undefined) throw new Error(`"${word}" is not a word of the model's vocabulary`);
  return prompts.map((p) => [...tok.encode(p)].flatMap((t, j) => (t === id ? [j] : [])));
}

/** Samples one image per prompt and maps where `word` is drawn in each (the caller owns the tensors). */
export async function conceptHeatmaps(
  model: ModelLike, prompts: readonly string[], seeds: readonly number[], word: string, opts: HeatmapOptions = {},
): Promise<ConceptHeatmaps> {
  if (seeds.length !== prompts.length) throw new Error(`${seeds.length} seeds for ${prompts.length} prompts`);
  const positions = wordPositions(model, prompts, word);
  const config = configOf(model);
  const size = config.cadflow.image_size;
  const L = config.tokenizer.model_max_length;
  const steps = opts.steps ?? 25;
  const firstStep = Math.floor((opts.fromStep ?? 0) * steps);
  const batch = Math.max(1, opts.batchSize ?? 16);
  const images: Tensor4D[] = [];
  const maps: Tensor3D[] = [];
  try {
    for (let start = 0; start < prompts.length; start += batch) {
      const n = Math.min(batch, prompts.length - start);
      const mask = new Float32Array(n * L);
      positions.slice(start, start + n).forEach((pos, i) => pos.forEach((j) => { mask[i * L + j] = 1; }));
      // One sum per attention grid (e.g. 8×8 and 4×4), so finestOnly can pick one at the end.
      const sums = new Map<number, Tensor>();
      let step = 0;
      const observer: ModuleObserver = {
        module: opts.layers ?? CROSS_ATTENTION.all,
        kind: 'attention',
        onTensor(_name, probs) {
          if (step < firstStep) return;
          const [, heads, h, w] = probs.shape as [number, number, number, number, number];
          const old = sums.get(h);
          sums.set(h, tf.tidy(() => {
            // The conditional rows come first (with guidance the unconditional ones follow).
            const p = tf.reshape(tf.slice(probs, 0, n), [n, heads * h * w, L]) as Tensor3D;
            let onWord: Tensor = tf.matMul(p, tf.tensor3d(mask, [n, L, 1])); // [n, heads·h·w, 1]
            if (opts.excludeStart) onWord = tf.div(onWord, tf.maximum(tf.sub(1, tf.slice(p, [0, 0, 0], [-1, -1, 1])), 1e-6));
            const perPixel = tf.sum(tf.reshape(onWord, [n, heads, h, w, 1]), 1) as Tensor4D;
            const up = tf.image.resizeBilinear(perPixel, [size, size], true);
            return tf.keep(old ? tf.add(old, up) : up);
          }));
          old?.dispose();
        },
      };
      try {
        images.push(await sampleImages(model, prompts.slice(start, start + n), seeds.slice(start, start + n),
          { steps, cfg: opts.cfg, batchSize: n }, {
            observers: [observer],
            signal: opts.signal,
            onStep: async () => {
              step++;
              await opts.onStep?.(start * steps + step * n, prompts.length * steps);
            },
          }));
        if (sums.size === 0) throw new Error(`no cross-attention module matches ${opts.layers ?? CROSS_ATTENTION.all}`);
        maps.push(tf.tidy(() => {
          const grids = [...sums.keys()].sort((a, b) => b - a);
          const picked = opts.finestOnly ? [sums.get(grids[0]!)!] : grids.map((g) => sums.get(g)!);
          const m = tf.squeeze(tf.addN(picked), [3]) as Tensor3D;
          const lo = tf.min(m, [1, 2], true);
          return tf.div(tf.sub(m, lo), tf.maximum(tf.sub(tf.max(m, [1, 2], true), lo), 1e-12)) as Tensor3D;
        }));
      } finally {
        tf.dispose([...sums.values()]);
      }
    }
    return {
      images: images.length === 1 ? images[0]! : (tf.concat(images) as Tensor4D),
      heatmaps: maps.length === 1 ? maps[0]! : (tf.concat(maps) as Tensor3D),
      positions,
    };
  } finally {
    if (images.length > 1) tf.dispose(images);
    if (maps.length > 1) tf.dispose(maps);
  }
}

/** A heat colour map (jet: blue → cyan → yellow → red) of h [N,S,S] in [0,1] → [N,S,S,3]. */
export function heatColours(h: Tensor3D): Tensor4D {
  return tf.tidy(() => {
    const x = tf.mul(tf.expandDims(h, 3), 4);
    const band = (centre: number) => tf.clipByValue(tf.sub(1.5, tf.abs(tf.sub(x, centre))), 0, 1);
    return tf.concat([band(3), band(2), band(1)], 3) as Tensor4D;
  });
}

/** The heat colours over a grey copy of the images: 40 % image luminance, 60 % heat. */
export function overlayHeatmaps(images: Tensor4D, h: Tensor3D): Tensor4D {
  return tf.tidy(() => {
    const luma = tf.sum(tf.mul(images, tf.tensor1d([0.299, 0.587, 0.114])), 3, true);
    return tf.add(tf.mul(luma, 0.4), tf.mul(heatColours(h), 0.6)) as Tensor4D;
  });
}

/** The heatmaps as grey images [N,S,S,3] (e.g. a soft mask downstream). */
export function heatmapImages(h: Tensor3D): Tensor4D {
  return tf.tidy(() => tf.tile(tf.expandDims(h, 3), [1, 1, 1, 3]) as Tensor4D);
}
