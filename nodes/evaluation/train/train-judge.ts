// Trains the shapes-judge on augmented world renders and writes models/shapes-judge (config, weights, metrics,
// model card). Usage: tsx nodes/evaluation/train/train-judge.ts [--steps N] [--batch N] [--lr X] [--warmup N] [--seed N] [--out DIR]
// [--init CKPT|MODEL_DIR --trained N] [--eval-every N] (held-out accuracy on 500 renders every N steps, a multiple of 50)
import type { Scalar, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { initRuntime, tf } from '../../sdk/runtime.ts';
import { ATTRIBUTES } from '../../world/concepts.ts';
import { makeRng } from '../../world/rng.ts';
import { addNoise } from '../augment.ts';
import { DEFAULT_JUDGE_CONFIG, judgeLayout, judgeLogits, type JudgeConfig } from '../judge.ts';
import { saveEvalModel } from '../model-files.ts';
import type { Weights } from '../networks.ts';
import { initParams, mapOf, tensorsOf, type ParamLayout } from '../params.ts';
import { heldOutSet, labelIndices, trainBatch, type WorldBatch } from './data.ts';
import { trainLoop } from './loop.ts';
import { commandLine, parseArgs, readCheckpoint, writeCheckpoint, writeModelCard } from './cli-util.ts';

/** Mean over heads of softmax cross-entropy. */
export function judgeLoss(w: Weights, cfg: JudgeConfig, batch: WorldBatch): Scalar {
  return tf.tidy(() => {
    const x = tf.tensor4d(batch.pixels, [batch.n, 32, 32, 3]);
    const logits = judgeLogits(w, cfg, x);
    const losses = Object.entries(cfg.attributes).map(([attr, values]) => {
      const target = tf.oneHot(tf.tensor1d(labelIndices(batch.labels, attr as keyof typeof batch.labels[0], values), 'int32'), values.length);
      const logp = tf.logSoftmax(logits[attr]);
      return tf.neg(tf.mean(tf.sum(tf.mul(target, logp), 1)));
    });
    return tf.div(tf.addN(losses), losses.length) as Scalar;
  });
}

/** Per-head accuracy of the judge on a labelled set. */
export function evaluateJudge(layout: ParamLayout, flat: Float32Array, cfg: JudgeConfig, set: WorldBatch): Record<string, number> {
  const params = tensorsOf(layout, flat);
  const w = mapOf(layout, params);
  const hits: Record<string, number> = Object.fromEntries(Object.keys(cfg.attributes).map((a) => [a, 0]));
  for (let start = 0; start < set.n; start += 250) {
    const size = Math.min(250, set.n - start);
    const preds = tf.tidy(() => {
      const x = tf.tensor4d(set.pixels.subarray(start * 3072, (start + size) * 3072), [size, 32, 32, 3]) as Tensor4D;
      const logits = judgeLogits(w, cfg, x);
      return Object.keys(cfg.attributes).map((a) => tf.argMax(logits[a] as Tensor2D, 1));
    });
    Object.entries(cfg.attributes).forEach(([attr, values], k) => {
      const p = preds[k].dataSync();
      for (let i = 0; i < size; i++) if (values[p[i]] === set.labels[start + i][attr as keyof WorldBatch['labels'][0]]) hits[attr]++;
    });
    tf.dispose(preds);
  }
  tf.dispose(params);
  return Object.fromEntries(Object.entries(hits).map(([a, h]) => [a, h / set.n]));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), {
    steps: 2250, batch: 64, lr: 3e-3, seed: 1, out: 'models/shapes-judge', heldout: 2000, init: '', trained: 0, history: '', checkpoint: '.tmp/eval/judge', 'eval-every': 250, warmup: 50,
  });
  const backend = await initRuntime();
  const cfg = DEFAULT_JUDGE_CONFIG;
  const layout = judgeLayout(cfg);
  // --init continues from a checkpoint (its training time is added to this run's).
  const resumed = args.init ? await readCheckpoint(String(args.init), layout) : undefined;
  const flat = resumed?.flat ?? initParams(layout, Number(args.seed));
  const heldOut = heldOutSet(Number(args.heldout), Number(args.seed));
  const quick = heldOutSet(500, Number(args.seed) + 1);
  console.log(`judge: ${layout.size} params, backend ${backend.backend}, ${args.steps} steps × batch ${args.batch}`);
  const t0 = Date.now();
  let avg = 0;
  await trainLoop({
    layout, flat, steps: Number(args.steps), lr: Number(args.lr), warmup: Number(args.warmup), weightDecay: 1e-4,
    loss: (w, step) => judgeLoss(w, cfg, trainBatch(Number(args.batch), Number(args.seed), step)),
    after: async (step, loss) => {
      avg = step === 0 ? loss : 0.98 * avg + 0.02 * loss;
      if ((step + 1) % 50 === 0) {
        const s = (Date.now() - t0) / 1000;
        const acc = (step + 1) % Number(args['eval-every']) === 0 ? ' ' + JSON.stringify(evaluateJudge(layout, flat, cfg, quick)) : '';
        console.log(`step ${step + 1} loss ${avg.toFixed(4)} ${(s / (step + 1)).toFixed(3)} s/step${acc}`);
        await writeCheckpoint(String(args.checkpoint), flat, s + (resumed?.seconds ?? 0));
      }
    },
  });
  const trainSeconds = (Date.now() - t0) / 1000 + (resumed?.seconds ?? 0);
  await writeCheckpoint(String(args.checkpoint), flat, trainSeconds);
  const clean = evaluateJudge(layout, flat, cfg, heldOut);
  const noisy: Record<string, Record<string, number>> = {};
  for (const sigma of [0.1, 0.2, 0.3]) {
    const pixels = Float32Array.from(heldOut.pixels);
    addNoise(pixels, heldOut.n, sigma, makeRng(1234));
    noisy[`sigma_${sigma}`] = evaluateJudge(layout, flat, cfg, { ...heldOut, pixels });
  }
  const metrics = {
    heldout_images: heldOut.n, heldout_accuracy: clean, heavy_noise_accuracy: noisy,
    train_seconds: Math.round(trainSeconds), steps: Number(args.trained) + Number(args.steps), batch: Number(args.batch), params: layout.size,
    backend: backend.backend,
  };
  console.log(JSON.stringify(metrics, null, 2));
  const sha = await saveEvalModel(String(args.out), cfg, layout, flat, metrics);
  await writeModelCard(String(args.out), {
    title: 'shapes-judge',
    what: 'A small CNN (space-to-depth 2×2, 4 conv 3×3 layers of 32/64/96/128 channels at 16/8/4/4 px — downsampling by 2×2 average pool — with GroupNorm + SiLU, global average pool) with one softmax head per world ' +
      `attribute (${ATTRIBUTES.join(', ')}). It is the evaluation pack's classifier: erase/keep accuracies are what it sees.`,
    // --history describes the run a --init checkpoint came from (e.g. a run stopped early to meet a deadline).
    command: (args.history ? `${args.history}\n` : '') + commandLine('nodes/evaluation/train/train-judge.ts', process.argv.slice(2)),
    data: 'Procedural world renders (nodes/world renderBatch, default concepts), a fresh batch every step, augmented ' +
      'with per-channel colour gain ±8% and offset ±0.04, 3×3 blur (p=0.3) and Gaussian noise σ∈[0,0.15] (p=0.6). ' +
      `Held-out: ${heldOut.n} clean renders from a separate seed stream.`,
    metrics, sha256: sha, trainSeconds,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
