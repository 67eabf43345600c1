// The attribution pack (CAD): component sets, masks, Fit Attribution, Erase (and its baselines), validation.
import { defineNodePack } from '../sdk/index.ts';
import { eraseNode } from './nodes/erase.ts';
import { fitAttributionNode } from './nodes/fit-attribution.ts';
import { maskComponentsNode } from './nodes/mask-components.ts';
import { validateAttributionNode } from './nodes/validate-attribution.ts';

export default defineNodePack({
  name: 'attribution',
  nodes: [maskComponentsNode, fitAttributionNode, eraseNode, validateAttributionNode],
});
