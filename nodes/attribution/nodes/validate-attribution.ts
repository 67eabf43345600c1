// ValidateAttribution: does ΔJ ≈ −Σ s hold? Random masks per α over the component set, actual ΔJ on the
// attribution's own fixed objective inputs vs the prediction; Pearson r per α beside shuffled-score control.
import { z } from 'zod';
import { defineNode, NodeInputError, ui } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import type { TableValue } from '../../sdk/values.ts';
import { firstPasses, fitAttribution } from '../attribution.ts';
import { buildObjective, type FitPlan } from '../plan.ts';
import { validateAttribution } from '../validation.ts';
import { requireAttribution, requireModel } from './shared.ts';

export const validateParams = z.object({
  alphas: z.array(z.number().gt(0).max(1)).min(1).default([0.1, 0.05, 0.025]).describe('Fractions of the component set each random mask zeroes.'),
  masks: z.number().int().min(3).max(2000).default(100).describe('Random masks per α.'),
  seed: ui(z.number().int().min(0).default(0).describe('Seed of the masks and of the control shuffle.'), { widget: 'seed' }),
  passes: ui(z.number().int().min(0).default(0)
    .describe('Validate on the objective\'s first N batches only, rescoring s on them (0 = all batches).'), { advanced: true }),
});

export const validateAttributionNode = defineNode({
  type: 'ValidateAttribution',
  typeVersion: 1,
  category: 'attribution',
  displayName: 'Validate Attribution',
  description: 'COAR-style check of the first-order estimator: actual ΔJ of random ablations vs predicted −Σs (Pearson r per α, with a shuffled-score control).',
  inputs: {
    model: { type: 'MODEL', description: 'The model the attribution was fitted on' },
    attribution: { type: 'ATTRIBUTION' },
    edit_fraction: { type: 'NUMBER', optional: true, description: 'The edit\'s own fraction (Erase.fraction), validated as one more α' },
  },
  outputs: {
    table: { type: 'TABLE', description: 'Per α: masks, components, Pearson r, control r, mean actual/predicted ΔJ' },
    points: { type: 'TABLE', description: 'Scatter data: α, predicted, actual, control per mask' },
  },
  params: validateParams,
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = requireModel(inputs.model);
    const attr = requireAttribution(inputs.attribution, model);
    const plan = attr.provenance.plan as FitPlan | undefined;
    if (!plan) throw new NodeInputError('attribution', 'needs the attribution\'s objective plan (fit it with FitAttribution)');
    if (attr.provenance.modelKey && attr.provenance.modelKey !== model.key) {
      ctx.log(`warning: the attribution was fitted on ${String(attr.provenance.modelKey)}, validating on ${model.key}`);
    }
    const alphas = [...params.alphas];
    const edit = typeof inputs.edit_fraction === 'number' ? inputs.edit_fraction : undefined;
    if (edit !== undefined && edit > 0 && !alphas.includes(edit)) alphas.push(edit);
    const full = await buildObjective(model, plan, { throwIfAborted: () => ctx.throwIfAborted() });
    try {
      const objective = firstPasses(full, params.passes || full.passes);
      const scored = objective === full ? attr : await fitAttribution(attr.set, objective, model.weights(), { throwIfAborted: () => ctx.throwIfAborted() });
      const res = await validateAttribution(scored, objective, model.weights(), { alphas, masksPerAlpha: params.masks, seed: params.seed }, {
        throwIfAborted: () => ctx.throwIfAborted(),
        onPass: (d, n) => ctx.progress(d, n, 'masks'),
      });
      ctx.log(`J of the unedited model: ${res.baseline} (${objective.passes} of ${full.passes} batches; the attribution's J: ${attr.value})`);
      const table: TableValue = {
        columns: ['alpha', 'masks', 'components', 'pearson', 'control_pearson', 'mean_actual', 'mean_predicted', 'J'],
        rows: res.rows.map((r) => ({ ...r, J: res.baseline })),
      };
      const points: TableValue = { columns: ['alpha', 'predicted', 'actual', 'control'], rows: res.points.map((p) => ({ ...p })) };
      return { table, points };
    } finally {
      full.dispose();
    }
  },
});
