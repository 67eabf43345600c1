// Classify: the judge's per-attribute labels for every image; accuracy per attribute when the images carry
// world labels (from the prompts that made them).
import { z } from 'zod';
import { defineNode, NodeInputError, type ImagesValue, type PromptsValue, type ScoresValue, type TableValue } from '../../sdk/index.ts';
import { attributeAccuracy, judgeImages } from '../judge.ts';
import { judgeFor, worldLabels } from './shared.ts';
import { modelFolderSignature } from '../../diffusion/folder-signature.ts';

export const classifyNode = defineNode({
  type: 'Classify',
  typeVersion: 1,
  category: 'evaluation',
  displayName: 'Classify',
  description: 'Judges every image (shape, colour, background, style). With world prompts it reports shape_acc, colour_acc, background_acc and style_acc.',
  inputs: {
    images: { type: 'IMAGES', description: 'Images to judge' },
    prompts: { type: 'PROMPTS', optional: true, description: 'Labels source when the images carry none' },
  },
  outputs: {
    scores: { type: 'SCORES', description: 'Per image: fraction of its named attributes the judge agrees with (or its confidence if unlabelled); summary has per-attribute accuracy' },
    labels: { type: 'TABLE', description: 'Per image: predicted value and probability of every attribute' },
  },
  params: z.object({
    judge: z.string().default('shapes-judge').describe('Judge model: bundled name or folder'),
    batchSize: z.number().int().min(1).max(1024).default(128).describe('Images per judge call'),
  }),
  // The judge's weights hash: replacing its file invalidates cached labels.
  signature: (params) => [modelFolderSignature(params.judge)],
  async execute(ctx, inputs, params) {
    const images = inputs.images as ImagesValue;
    if (!images?.images || images.images.shape[0] === 0) throw new NodeInputError('images', 'no images to classify');
    const judge = await judgeFor(ctx, 'judge', params.judge);
    ctx.progress(0, 1, 'judging');
    const result = await judgeImages(judge, images.images, params.batchSize);
    ctx.progress(1, 1, 'judged');
    const expected = worldLabels(images, inputs.prompts as PromptsValue | undefined);
    const extra: Record<string, number | string> = { count: result.labels.length };
    for (const attr of result.attributes) {
      const { accuracy, count } = attributeAccuracy(result.labels, expected, attr);
      if (count > 0) { extra[`${attr}_acc`] = accuracy; extra[`${attr}_n`] = count; }
    }
    const confidence = (i: number) => result.attributes.reduce((s, a) => s + Math.max(...result.probs[a][i]), 0) / result.attributes.length;
    const labelled = expected.some(Boolean);
    const values = result.labels.map((pred, i) => {
      const want = expected[i];
      if (!labelled) return confidence(i);
      const named = Object.keys(want ?? {}).filter((a) => result.attributes.includes(a));
      return named.length ? named.filter((a) => pred[a] === want![a]).length / named.length : NaN;
    });
    const scores: ScoresValue = {
      name: labelled ? 'judge_agreement' : 'judge_confidence', values,
      labels: result.labels.map((l) => result.attributes.map((a) => l[a]).join(' ')), extra,
    };
    const table: TableValue = {
      columns: ['index', 'prompt', ...result.attributes.flatMap((a) => [a, `${a}_p`])],
      rows: result.labels.map((l, i) => ({
        index: i, prompt: images.prompts?.[i] ?? null,
        ...Object.fromEntries(result.attributes.flatMap((a) => [[a, l[a]], [`${a}_p`, Math.max(...result.probs[a][i])]])),
      })),
    };
    return { scores, labels: table };
  },
});
