// Trains shapes-CLIP contrastively on (render, caption) pairs and writes models/shapes-clip.
// Captions may leave attributes open ("a red shape on a dotted background"), so a batch holds several captions
// that truly describe an image: the targets are soft, uniform over every caption consistent with the image
// (and every image consistent with the caption), instead of CLIP's one-hot diagonal.
// Usage: tsx nodes/evaluation/train/train-clip.ts [--steps N] [--batch N] [--lr X] [--seed N] [--out DIR] [--init CKPT]
import type { Scalar, Tensor2D } from '@tensorflow/tfjs';
import { initRuntime, tf } from '../../sdk/runtime.ts';
import { matMulPlain } from '../../diffusion/ops/index.ts';
import { ATTRIBUTES } from '../../world/concepts.ts';
import { parsePrompt } from '../../world/captions.ts';
import { mixSeed } from '../../world/rng.ts';
import { renderBatch } from '../../world/render.ts';
import { captionMatches, recallAt1, zeroShotAccuracy, zeroShotClasses, zeroShotEntries } from '../clip-eval.ts';
import { clipLayout, defaultClipConfig, imageEmbeddings, textEmbeddings, type ClipConfig } from '../clip.ts';
import { frechetDistance } from '../fd.ts';
import { saveEvalModel } from '../model-files.ts';
import type { Weights } from '../networks.ts';
import { initParams, mapOf, tensorsOf, type ParamLayout } from '../params.ts';
import { heldOutSet, trainBatch, type WorldBatch } from './data.ts';
import { trainLoop } from './loop.ts';
import { commandLine, parseArgs, readCheckpoint, writeCheckpoint, writeModelCard } from './cli-util.ts';

/** Row-normalised soft targets: targets[i][j] ∝ caption j describes image i. */
function consistencyTargets(batch: WorldBatch): { imageToText: Float32Array; textToImage: Float32Array } {
  const n = batch.n;
  const m = new Float32Array(n * n);
  const named = batch.captions.map((c) => parsePrompt(c));
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] = captionMatches(named[j], batch.labels[i]) ? 1 : 0;
  const i2t = new Float32Array(n * n);
  const t2i = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    let rowSum = 0, colSum = 0;
    for (let j = 0; j < n; j++) { rowSum += m[i * n + j]; colSum += m[j * n + i]; }
    for (let j = 0; j < n; j++) { i2t[i * n + j] = m[i * n + j] / rowSum; t2i[i * n + j] = m[j * n + i] / colSum; }
  }
  return { imageToText: i2t, textToImage: t2i };
}

export function clipLoss(w: Weights, cfg: ClipConfig, batch: WorldBatch): Scalar {
  const { imageToText, textToImage } = consistencyTargets(batch);
  return tf.tidy(() => {
    const n = batch.n;
    const img = imageEmbeddings(w, cfg, tf.tensor4d(batch.pixels, [n, 32, 32, 3]));
    const txt = textEmbeddings(w, cfg, batch.captions);
    const logits = tf.mul(matMulPlain(img, tf.transpose(txt) as Tensor2D), 1 / cfg.temperature) as Tensor2D;
    const ce = (l: Tensor2D, target: Float32Array) => tf.neg(tf.mean(tf.sum(tf.mul(tf.tensor2d(target, [n, n]), tf.logSoftmax(l)), 1)));
    return tf.mul(tf.add(ce(logits, imageToText), ce(tf.transpose(logits) as Tensor2D, textToImage)), 0.5) as Scalar;
  });
}

function embed(layout: ParamLayout, flat: Float32Array, cfg: ClipConfig, set: WorldBatch, texts: string[]): { img: Float32Array; txt: Float32Array } {
  const params = tensorsOf(layout, flat);
  const w = mapOf(layout, params);
  const d = cfg.embed_dim;
  const img = new Float32Array(set.n * d);
  for (let s = 0; s < set.n; s += 250) {
    const size = Math.min(250, set.n - s);
    const e = tf.tidy(() => imageEmbeddings(w, cfg, tf.tensor4d(set.pixels.subarray(s * 3072, (s + size) * 3072), [size, 32, 32, 3])));
    img.set(e.dataSync(), s * d);
    e.dispose();
  }
  const txt = new Float32Array(texts.length * d);
  for (let s = 0; s < texts.length; s += 500) {
    const e = textEmbeddings(w, cfg, texts.slice(s, s + 500));
    txt.set(e.dataSync(), s * d);
    e.dispose();
  }
  tf.dispose(params);
  return { img, txt };
}

