// EvaluateErasure: the erasure protocol on one or more models (e.g. the original and its edits), with the same
// prompts, seeds and scheduler for all of them → one table row per model.
import { z } from 'zod';
import { sampleImages } from '../../diffusion/api.ts';
import type { ModelHandle } from '../../diffusion/handle.ts';
import { defineNode, NodeInputError, NodeParamError, ui, type TableValue } from '../../sdk/index.ts';
import { encodePng, gridPng, imageGrid, tensorToBatch, toBytes } from '../../sdk/image.ts';
import { ERASURE_COLUMNS, evaluateErasure, noPhases, type EvaluatedModel, type ShownSamples, type ShownTile } from '../erasure-eval.ts';
import { DEFAULT_PROTOCOL_SEED, erasureProtocol, type ErasureProtocol } from '../protocols/erasure.ts';
import { clipFor, judgeFor } from './shared.ts';
import { modelFolderSignature } from '../../diffusion/folder-signature.ts';
import { chosenConcept } from '../../world/concepts.ts';

/** A row label per model: its name plus its edits; repeated labels get #2, #3. */
export function modelLabels(models: ModelHandle[]): string[] {
  const seen = new Map<string, number>();
  return models.map((m) => {
    const base = m.overlays.length ? `${m.name} + ${m.overlays.map((o) => o.label).join(' + ')}` : m.name;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    return k === 1 ? base : `${base} #${k}`;
  });
}

const sec = (ms: number) => (ms / 1000).toFixed(1);

/** One model's sample grid artifact and what each tile shows (row-major; null = blank tile). */
export interface SampleGrid { model: string; artifact: string; columns: number; scale: number; gap: number; tiles: (ShownTile | null)[] }

/** The EvaluateErasure table plus its sample grids (the editor shows them side by side). */
export type ErasureTable = TableValue & { samples: SampleGrid[] };

export const GRID = { scale: 2, gap: 4 } as const;

/**
 * A model's samples as one PNG: concept row over kept-values row, each tile framed green when the judge reads the
 * value its prompt names and red when it does not (the text labels are in the summary's `samples`).
 */
export function sampleGridPng(s: ShownSamples): Uint8Array {
  const { scale, gap } = GRID;
  const grid = imageGrid(s.batch, { columns: s.columns, scale, gap });
  const tw = s.batch.width * scale, th = s.batch.height * scale;
  s.tiles.forEach((t, k) => {
    if (!t) return;
    const colour = t.judged === t.value ? [0.36, 0.79, 0.54] : [0.94, 0.44, 0.47];
    const x0 = gap + (k % s.columns) * (tw + gap) - 2, y0 = gap + Math.floor(k / s.columns) * (th + gap) - 2;
    for (let y = y0; y < y0 + th + 4; y++) for (let x = x0; x < x0 + tw + 4; x++) {
      if (y >= y0 + 2 && y < y0 + th + 2 && x >= x0 + 2 && x < x0 + tw + 2) continue;
      grid.pixels.set(colour, (y * grid.width + x) * 3);
    }
  });
  return encodePng(toBytes(grid.pixels), grid.width, grid.height);
}

