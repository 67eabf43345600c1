// The attention node pack: cadflow loads the pack this file default-exports (package.json "cadflow.nodes").
import { defineNodePack } from 'cadflow/sdk';
import { conceptHeatmapNode } from './nodes/concept-heatmap.ts';

export default defineNodePack({ name: 'attention', nodes: [conceptHeatmapNode] });