/** Zero-shot accuracy per attribute and recall@1 on held-out pairs. */
export function evaluateClip(layout: ParamLayout, flat: Float32Array, cfg: ClipConfig, set: WorldBatch) {
  const d = cfg.embed_dim;
  const entries = zeroShotEntries(cfg.concepts);
  const { img, txt } = embed(layout, flat, cfg, set, [...set.captions, ...entries.flatMap((e) => e.texts)]);
  const captionEmb = txt.subarray(0, set.n * d);
  const classes = zeroShotClasses(entries, txt.subarray(set.n * d), d);
  const zeroShot: Record<string, number> = {};
  for (const a of ATTRIBUTES) zeroShot[a] = zeroShotAccuracy(img, set.labels, a, classes.get(a)!, d);
  return { zero_shot_accuracy: zeroShot, recall_at_1: recallAt1(img, captionEmb, set.labels, set.captions, d), imageEmbeddings: img };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    steps: 5250, batch: 64, lr: 3e-3, seed: 2, out: 'models/shapes-clip', heldout: 1000, fdsets: 1000, init: '', trained: 0, history: '', checkpoint: '.tmp/eval/clip',
  });
  const backend = await initRuntime();
  const cfg = defaultClipConfig();
  const layout = clipLayout(cfg);
  const resumed = args.init ? await readCheckpoint(String(args.init), layout) : undefined;
  const flat = resumed?.flat ?? initParams(layout, Number(args.seed));
  const heldOut = heldOutSet(Number(args.heldout), Number(args.seed));
  const quick = heldOutSet(300, Number(args.seed) + 1);
  console.log(`clip: ${layout.size} params, backend ${backend.backend}, ${args.steps} steps × batch ${args.batch}`);
  const t0 = Date.now();
  let avg = 0;
  await trainLoop({
    layout, flat, steps: Number(args.steps), lr: Number(args.lr), warmup: 50, weightDecay: 1e-4,
    loss: (w, step) => clipLoss(w, cfg, trainBatch(Number(args.batch), Number(args.seed), step)),
    after: async (step, loss) => {
      avg = step === 0 ? loss : 0.98 * avg + 0.02 * loss;
      if ((step + 1) % 50 === 0) {
        const s = (Date.now() - t0) / 1000;
        const e = (step + 1) % 200 === 0 ? evaluateClip(layout, flat, cfg, quick) : undefined;
        console.log(`step ${step + 1} loss ${avg.toFixed(4)} ${(s / (step + 1)).toFixed(3)} s/step` +
          (e ? ' ' + JSON.stringify({ zs: e.zero_shot_accuracy, r1: e.recall_at_1 }) : ''));
        await writeCheckpoint(String(args.checkpoint), flat, s + (resumed?.seconds ?? 0));
      }
    },
  });
  const trainSeconds = (Date.now() - t0) / 1000 + (resumed?.seconds ?? 0);
  await writeCheckpoint(String(args.checkpoint), flat, trainSeconds);
  const result = evaluateClip(layout, flat, cfg, heldOut);
  // FD's sampling noise: two disjoint sets of clean renders (FD between them is what "no difference" measures).
  const d = cfg.embed_dim;
  const nRef = Number(args.fdsets);
  const refA = renderBatch(nRef, mixSeed(Number(args.seed), 0xfd01));
  const refB = renderBatch(nRef, mixSeed(Number(args.seed), 0xfd02));
  const ea = embed(layout, flat, cfg, { ...refA, n: nRef }, []).img;
  const eb = embed(layout, flat, cfg, { ...refB, n: nRef }, []).img;
  const half = Math.floor(nRef / 2);
  const fdNoise = frechetDistance(ea, nRef, eb, nRef, d);
  const fdHalf = frechetDistance(ea.subarray(0, half * d), half, eb.subarray(0, half * d), half, d);
  const metrics = {
    heldout_pairs: heldOut.n, zero_shot_accuracy: result.zero_shot_accuracy, recall_at_1: result.recall_at_1,
    fd_between_disjoint_render_sets: { [`n${nRef}_vs_${nRef}`]: fdNoise, [`n${half}_vs_${half}`]: fdHalf },
    train_seconds: Math.round(trainSeconds), steps: Number(args.trained) + Number(args.steps), batch: Number(args.batch), params: layout.size,
    backend: backend.backend,
  };
  console.log(JSON.stringify(metrics, null, 2));
  const sha = await saveEvalModel(String(args.out), cfg, layout, flat, metrics);
  await writeModelCard(String(args.out), {
    title: 'shapes-CLIP',
    what: 'A dual encoder: image tower = space-to-depth 2×2 + 3 conv 3×3 layers (GroupNorm + SiLU) + average pool + ' +
      `linear to ${d}; text tower = word-level tokenizer over the world vocabulary, 1 pre-LN transformer block (width ` +
      `${cfg.text.width}, one head), mean pool, linear to ${d}. Embeddings are unit-norm; CLIP score = 100·max(cos, 0) ` +
      '(torchmetrics); FD is computed on the image embeddings.',
    // --history describes the run a --init checkpoint came from (e.g. a run stopped early to meet a deadline).
    command: (args.history ? `${args.history}\n` : '') + commandLine('nodes/evaluation/train/train-clip.ts', process.argv.slice(2)),
    data: 'Procedural world renders with their captions (nodes/world renderBatch + captionFor: several templates, some ' +
      'naming only part of the scene), a fresh batch every step, images augmented as for the judge. Loss: symmetric ' +
      `softmax cross-entropy at temperature ${cfg.temperature} with soft targets over every caption consistent with an ` +
      'image (partial captions describe many images). Zero-shot: class embedding = mean embedding of every template ' +
      `filling that names the value. Held-out: ${heldOut.n} (render, caption) pairs from a separate seed stream; ` +
      'recall@1 "exact" counts only the paired caption, "consistent" any caption that describes the image.',
    metrics, sha256: sha, trainSeconds,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
