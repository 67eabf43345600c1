// Concept: the one place a workflow names its concept. FitAttribution and EvaluateErasure read it through
// their optional `concept` input, which wins over their own `concept` param.
import { z } from 'zod';
import { defineNode, NodeParamError } from '../sdk/index.ts';
import { attributeOf } from './concepts.ts';

export const conceptParams = z.object({
  concept: z.string().default('circle').describe('The concept: a world value (circle, red, striped, outline, …) or free text.'),
});

export const conceptNode = defineNode({
  type: 'Concept',
  typeVersion: 1,
  category: 'world',
  displayName: 'Concept',
  description: 'Names the concept once; wire its output to the concept input of every node that works on it.',
  inputs: {},
  outputs: { concept: { type: 'STRING', description: 'The concept, trimmed' } },
  params: conceptParams,
  async execute(ctx, _inputs, params) {
    const concept = params.concept.trim();
    if (!concept) throw new NodeParamError('concept', 'name a concept');
    const attribute = attributeOf(concept);
    ctx.log(attribute ? `'${concept}' is a ${attribute} of the shapes world` : `'${concept}' is free text (not a world value): nodes that need a world concept will say so`);
    return { concept };
  },
});
