// MaskComponents: ablate a chosen set of components — random (α, seed), an explicit list, or the top-k of an
// attribution — as a removable overlay on the MODEL handle (zero, mean or scale by k).
import { z } from 'zod';
import { defineNode, NodeInputError, NodeParamError, ui } from '../../sdk/index.ts';
import type { ComponentSet } from '../components.ts';
import { describeComponentSet } from '../components.ts';
import { explicitMask, maskOverlay, randomMask, topKMask, type Ablation, type MaskValue } from '../masks.ts';
import { componentParams, componentSetFor, requireAttribution, requireModel } from './shared.ts';

export const maskParams = z.object({
  mode: z.enum(['random', 'list', 'top-k']).default('random').describe('Which components to ablate: a random fraction, a list, or the attribution\'s top k.'),
  alpha: ui(z.number().min(0).max(1).default(0.05).describe('Fraction of the components ablated at random.'), { show: { mode: ['random'] } }),
  seed: ui(z.number().int().min(0).default(0).describe('Seed of the random draw.'), { widget: 'seed', show: { mode: ['random'] } }),
  list: ui(z.array(z.string()).default([]).describe('Components to ablate, each as "<param name>:<component index>".'), { show: { mode: ['list'] } }),
  k: ui(z.number().int().min(0).default(100).describe('Number of top components to ablate.'), { show: { mode: ['top-k'] } }),
  sign: ui(z.enum(['positive', 'negative', 'both']).default('positive').describe('Rank by highest s, lowest s, or largest |s|.'), { show: { mode: ['top-k'] } }),
  ablation: z.enum(['zero', 'mean', 'scale']).default('zero').describe('Replace ablated weights by 0 or by their matrix\'s mean, or multiply them by scale.'),
  scale: ui(z.number().default(0).describe('Factor the ablated weights are multiplied by.'), { show: { ablation: ['scale'] } }),
  ...componentParams,
});

export const maskComponentsNode = defineNode({
  type: 'MaskComponents',
  typeVersion: 1,
  category: 'attribution',
  displayName: 'Mask Components',
  description: 'Ablate components (random α, a list, or an attribution\'s top-k) as a removable overlay on the model; outputs the component set too.',
  inputs: {
    model: { type: 'MODEL' },
    attribution: { type: 'ATTRIBUTION', optional: true, description: 'For top-k (its component set is used)' },
  },
  outputs: {
    model: { type: 'MODEL', description: 'The model with the mask applied' },
    mask: { type: 'MASK' },
    components: { type: 'COMPONENTS', description: 'The component set with counts per matrix' },
  },
  params: maskParams,
  async execute(ctx, inputs, params) {
    const model = requireModel(inputs.model);
    const ablation: Ablation = params.ablation === 'scale' ? { mode: 'scale', k: params.scale } : { mode: params.ablation };
    let set: ComponentSet;
    let mask: MaskValue;
    if (params.mode === 'top-k') {
      if (!inputs.attribution) throw new NodeInputError('attribution', 'top-k needs an attribution');
      const attr = requireAttribution(inputs.attribution, model);
      set = attr.set;
      mask = topKMask(set, attr.scores, params.k, params.sign, ablation);
    } else {
      set = componentSetFor(model, params);
      if (params.mode === 'random') {
        mask = randomMask(set, params.alpha, params.seed, ablation);
      } else {
        try {
          mask = explicitMask(set, params.list, ablation);
        } catch (err) {
          throw new NodeParamError('list', (err as Error).message);
        }
      }
    }
    ctx.record({ seeds: { [`${ctx.nodeId}.seed`]: params.seed } });
    return { model: model.withOverlay(maskOverlay(mask)), mask, components: set };
  },
  summarize(output, value) {
    if (output === 'components') return describeComponentSet(value as ComponentSet);
    if (output === 'mask') {
      const m = value as MaskValue;
      return { count: m.count, of: m.set.totalComponents, granularity: m.set.granularity, ablation: m.ablation, drawn: m.drawn };
    }
    return undefined as unknown;
  },
});
