// Evaluation figures: judge and shapes-CLIP throughput, FD cost, and the baseline erasure protocol — the
// unedited model on every shape concept (erase_acc = accuracy on target prompts, keep_acc, CLIP score, FD)
// with its wall time. Images of a value are shared across concepts, so all shapes cost one pass.
// Env: CADFLOW_EVAL_MODEL (default shapes-tiny, else shapes-micro), CADFLOW_EVAL_SIZE (full | quick),
// CADFLOW_EVAL_ATTRIBUTE (default shape), CADFLOW_EVAL_STEPS (DDIM steps, default 25).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchFigure } from './run.ts';
import { initRuntime, tf } from '../nodes/sdk/index.ts';
import { loadModel, sampleImages } from '../nodes/diffusion/api.ts';
import { DEFAULT_CONCEPTS, type Attribute } from '../nodes/world/concepts.ts';
import { renderBatch } from '../nodes/world/render.ts';
import { embedImages, loadClip } from '../nodes/evaluation/clip.ts';
import { frechetDistance } from '../nodes/evaluation/fd.ts';
import { judgeImages, loadJudge } from '../nodes/evaluation/judge.ts';
import { evaluateErasure } from '../nodes/evaluation/erasure-eval.ts';
import { erasureProtocol, type ProtocolSize } from '../nodes/evaluation/protocols/erasure.ts';

const MODELS = join(import.meta.dirname, '..', 'models');

export default async function evaluationBench(): Promise<BenchFigure[]> {
  const backend = await initRuntime();
  const judge = await loadJudge('shapes-judge', MODELS);
  const clip = await loadClip('shapes-clip', MODELS);
  const figures: BenchFigure[] = [];

  const b = renderBatch(512, 4242);
  const images = tf.tensor4d(b.pixels, [512, 32, 32, 3]);
  let t = performance.now();
  await judgeImages(judge, images);
  figures.push({ name: 'judge: 512 images', value: performance.now() - t, unit: 'ms' });
  t = performance.now();
  const emb = await embedImages(clip, images);
  figures.push({ name: 'shapes-CLIP: embed 512 images', value: performance.now() - t, unit: 'ms' });
  images.dispose();
  t = performance.now();
  frechetDistance(emb.subarray(0, 256 * clip.config.embed_dim), 256, emb.subarray(256 * clip.config.embed_dim), 256, clip.config.embed_dim);
  figures.push({ name: `FD: 256 vs 256 embeddings (d=${clip.config.embed_dim})`, value: performance.now() - t, unit: 'ms' });

  const modelName = process.env.CADFLOW_EVAL_MODEL ?? (existsSync(join(MODELS, 'shapes-tiny', 'model.safetensors')) ? 'shapes-tiny' : 'shapes-micro');
  const size = (process.env.CADFLOW_EVAL_SIZE ?? 'full') as ProtocolSize;
  const attribute = (process.env.CADFLOW_EVAL_ATTRIBUTE ?? 'shape') as Attribute;
  const steps = Number(process.env.CADFLOW_EVAL_STEPS ?? 25);
  const model = await loadModel(modelName, MODELS);
  const protocols = DEFAULT_CONCEPTS[attribute].map((c) => erasureProtocol(c, { size }));
  console.log(`  baseline protocol: ${modelName} (${model.weightsHash.slice(0, 12)}), ${attribute} concepts, size ${size}, ` +
    `DDIM ${steps} steps, CFG 3, eta 0, backend ${backend.backend}`);
  t = performance.now();
  let last = 0;
  const rows = await evaluateErasure([{
    name: modelName,
    sample: (prompts, seeds, signal) => sampleImages(model, prompts, seeds, { steps, cfg: 3, eta: 0, batchSize: 32 }, { signal }),
  }], protocols, {
    judge, clip, chunk: 32, referenceRow: true,
    progress: (done, total, label) => {
      if (performance.now() - last > 30_000) { last = performance.now(); console.log(`    ${label} (${done}/${total})`); }
    },
  });
  const seconds = (performance.now() - t) / 1000;
  console.log('  ' + ['model', 'concept', 'erase_acc', 'keep_acc', 'harmonic', 'clip_score', 'fd', 'images'].join('\t'));
  for (const r of rows) {
    console.log('  ' + [r.model, r.concept, r.erase_acc.toFixed(3), r.keep_acc.toFixed(3), r.harmonic.toFixed(3),
      r.clip_score.toFixed(2), r.fd.toFixed(4), r.images].join('\t'));
  }
  const ours = rows.filter((r) => r.model === modelName);
  const mean = (k: 'erase_acc' | 'keep_acc') => ours.reduce((s, r) => s + r[k], 0) / ours.length;
  figures.push(
    { name: `baseline protocol wall time (${modelName}, ${size}, incl. reference row)`, value: seconds, unit: 's' },
    { name: `${modelName}: mean erase_acc over ${attribute} concepts`, value: mean('erase_acc'), unit: '' },
    { name: `${modelName}: mean keep_acc over ${attribute} concepts`, value: mean('keep_acc'), unit: '' },
    { name: `${modelName}: CLIP score (caption set)`, value: ours[0].clip_score, unit: '' },
    { name: `${modelName}: FD vs reference renders`, value: ours[0].fd, unit: '' },
    { name: 'FD noise floor (renders vs renders)', value: rows[0].fd, unit: '' },
  );
  return figures;
}
