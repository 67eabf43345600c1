// MODEL_CARD.md for a trained model folder: how it was trained (from the checkpoint's metadata), sha256, a 36-sample
// grid (6 shapes × 6 colours), the one-step x0 check, and prompt following judged by the evaluation pack's judge
// (models/shapes-judge) on held-out prompts with fixed seeds, when the judge is there.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../sdk/files.ts';
import { gridPng, tensorToBatch } from '../../sdk/image.ts';
import { DEFAULT_CONCEPTS, randomScene } from '../../world/index.ts';
import { fillTemplate } from '../../world/captions.ts';
import { loadModel, sampleImages } from '../api.ts';
import { countParams } from '../model/network.ts';
import { mixSeeds } from '../noise.ts';
import { readSafetensors } from '../safetensors.ts';
import { layoutOf } from './gradients.ts';
import { reconstructionCheck } from './trainer.ts';

const FULL_TEMPLATE = '{a} {style} {colour} {shape} on {a} {background} background';
const SAMPLING = { steps: 25, cfg: 3, eta: 0 };

export interface CardInputs {
  modelDir: string;
  modelsDir: string;
  checkpointPath: string;
  command: string;
  /** Held-out prompts judged (0 = skip judging). */
  judgePrompts: number;
  /** Extra measured figures (bench), name → text. */
  figures?: Record<string, string>;
}

/** Held-out prompts: random full descriptions from a seed stream disjoint from training's (seed, step, shard). */
export function heldOutPrompts(n: number, seed = 20261125): { prompts: string[]; labels: Record<string, string>[]; seeds: number[] } {
  const labels = Array.from({ length: n }, (_, i) => ({ ...randomScene(mixSeeds(seed, i)) }));
  return { prompts: labels.map((l) => fillTemplate(FULL_TEMPLATE, l)), labels, seeds: labels.map((_, i) => mixSeeds(seed, i, 1) % 2 ** 31) };
}

