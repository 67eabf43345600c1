// Runs the erasure protocol on models: samples every protocol prompt with its fixed seed, judges the images,
// and scores the caption set with shapes-CLIP (CLIP score, FD against reference renders).
// Images are judged/embedded chunk by chunk and freed at once: memory stays bounded for the full protocol.
import type { Tensor4D } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import type { ImageBatch } from '../sdk/image.ts';
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
  /** Hands over a few judged samples per model (the same prompts and seeds for every model), e.g. for a grid. */
  onSamples?(model: string, samples: ShownSamples): void | Promise<void>;
  /** Adds the milliseconds spent per phase (all models) into this record. */
  phases?: ErasurePhases;
}

/** Milliseconds per phase of an evaluation: sampling images, judging them, shapes-CLIP embeddings, scores (CLIP score, FD). */
export interface ErasurePhases { generation: number; judging: number; clip: number; scores: number }

/** A fresh phase record. */
export const noPhases = (): ErasurePhases => ({ generation: 0, judging: 0, clip: 0, scores: 0 });

/** Awaits `f`, adding its wall time to `phases[key]` when phases are recorded. */
async function timed<T>(phases: ErasurePhases | undefined, key: keyof ErasurePhases, f: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    if (phases) phases[key] += performance.now() - t0;
  }
}

/** One shown sample: which prompt made it and what the judge read for the protocol's attribute. */
export interface ShownTile { kind: 'concept' | 'keep'; prompt: string; seed: number; value: string; judged: string }

/** A model's shown samples, row-major in a `columns`-wide grid: the concept row, then the kept values' row. */
export interface ShownSamples { batch: ImageBatch; columns: number; tiles: (ShownTile | null)[] }

/**
 * The prompts shown per model: the first `columns` concept prompts, and the keep prompts round-robin over the kept
 * values (one of each when there are enough columns); `columns` = the kept values' count within [3, 6].
 * Missing prompts leave null (blank) tiles so both rows line up.
 */
export function shownPrompts(p: ErasureProtocol): { columns: number; shown: ({ q: ProtocolPrompt; kind: 'concept' | 'keep' } | null)[] } {
  const byValue = new Map<string, ProtocolPrompt[]>();
  for (const q of p.keep) {
    const v = String(q.labels[p.attribute]);
    byValue.set(v, [...(byValue.get(v) ?? []), q]);
  }
  const columns = Math.min(6, Math.max(3, byValue.size));
  const lists = [...byValue.values()];
  const keep: ProtocolPrompt[] = [];
  for (let i = 0; keep.length < columns && lists.some((l) => l.length > i); i++) {
    for (const l of lists) if (l[i] && keep.length < columns) keep.push(l[i]!);
  }
  const row = (qs: (ProtocolPrompt | undefined)[], kind: 'concept' | 'keep') =>
    Array.from({ length: columns }, (_, i) => (qs[i] ? { q: qs[i]!, kind } : null));
  return { columns, shown: [...row(p.target, 'concept'), ...row(keep, 'keep')] };
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

/** The shown tiles of one model from the pixels kept while judging (blank tiles: the grid's gap grey). */
function shownSamples(s: ReturnType<typeof shownPrompts>, kept: Map<string, Float32Array>, hw: [number, number], obs: ModelObservations, attribute: string): ShownSamples {
  const size = hw[0] * hw[1] * 3;
  const pixels = new Float32Array(s.shown.length * size).fill(0.2);
  const tiles = s.shown.map((t, i) => {
    const px = t && kept.get(keyOf(t.q));
    if (!t || !px) return null;
    pixels.set(px, i * size);
    const { prompt, seed, labels } = t.q;
    return { kind: t.kind, prompt, seed, value: String(labels[attribute as keyof typeof labels]), judged: obs.judged.get(keyOf(t.q))?.[attribute] ?? '' };
  });
  return { batch: { pixels, n: s.shown.length, height: hw[0], width: hw[1] }, columns: s.columns, tiles };
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
  const referenceEmb = await timed(o.phases, 'clip', () => embedImages(o.clip, refImages)).finally(() => refImages.dispose());
  const captionTextEmb = await timed(o.phases, 'clip', () => embedTexts(o.clip, captions.map((q) => q.prompt)));

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
  const shown = shownPrompts(protocols[0]);
  const shownKeys = new Set(shown.shown.flatMap((s) => (s ? [keyOf(s.q)] : [])));
  const rows: ErasureRow[] = [];
  for (const [m, source] of sources.entries()) {
    let done = 0;
    let previewed = false;
    const makeImages = async (batch: ProtocolPrompt[]) => {
      const images = await timed(o.phases, 'generation', () => source.sample(batch.map((q) => q.prompt), batch.map((q) => q.seed), o.signal));
      done += batch.length;
      o.progress?.(m * perModel + done, total, `${source.name}: ${done}/${perModel} images`);
      if (!previewed && o.onImages) { previewed = true; await o.onImages(source.name, images); }
      return images;
    };
    const obs: ModelObservations = { judged: new Map(), captionEmbeddings: new Float32Array(captions.length * d) };
    const kept = new Map<string, Float32Array>();
    let hw: [number, number] = [32, 32];
    await observe(judged, makeImages, chunk, async (images, batch) => {
      const r = await timed(o.phases, 'judging', () => judgeImages(o.judge, images));
      batch.forEach((q, i) => obs.judged.set(keyOf(q), r.labels[i]));
      if (o.onSamples && batch.some((q) => shownKeys.has(keyOf(q)))) {
        const px = await images.data() as Float32Array;
        const size = px.length / batch.length;
        hw = [images.shape[1], images.shape[2]];
        batch.forEach((q, i) => { if (shownKeys.has(keyOf(q))) kept.set(keyOf(q), px.slice(i * size, (i + 1) * size)); });
      }
    }, o.signal);
    if (o.onSamples) await o.onSamples(source.name, shownSamples(shown, kept, hw, obs, protocols[0].attribute));
    await observe(captions, makeImages, chunk, async (images, _batch, start) => {
      obs.captionEmbeddings.set(await timed(o.phases, 'clip', () => embedImages(o.clip, images)), start * d);
    }, o.signal);
    rows.push(...await timed(o.phases, 'scores', () => rowsFor(source.name, protocols, obs, captions, captionTextEmb, referenceEmb, ref.count, d, perModel)));
  }
  return rows;
}
