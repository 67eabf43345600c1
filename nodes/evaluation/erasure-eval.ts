// Runs the erasure protocol on models: samples every protocol prompt with its fixed seed, judges the images,
// and scores the caption set with shapes-CLIP (CLIP score, FD against reference renders).
// Images are judged/embedded chunk by chunk and freed at once: memory stays bounded for the full protocol.
import type { Tensor4D } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { CancelledError } from '../sdk/errors.ts';
import { renderBatch, renderScene } from '../world/render.ts';
import { clipScoresOf, embedImages, embedTexts, type Clip } from './clip.ts';
import { frechetDistance } from './fd.ts';
import { judgeImages, type Judge } from './judge.ts';
import type { ErasureProtocol, ProtocolPrompt } from './protocols/erasure.ts';

export const ERASURE_COLUMNS = ['model', 'erase_acc', 'keep_acc', 'harmonic', 'clip_score', 'fd', 'images'] as const;

/** The row scored on world renders instead of a model's samples. */
export const REFERENCE_ROW = 'world renders (reference)';

export interface ErasureRow {
  model: string;
  concept: string;
  /** Judge accuracy on target prompts (the concept is still there): lower = erased. */
  erase_acc: number;
  /** Judge accuracy on keep prompts (other values of the same attribute): higher = preserved. */
  keep_acc: number;
  /** Harmonic mean of (1 − erase_acc) and keep_acc. */
  harmonic: number;
  clip_score: number;
  fd: number;
  images: number;
}

/** Produces images for prompts with seeds; the evaluation calls it one chunk at a time. */
export type SampleFn = (prompts: string[], seeds: number[], signal?: AbortSignal) => Promise<Tensor4D>;

export interface EvaluatedModel {
  name: string;
  sample: SampleFn;
}

export interface ErasureEvalOptions {
  judge: Judge;
  clip: Clip;
  /** Prompts per sampling call (progress and cancellation points). */
  chunk?: number;
  signal?: AbortSignal;
  progress?(done: number, total: number, label: string): void;
  /** Called with the first chunk of each model's images (e.g. to preview them); must not dispose them. */
  onImages?(model: string, images: Tensor4D): void | Promise<void>;
  /** Adds a row scored on world renders of the same prompts: the ceiling and FD's sampling-noise floor. */
  referenceRow?: boolean;
}

export function harmonicMean(eraseAcc: number, keepAcc: number): number {
  const a = 1 - eraseAcc;
  return a + keepAcc > 0 ? (2 * a * keepAcc) / (a + keepAcc) : 0;
}

const keyOf = (p: ProtocolPrompt) => `${p.seed}\u0000${p.prompt}`;

/** Every distinct prompt the protocols need, judged ones first, then the caption set. */
function plan(protocols: ErasureProtocol[]): { judged: ProtocolPrompt[]; captions: ProtocolPrompt[] } {
  const judged = new Map<string, ProtocolPrompt>();
  for (const p of protocols) for (const q of [...p.target, ...p.keep]) judged.set(keyOf(q), q);
  const captions = new Map<string, ProtocolPrompt>();
  for (const p of protocols) for (const q of p.captions) captions.set(keyOf(q), q);
  return { judged: [...judged.values()], captions: [...captions.values()] };
}

interface ModelObservations {
  /** Judge labels per judged prompt key. */
  judged: Map<string, Record<string, string>>;
  /** Image embeddings of the caption set, in caption order. */
  captionEmbeddings: Float32Array;
}

function rowsFor(name: string, protocols: ErasureProtocol[], obs: ModelObservations, captionOrder: ProtocolPrompt[],
  captionTextEmb: Float32Array, referenceEmb: Float32Array, referenceCount: number, d: number, images: number): ErasureRow[] {
  return protocols.map((p) => {
    const acc = (prompts: ProtocolPrompt[]) => {
      let hits = 0;
      for (const q of prompts) if (obs.judged.get(keyOf(q))?.[p.attribute] === q.labels[p.attribute]) hits++;
      return prompts.length ? hits / prompts.length : NaN;
    };
    const erase = acc(p.target);
    const keep = acc(p.keep);
    // CLIP score and FD over this protocol's caption set (rows of the shared caption list).
    const index = new Map(captionOrder.map((q, i) => [keyOf(q), i]));
    const rowsIdx = p.captions.map((q) => index.get(keyOf(q))!);
    const pick = (emb: Float32Array) => {
      const out = new Float32Array(rowsIdx.length * d);
      rowsIdx.forEach((r, k) => out.set(emb.subarray(r * d, (r + 1) * d), k * d));
      return out;
    };
    const img = pick(obs.captionEmbeddings);
    const scores = clipScoresOf(img, pick(captionTextEmb), d);
    return {
      model: name, concept: p.concept, erase_acc: erase, keep_acc: keep, harmonic: harmonicMean(erase, keep),
      clip_score: scores.reduce((a, b) => a + b, 0) / Math.max(1, scores.length),
      fd: frechetDistance(img, rowsIdx.length, referenceEmb, referenceCount, d), images,
    };
  });
}