export async function writeModelCard(inp: CardInputs): Promise<string> {
  const handle = await loadModel(inp.modelDir, inp.modelsDir);
  const cfg = handle.modelConfig;
  const ckpt = existsSync(inp.checkpointPath) ? await readSafetensors(inp.checkpointPath) : undefined;
  const meta = ckpt?.metadata ?? {};
  const settings = meta.settings ? JSON.parse(meta.settings) : {};

  // 36 samples: rows = shapes, columns = colours; background and style vary along the grid.
  const grid = DEFAULT_CONCEPTS.shape.flatMap((shape, r) => DEFAULT_CONCEPTS.colour.map((colour, c) => fillTemplate(FULL_TEMPLATE, {
    shape, colour, background: DEFAULT_CONCEPTS.background[(r + c) % 4], style: DEFAULT_CONCEPTS.style[(r + 2 * c) % 2 === 0 ? 0 : 1],
  })));
  const gridImages = await sampleImages(handle, grid, grid.map((_, i) => 1000 + i), SAMPLING);
  await writeFileAtomic(join(inp.modelDir, 'samples.png'), gridPng(await tensorToBatch(gridImages), { columns: 6, scale: 3 }));
  gridImages.dispose();

  const weights = handle.weights();
  const layout = layoutOf(new Map([...weights].map(([k, t]) => [k, [...t.shape]])));
  const flat = new Float32Array(layout.total);
  layout.names.forEach((n, i) => flat.set(weights.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
  const x0 = reconstructionCheck(cfg, flat, layout);

  let judged = 'not measured (no judge model at models/shapes-judge when this card was written)';
  if (inp.judgePrompts > 0 && existsSync(join(inp.modelsDir, 'shapes-judge', 'config.json'))) {
    const { loadJudge, judgeImages, attributeAccuracy } = await import('../../evaluation/judge.ts');
    const judge = await loadJudge('shapes-judge', inp.modelsDir);
    const held = heldOutPrompts(inp.judgePrompts);
    const images = await sampleImages(handle, held.prompts, held.seeds, SAMPLING);
    const res = await judgeImages(judge, images);
    images.dispose();
    const rows = ['shape', 'colour', 'background', 'style'].map((a) => {
      const { accuracy, count } = attributeAccuracy(res.labels, held.labels, a);
      return `| ${a} | ${(100 * accuracy).toFixed(1)} % | ${count} |`;
    });
    judged = `${inp.judgePrompts} held-out prompts ("${FULL_TEMPLATE}", random labels, fixed seeds), DDIM ${SAMPLING.steps} steps, CFG ${SAMPLING.cfg}, judged by models/shapes-judge:\n\n| attribute | accuracy | n |\n|---|---|---|\n${rows.join('\n')}`;
  }

  const sha = createHash('sha256').update(readFileSync(join(inp.modelDir, 'model.safetensors'))).digest('hex');
  const ffWidths = [...new Set(handle.paramNames().filter((n) => n.endsWith('ff.net.2.weight')).map((n) => handle.paramShape(n)[0]))];
  const elapsed = Number(meta.elapsed_ms ?? NaN);
  const card = `# ${handle.name.split('/').pop()}

A text-to-image diffusion model trained by cadflow on the procedural shapes world (nodes/world): 32×32 RGB,
${DEFAULT_CONCEPTS.shape.length} shapes × ${DEFAULT_CONCEPTS.colour.length} colours × ${DEFAULT_CONCEPTS.background.length} backgrounds × ${DEFAULT_CONCEPTS.style.length} styles with size/position/rotation jitter, captions from the world's templates.

- Architecture: pixel-space \`UNet2DConditionModel\` (diffusers names), pixel-unshuffle 2×2 → 16×16×12, block_out_channels
  [${cfg.block_out_channels.join(', ')}], down blocks ${cfg.down_block_types.join(' / ')}, mid ${cfg.mid_block_type},
  Transformer2D (self-attn, cross-attn, GEGLU FF) at ${cfg.down_block_types.filter((t) => t.startsWith('CrossAttn')).length} down levels + mid + up; FF components at widths ${ffWidths.join(' and ')};
  text encoder ${cfg.text_encoder.num_hidden_layers} layer × ${cfg.text_encoder.hidden_size}, vocabulary ${cfg.tokenizer.vocab.length} words. **${countParams(weights).toLocaleString('en')} parameters.**
- Objective: ${cfg.scheduler.prediction_type}, DDPM ${cfg.scheduler.beta_schedule} betas ${cfg.scheduler.beta_start}…${cfg.scheduler.beta_end}, T = ${cfg.scheduler.num_train_timesteps}${settings.minSnrGamma ? `, min-SNR-${settings.minSnrGamma} weighting` : ''}.
- Weights shipped: ${meta.step ? `EMA (decay ${settings.emaDecay}) after **${meta.step} steps**` : 'see metadata'}.

## How it was trained
- Command: \`${inp.command}\` (resumable: add \`--resume\`; checkpoint \`${inp.checkpointPath.replace(process.cwd() + '/', '')}\`)
- Settings: batch ${settings.batch}, Adam lr ${settings.lr} (warm-up ${settings.warmupSteps} steps), grad-norm clip ${settings.gradClip}, caption dropout ${settings.captionDropout}, ${settings.workers} worker_threads, seed ${settings.seed}.
- Data: fresh world renders every step (renderBatch with seeds from (seed, step, shard)); no image is reused.
- Training wall time: ${Number.isFinite(elapsed) ? `${(elapsed / 60000).toFixed(1)} min` : 'unknown'} (summed over resumed runs) on ${cpus().length}× ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, tfjs-wasm (SIMD, 1 thread per worker), shared with other jobs.

## Metrics
Prompt following: ${judged}

One-step x0 reconstruction MSE (model range [-1,1]) of 8 noised renders, by timestep:
${Object.entries(x0).map(([t, e]) => `t=${t}: ${e.toFixed(4)}`).join(', ')}.
${inp.figures ? `\n${Object.entries(inp.figures).map(([k, v]) => `- ${k}: ${v}`).join('\n')}\n` : ''}
## Samples
![36 samples](samples.png)

Rows: ${DEFAULT_CONCEPTS.shape.join(', ')}; columns: ${DEFAULT_CONCEPTS.colour.join(', ')} (prompts "${FULL_TEMPLATE}",
seeds 1000–1035, DDIM ${SAMPLING.steps} steps, CFG ${SAMPLING.cfg}, eta ${SAMPLING.eta}).

## Files
- \`config.json\` — diffusers-style UNet config + text encoder, tokenizer vocabulary, scheduler, cadflow fields.
- \`model.safetensors\` — F32, sha256 \`${sha}\`.
`;
  await writeFileAtomic(join(inp.modelDir, 'MODEL_CARD.md'), card);
  return card;
}
