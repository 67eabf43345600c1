// FineTuneESD: the ESD-u contrast to CAD's zeroing — fine-tune the weights outside cross-attention on the erase
// objective of an attribution's plan (Gandikota et al. 2023). Changes weights, zeroes none.
import { z } from 'zod';
import { defineNode, NodeInputError, ui } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import { esdErase } from '../esd.ts';
import type { FitPlan } from '../plan.ts';
import { requireAttribution, requireModel } from './shared.ts';

export const esdParams = z.object({
  steps: z.number().int().min(1).max(10000).default(100).describe('Adam steps, one batch of the erase objective\'s (x_t, t) pairs each.'),
  lr: z.number().min(1e-7).max(1e-1).default(1e-4).describe('Adam learning rate.'),
  guidance: z.number().min(0).max(10).default(1).describe('Negative guidance η of the target ε("") − η·(ε(c) − ε("")).'),
  seed: ui(z.number().int().min(0).default(0).describe('Seed of the batch order.'), { advanced: true, widget: 'seed' }),
});

export const fineTuneEsdNode = defineNode({
  type: 'FineTuneESD',
  typeVersion: 1,
  category: 'attribution',
  displayName: 'Fine-tune (ESD-u)',
  description: 'ESD-u: fine-tune every weight outside cross-attention towards the negatively guided target on an erase attribution\'s prompts.',
  inputs: {
    model: { type: 'MODEL', description: 'The model to tune' },
    attribution: { type: 'ATTRIBUTION', description: 'An erase attribution from FitAttribution: its plan gives the prompts and trajectories' },
  },
  outputs: {
    model: { type: 'MODEL', description: 'The tuned model (a delta overlay over the same weights)' },
    report: { type: 'TABLE', description: 'Per matrix: weights tuned and their mean absolute change' },
  },
  params: esdParams,
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = requireModel(inputs.model);
    const attr = requireAttribution(inputs.attribution, model);
    const plan = attr.provenance.plan as FitPlan | undefined;
    if (!plan || plan.objective !== 'erase') throw new NodeInputError('attribution', 'ESD needs an erase attribution fitted with FitAttribution (its plan gives the prompts and trajectories)');
    ctx.record({ seeds: { [`${ctx.nodeId}.seed`]: params.seed } });
    return esdErase(model, plan, params, {
      throwIfAborted: () => ctx.throwIfAborted(), log: (m) => ctx.log(m), onPass: (d, n) => ctx.progress(d, n, 'ESD steps'),
    });
  },
});
