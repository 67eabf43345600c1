// The evaluation pack: the world judge, shapes-CLIP (CLIP score, FD) and the erasure protocol, as nodes.
import { defineNodePack } from '../sdk/index.ts';
import { classifyNode } from './nodes/classify.ts';
import { clipScoreNode } from './nodes/clip-score.ts';
import { evaluateErasureNode } from './nodes/evaluate-erasure.ts';
import { tableNode } from './nodes/table.ts';

export { judgeImages, loadJudge, attributeAccuracy, type Judge, type JudgeResult } from './judge.ts';
export { loadClip, embedImages, embedTexts, clipScoresOf, type Clip } from './clip.ts';
export { frechetDistance, fitGaussian, frechetDistanceOfFits } from './fd.ts';
export { erasureProtocol, attributeOf, PROTOCOL_SIZES, type ErasureProtocol } from './protocols/erasure.ts';
export { evaluateErasure, harmonicMean, ERASURE_COLUMNS, type ErasureRow } from './erasure-eval.ts';

export default defineNodePack({ name: 'evaluation', nodes: [classifyNode, clipScoreNode, evaluateErasureNode, tableNode] });
