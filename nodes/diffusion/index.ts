// The diffusion pack: Load Model, Sample, Preview Image (+ the library: api.ts, ops/, scheduler.ts, train/).
import { defineNodePack } from '../sdk/index.ts';
import { loadModelNode } from './nodes/load-model.ts';
import { previewImageNode } from './nodes/preview-image.ts';
import { sampleNode } from './nodes/sample.ts';

export default defineNodePack({ name: 'diffusion', nodes: [loadModelNode, sampleNode, previewImageNode] });
