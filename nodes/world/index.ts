// The world pack. The Prompts node lands in nodes/world/prompts.ts.
import { defineNodePack } from '../sdk/index.ts';

export * from './concepts.ts';
export * from './render.ts';
export * from './captions.ts';

export default defineNodePack({ name: 'world', nodes: [] });
