// Params and checks shared by the attribution nodes.
import { z } from 'zod';
import { NodeInputError, NodeParamError } from '../../sdk/errors.ts';
import { ui } from '../../sdk/params-schema.ts';
import type { ModelHandle } from '../../diffusion/handle.ts';
import type { AttributionValue } from '../attribution.ts';
import { buildComponentSet, COMPONENT_PRESETS, DEFAULT_COMPONENT_GLOBS, GRANULARITIES, type ComponentPreset, type ComponentSet } from '../components.ts';

export const componentParams = {
  component_set: z.enum(['cadflow', 'paper', 'custom']).default('cadflow')
    .describe('Matrices attributed: FF and cross-attention values (cadflow), FF only as in the paper, or the globs (custom).'),
  globs: ui(z.array(z.string().min(1)).default([...DEFAULT_COMPONENT_GLOBS])
    .describe('Parameter-name globs of the matrices to attribute (* = one name segment, ** = any).'), { show: { component_set: ['custom'] } }),
  granularity: ui(z.enum(GRANULARITIES).default('weight')
    .describe('A component is one weight, a row (output unit), a column (input), an output channel, or a head.'), { advanced: true }),
  heads: ui(z.number().int().min(1).max(64).default(1).describe('Heads per matrix for granularity "head".'), { advanced: true, show: { granularity: ['head'] } }),
};

type ComponentParams = { component_set: ComponentPreset; globs: string[]; granularity: ComponentSet['granularity']; heads: number };

export function componentSetFor(model: ModelHandle, p: ComponentParams): ComponentSet {
  const globs = p.component_set === 'custom' ? p.globs : COMPONENT_PRESETS[p.component_set];
  try {
    return buildComponentSet(model, { globs, granularity: p.granularity, heads: p.heads });
  } catch (err) {
    const msg = (err as Error).message;
    throw new NodeParamError(/heads/.test(msg) ? 'heads' : p.component_set === 'custom' ? 'globs' : 'component_set', msg);
  }
}

export function requireModel(value: unknown, input = 'model'): ModelHandle {
  const h = value as ModelHandle | undefined;
  if (!h || typeof h.weights !== 'function') throw new NodeInputError(input, 'expected a MODEL handle');
  return h;
}

export function requireAttribution(value: unknown, model?: ModelHandle): AttributionValue {
  const a = value as AttributionValue | undefined;
  if (!a || !(a.scores instanceof Map)) throw new NodeInputError('attribution', 'expected an ATTRIBUTION');
  if (model) {
    const names = new Set(model.paramNames());
    for (const m of a.set.matrices) {
      if (!names.has(m.name)) throw new NodeInputError('attribution', `the model has no parameter ${m.name}: attribution made for another model`);
      if (model.paramShape(m.name).join(',') !== m.shape.join(',')) throw new NodeInputError('attribution', `${m.name} has another shape in this model`);
    }
  }
  return a;
}
