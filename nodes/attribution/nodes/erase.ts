// Erase: CAD's edit — zero the components an attribution ranks top, in rounds with stop and keep checks. A reversible
// overlay on the MODEL handle with exact per-matrix counts. On an amplify attribution it amplifies (or recalls).
import { z } from 'zod';
import { defineNode, NodeInputError, NodeParamError, ui } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import { judgeFor } from '../../evaluation/judge.ts';
import { modelFolderSignature } from '../../diffusion/folder-signature.ts';
import { cadErase, conceptOf, type ZeroEdit, DEFAULT_CHECK_STEPS, DEFAULT_KEEP_AT, DEFAULT_RECALL_AT, DEFAULT_RHO, DEFAULT_ROUNDS, NothingSelectedError } from '../erase.ts';
import { attributeDefaults } from '../plan.ts';
import { requireAttribution, requireModel } from './shared.ts';

export const eraseParams = z.object({
  rho: z.number().min(0).max(1).default(DEFAULT_RHO).describe('Fraction to zero per round: of each row, each matrix or the whole set (see selection).'),
  selection: z.enum(['per-row', 'per-matrix', 'global']).default('per-row').describe('Where the top-k is taken: within each row, each matrix, or the whole set.'),
  sign: z.enum(['positive', 'negative', 'both']).default('positive').describe('Which components rank: those raising J (s ≥ 0), lowering it (s ≤ 0), or by |s|.'),
  rounding: ui(z.enum(['floor', 'ceil']).default('floor').describe('Round ρ·n down or up to get k.'), { advanced: true }),
  rounds: z.number().int().min(1).max(20).default(DEFAULT_ROUNDS).describe('Most rounds; each round after the first refits the attribution on the model edited so far.'),
  stop_at: z.number().min(0).max(1).optional().describe('Stop once at most this share of fresh samples shows the concept (0 = every round); unset = per attribute.'),
  recall_at: ui(z.number().min(0).max(1).default(DEFAULT_RECALL_AT).describe('Amplify attributions: stop once at least this share of fresh samples shows the concept (0 = every round).'), { advanced: true }),
  keep_at: z.number().min(0).max(1).default(DEFAULT_KEEP_AT).describe('Undo a round that takes the other values below this share of the unedited model\'s accuracy (0 = off).'),
  stop_samples: ui(z.number().int().min(4).max(512).default(64).describe('Fresh samples judged per stop or recall check.'), { advanced: true }),
  keep_samples: ui(z.number().int().min(4).max(512).default(64).describe('Fresh samples of the other values judged per keep check.'), { advanced: true }),
  check_steps: ui(z.number().int().min(1).max(1000).default(DEFAULT_CHECK_STEPS).describe('DDIM steps of the checks\' samples.'), { advanced: true }),
  check_prompts: ui(z.enum(['captions', 'fit']).default('captions').describe('Prompts of the checks: every world caption template around the concept, or the fit\'s own prompts.'), { advanced: true }),
  judge: ui(z.string().default('shapes-judge').describe('Judge model of the checks: a bundled name or a folder.'), { advanced: true, widget: 'model' }),
});

export const eraseNode = defineNode({
  type: 'Erase',
  typeVersion: 1,
  category: 'attribution',
  displayName: 'Erase',
  description: 'CAD: zero an attribution\'s top components (per-row ρ, s ≥ 0) in rounds until the judge stops seeing the concept. Reversible overlay; exact counts reported. With an amplify attribution it amplifies the concept.',
  inputs: {
    model: { type: 'MODEL', description: 'The model to edit (the one the attribution was fitted on, or an already edited one)' },
    attribution: { type: 'ATTRIBUTION' },
  },
  outputs: {
    model: { type: 'MODEL', description: 'The edited model (an overlay over the same weights)' },
    report: { type: 'TABLE', description: 'Per matrix: k, units short of k, components and weights zeroed (wire it to EraseBaseline\'s match)' },
    fraction: { type: 'NUMBER', description: 'Zeroed weights / weights in the set (the edit\'s α, for ValidateAttribution)' },
  },
  params: eraseParams,
  // The checks' judge decides which rounds are kept.
  signature: (params) => [modelFolderSignature(params.judge)],
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = requireModel(inputs.model);
    const attr = requireAttribution(inputs.attribution, model);
    if (params.selection === 'per-row' && attr.set.granularity !== 'weight') throw new NodeParamError('selection', `per-row needs a weight-granularity attribution (this one is per ${attr.set.granularity})`);
    if (params.rounds > 1 && !attr.provenance.plan) throw new NodeInputError('attribution', 'rounds > 1 refits the attribution: fit it with FitAttribution (its plan is missing)');
    const stopAt = params.stop_at ?? attributeDefaults(conceptOf(attr)).stopAt;
    const checked = params.rounds > 1 && (attr.objective === 'amplify' ? params.recall_at : stopAt) > 0;
    const check = checked ? {
      judge: () => judgeFor(ctx, 'judge', params.judge), stopAt, recallAt: params.recall_at, stopSamples: params.stop_samples,
      keepAt: params.keep_at, keepSamples: params.keep_samples, steps: params.check_steps, prompts: params.check_prompts,
    } : undefined;
    const rule = { rho: params.rho, selection: params.selection, sign: params.sign, rounding: params.rounding };
    try {
      const edit = await cadErase(model, attr, { rule, rounds: params.rounds, check }, {
        throwIfAborted: () => ctx.throwIfAborted(), signal: ctx.signal, workers: 'auto', log: (m) => ctx.log(m), progress: (v, m, l) => ctx.progress(v, m, l),
      });
      return { model: edit.model, report: edit.report, fraction: edit.fraction };
    } catch (err) {
      if (err instanceof NothingSelectedError) {
        throw new NodeParamError('rho', err.kZero
          ? `ρ = ${params.rho} gives k = 0 in every ${params.selection === 'per-row' ? 'row' : 'matrix'} (rows are ${attr.set.matrices.map((m) => m.cols).join('/')} wide): raise rho or use rounding "ceil"`
          : `no component has the wanted sign (${params.sign}): nothing to zero`);
      }
      throw err;
    }
  },
  summarize(output, value) {
    if (output !== 'report') return undefined as unknown;
    const r = value as ZeroEdit['report'];
    return { columns: r.columns, rows: r.rows, ...(r.rounds ? { rounds: r.rounds } : {}) };
  },
});
