// The world pack: the procedural shapes world (concepts, renderer, captions) and its Prompts and Concept nodes.
import { defineNodePack } from '../sdk/index.ts';
import { promptsNode } from './prompts.ts';
import { conceptNode } from './concept-node.ts';

export * from './concepts.ts';
export * from './render.ts';
export * from './captions.ts';
export { buildPrompts, promptsNode } from './prompts.ts';

export default defineNodePack({ name: 'world', nodes: [promptsNode, conceptNode] });
