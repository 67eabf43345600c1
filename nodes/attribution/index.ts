// The attribution pack (CAD): component sets, masks, Fit Attribution, Erase, its baselines and ESD-u, validation.
import { defineNodePack } from '../sdk/index.ts';
import { eraseNode } from './nodes/erase.ts';
import { eraseBaselineNode } from './nodes/erase-baseline.ts';
import { fineTuneEsdNode } from './nodes/fine-tune-esd.ts';
import { fitAttributionNode } from './nodes/fit-attribution.ts';
import { maskComponentsNode } from './nodes/mask-components.ts';
import { validateAttributionNode } from './nodes/validate-attribution.ts';

export default defineNodePack({
  name: 'attribution',
  nodes: [maskComponentsNode, fitAttributionNode, eraseNode, eraseBaselineNode, fineTuneEsdNode, validateAttributionNode],
});