export const evaluateErasureNode = defineNode({
  type: 'EvaluateErasure',
  typeVersion: 1,
  category: 'evaluation',
  displayName: 'Evaluate Erasure',
  description: 'The erasure protocol (target prompts naming the concept, keep prompts naming the other values of its attribute, ' +
    'a fixed caption set) on every connected model with identical seeds: erase_acc, keep_acc, their harmonic mean, CLIP score and FD.',
  inputs: {
    models: { type: 'MODEL', multiple: true, description: 'Models to compare (e.g. original and edited)' },
    concept: { type: 'STRING', optional: true, description: 'The concept (a Concept node\'s output); overrides the concept param' },
  },
  outputs: { table: { type: 'TABLE', description: 'model, erase_acc, keep_acc, harmonic, clip_score, fd, images' } },
  params: z.object({
    concept: z.string().default('circle').describe('The concept evaluated: a world value (circle, yellow, striped, outline, …).'),
    size: z.enum(['full', 'short', 'quick']).default('full').describe('full: 50 prompts per value + 200 captions; short: 20 + 48; quick: 3 + 8 (tests).'),
    perValue: ui(z.number().int().min(0).max(1000).default(0).describe('Prompts per value (0 = the size\'s default)'), { advanced: true }),
    captions: ui(z.number().int().min(0).max(5000).default(0).describe('Caption-set size for CLIP score / FD (0 = the size\'s default)'), { advanced: true }),
    seed: ui(z.number().int().min(0).default(DEFAULT_PROTOCOL_SEED).describe('Protocol seed (prompts and sampling seeds)'), { advanced: true }),
    steps: ui(z.number().int().min(1).max(1000).default(25).describe('DDIM steps'), { advanced: true }),
    cfg: ui(z.number().min(0).max(30).default(3).describe('Classifier-free guidance scale'), { advanced: true }),
    eta: ui(z.number().min(0).max(1).default(0).describe('DDIM eta'), { advanced: true }),
    batchSize: ui(z.number().int().min(1).max(256).default(32).describe('Images per sampling call (one progress update each)'), { advanced: true }),
    referenceRow: z.boolean().default(true).describe('Add a row scored on world renders of the same prompts (ceiling and FD noise floor)'),
    judge: ui(z.string().default('shapes-judge').describe('Judge model: bundled name or folder'), { advanced: true }),
    clip: ui(z.string().default('shapes-clip').describe('shapes-CLIP model: bundled name or folder'), { advanced: true }),
  }),
  cacheable: true,
  signature: (params) => [modelFolderSignature(params.judge), modelFolderSignature(params.clip)],
  async execute(ctx, inputs, params) {
    const models = ((Array.isArray(inputs.models) ? inputs.models : [inputs.models]) as (ModelHandle | undefined)[]).filter(Boolean) as ModelHandle[];
    if (models.length === 0) throw new NodeInputError('models', 'connect at least one MODEL');
    let protocol: ErasureProtocol;
    try {
      protocol = erasureProtocol(chosenConcept(inputs.concept, params.concept).toLowerCase(), {
        size: params.size, perValue: params.perValue || undefined, captions: params.captions || undefined, seed: params.seed,
      });
    } catch (err) {
      throw new NodeParamError('concept', (err as Error).message);
    }
    const [judge, clip] = [await judgeFor(ctx, 'judge', params.judge), await clipFor(ctx, 'clip', params.clip)];
    ctx.record({ seeds: { erasure_protocol: params.seed }, hashes: Object.fromEntries(models.map((m) => [`model:${m.name}`, m.key])) });
    const labels = modelLabels(models);
    const evaluated: EvaluatedModel[] = models.map((m, i) => ({
      name: labels[i],
      sample: (prompts, seeds, signal) => sampleImages(m, prompts, seeds,
        { steps: params.steps, cfg: params.cfg, eta: params.eta, batchSize: params.batchSize }, { signal }),
    }));
    const phases = noPhases();
    let previews = 0;
    const samples: SampleGrid[] = [];
    const rows = await evaluateErasure(evaluated, [protocol], {
      judge, clip, chunk: params.batchSize, signal: ctx.signal, referenceRow: params.referenceRow, phases,
      progress: (done, total, label) => { ctx.throwIfAborted(); ctx.progress(done, total, label); },
      onImages: async (model, images) => ctx.preview(gridPng(await tensorToBatch(images)), previews++, model),
      onSamples: async (model, shown) => {
        const ref = await ctx.writeArtifact(`samples-${samples.length + 1}.png`, sampleGridPng(shown), 'image/png');
        samples.push({ model, artifact: ref.id, columns: shown.columns, ...GRID, tiles: shown.tiles });
      },
    });
    ctx.log(`EvaluateErasure ${protocol.attribute}=${protocol.concept}: ${protocol.target.length} target, ${protocol.keep.length} keep, ` +
      `${protocol.captions.length} caption prompts per model; FD against ${protocol.reference.count} renders; ` +
      `generation ${sec(phases.generation)} s, judging ${sec(phases.judging)} s, CLIP ${sec(phases.clip)} s, scores ${sec(phases.scores)} s`);
    const table: ErasureTable = {
      columns: [...ERASURE_COLUMNS],
      rows: rows.map((r) => Object.fromEntries(ERASURE_COLUMNS.map((c) => [c, r[c]]))),
      samples,
    };
    return { table };
  },
  summarize(_output, value) {
    const t = value as ErasureTable;
    return { columns: t.columns, rows: t.rows, samples: t.samples };
  },
});
