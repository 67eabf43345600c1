// EraseBaseline: zero as many components per matrix as a CAD Erase did, chosen another way — at random, by |w|,
// by |Σ∇J| or by COAR — so the comparison isolates how CAD chooses.
import { z } from 'zod';
import { defineNode, NodeInputError, ui } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import { BASELINES } from '../baselines.ts';
import { baselineErase, reportCounts } from '../erase.ts';
import { requireAttribution, requireModel } from './shared.ts';

export const baselineParams = z.object({
  method: z.enum(BASELINES).default('random').describe('How to choose: random components, top |w|, top |Σ∇J|, or COAR\'s ablate-and-regress ranking.'),
  seed: ui(z.number().int().min(0).default(0).describe('Seed of the random choice and of COAR\'s masks.'), { widget: 'seed', show: { method: ['random', 'coar'] } }),
  coar_masks: ui(z.number().int().min(4).max(5000).default(200).describe('COAR: random keep-masks evaluated (one forward pass of J each).'), { show: { method: ['coar'] } }),
  coar_keep: ui(z.number().min(0.5).max(0.999).default(0.95).describe('COAR: probability that a row is kept in each mask.'), { advanced: true, show: { method: ['coar'] } }),
});

export const eraseBaselineNode = defineNode({
  type: 'EraseBaseline',
  typeVersion: 1,
  category: 'attribution',
  displayName: 'Erase Baseline',
  description: 'Zero the same number of components per matrix as a CAD Erase (its report on match), chosen at random, by |w|, by |Σ∇J| or by COAR.',
  inputs: {
    model: { type: 'MODEL', description: 'The model to edit' },
    attribution: { type: 'ATTRIBUTION', description: 'The attribution the CAD Erase used (its component set, |w| and Σ∇J)' },
    match: { type: 'TABLE', description: 'The CAD Erase\'s report: the per-matrix counts to zero' },
  },
  outputs: {
    model: { type: 'MODEL', description: 'The edited model (an overlay over the same weights)' },
    report: { type: 'TABLE', description: 'Per matrix: CAD\'s count and the weights zeroed' },
    fraction: { type: 'NUMBER', description: 'Zeroed weights / weights in the set' },
  },
  params: baselineParams,
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = requireModel(inputs.model);
    const attr = requireAttribution(inputs.attribution, model);
    let counts: Map<string, number>;
    try {
      counts = reportCounts(inputs.match, attr);
    } catch (err) {
      throw new NodeInputError('match', (err as Error).message);
    }
    if (params.method === 'coar' && !attr.provenance.plan) throw new NodeInputError('attribution', 'COAR needs the attribution\'s objective plan (fit it with FitAttribution)');
    ctx.record({ seeds: { [`${ctx.nodeId}.seed`]: params.seed } });
    const edit = await baselineErase(model, attr, params.method, counts, { seed: params.seed, coarMasks: params.coar_masks, coarKeep: params.coar_keep }, {
      throwIfAborted: () => ctx.throwIfAborted(), signal: ctx.signal, log: (m) => ctx.log(m), progress: (v, m, l) => ctx.progress(v, m, l),
    });
    return { model: edit.model, report: edit.report, fraction: edit.fraction };
  },
});