async function observe(
  prompts: ProtocolPrompt[], makeImages: (batch: ProtocolPrompt[]) => Promise<Tensor4D>, chunk: number,
  use: (images: Tensor4D, batch: ProtocolPrompt[], start: number) => Promise<void>, signal?: AbortSignal,
): Promise<void> {
  for (let start = 0; start < prompts.length; start += chunk) {
    if (signal?.aborted) throw new CancelledError();
    const batch = prompts.slice(start, start + chunk);
    const images = await makeImages(batch);
    try {
      await use(images, batch, start);
    } finally {
      images.dispose();
    }
  }
}

/** Evaluates every model on every protocol (one row per model × protocol; a reference row first if asked). */
export async function evaluateErasure(models: EvaluatedModel[], protocols: ErasureProtocol[], o: ErasureEvalOptions): Promise<ErasureRow[]> {
  if (protocols.length === 0) throw new Error('evaluateErasure: no protocol');
  if (o.signal?.aborted) throw new CancelledError();
  const chunk = Math.max(1, o.chunk ?? 32);
  const { judged, captions } = plan(protocols);
  const d = o.clip.config.embed_dim;
  const ref = protocols[0].reference;
  const refRenders = renderBatch(ref.count, ref.seed);
  const refImages = tf.tensor4d(refRenders.pixels, [ref.count, 32, 32, 3]);
  const referenceEmb = await embedImages(o.clip, refImages).finally(() => refImages.dispose());
  const captionTextEmb = await embedTexts(o.clip, captions.map((q) => q.prompt));

  const perModel = judged.length + captions.length;
  const sources: EvaluatedModel[] = [...models];
  const byKey = new Map([...judged, ...captions].map((q) => [keyOf(q), q]));
  const renderSource: EvaluatedModel = {
    name: REFERENCE_ROW,
    // Renders of each prompt's full scene, with the prompt's seed for jitter: what a perfect model would draw.
    sample: async (prompts, seeds) => {
      const px = new Float32Array(prompts.length * 3072);
      prompts.forEach((p, i) => px.set(renderScene(byKey.get(`${seeds[i]}\u0000${p}`)!.scene, seeds[i]), i * 3072));
      return tf.tensor4d(px, [prompts.length, 32, 32, 3]);
    },
  };
  if (o.referenceRow) sources.unshift(renderSource);
  const total = perModel * sources.length;
  const rows: ErasureRow[] = [];
  for (const [m, source] of sources.entries()) {
    let done = 0;
    let previewed = false;
    const makeImages = async (batch: ProtocolPrompt[]) => {
      const images = await source.sample(batch.map((q) => q.prompt), batch.map((q) => q.seed), o.signal);
      done += batch.length;
      o.progress?.(m * perModel + done, total, `${source.name}: ${done}/${perModel} images`);
      if (!previewed && o.onImages) { previewed = true; await o.onImages(source.name, images); }
      return images;
    };
    const obs: ModelObservations = { judged: new Map(), captionEmbeddings: new Float32Array(captions.length * d) };
    await observe(judged, makeImages, chunk, async (images, batch) => {
      const r = await judgeImages(o.judge, images);
      batch.forEach((q, i) => obs.judged.set(keyOf(q), r.labels[i]));
    }, o.signal);
    await observe(captions, makeImages, chunk, async (images, _batch, start) => {
      obs.captionEmbeddings.set(await embedImages(o.clip, images), start * d);
    }, o.signal);
    rows.push(...rowsFor(source.name, protocols, obs, captions, captionTextEmb, referenceEmb, ref.count, d, perModel));
  }
  return rows;
}
