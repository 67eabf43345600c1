// Params and checks shared by the attribution nodes.
import { z } from 'zod';
import { NodeInputError, NodeParamError } from '../../sdk/errors.ts';
import type { ModelHandle } from '../../diffusion/handle.ts';
import type { AttributionValue } from '../attribution.ts';
import { buildComponentSet, DEFAULT_COMPONENT_GLOBS, GRANULARITIES, type ComponentSet } from '../components.ts';

export const componentParams = {
  globs: z.array(z.string().min(1)).default([...DEFAULT_COMPONENT_GLOBS])
    .describe('Parameter-name globs of the component matrices (* = one name segment, ** = any); default: the FF matrices of every transformer block'),
  granularity: z.enum(GRANULARITIES).default('weight')
    .describe('Component = one weight, a row (output unit), a column (input), an output channel, or an attention head'),
  heads: z.number().int().min(1).max(64).default(1).describe('Heads per matrix for granularity "head"'),
};

export function componentSetFor(model: ModelHandle, p: { globs: string[]; granularity: ComponentSet['granularity']; heads: number }): ComponentSet {
  try {
    return buildComponentSet(model, p);
  } catch (err) {
    const msg = (err as Error).message;
    throw new NodeParamError(/heads/.test(msg) ? 'heads' : 'globs', msg);
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
