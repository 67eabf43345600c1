// ClipScore: shapes-CLIP score of each image against its prompt, 100·max(cos, 0) (torchmetrics' definition).
import { z } from 'zod';
import { defineNode, NodeInputError, tf, type ImagesValue, type PromptsValue, type ScoresValue } from '../../sdk/index.ts';
import { clipScoresOf, embedImages, embedTexts } from '../clip.ts';
import { clipFor } from './shared.ts';
import { modelFolderSignature } from '../../diffusion/folder-signature.ts';

export const clipScoreNode = defineNode({
  type: 'ClipScore',
  typeVersion: 1,
  category: 'evaluation',
  displayName: 'CLIP Score',
  description: 'shapes-CLIP score (100·max(cos, 0)) of each image against its prompt; scores stream per batch.',
  inputs: {
    images: { type: 'IMAGES', description: 'Images to score' },
    prompts: { type: 'PROMPTS', optional: true, description: 'Texts to score against (default: the prompts that made the images)' },
  },
  outputs: { scores: { type: 'SCORES', description: 'Per-image CLIP score; summary mean' } },
  params: z.object({
    clip: z.string().default('shapes-clip').describe('shapes-CLIP model: bundled name or folder'),
    batchSize: z.number().int().min(1).max(1024).default(64).describe('Images per CLIP call (one progress update each)'),
  }),
  signature: (params) => [modelFolderSignature(params.clip)],
  async execute(ctx, inputs, params) {
    const images = inputs.images as ImagesValue;
    const n = images?.images?.shape[0] ?? 0;
    if (n === 0) throw new NodeInputError('images', 'no images to score');
    const texts = (inputs.prompts as PromptsValue | undefined)?.prompts ?? images.prompts;
    if (!texts) throw new NodeInputError('prompts', 'the images carry no prompts: connect a PROMPTS input');
    if (texts.length !== n) throw new NodeInputError('prompts', `${texts.length} prompts for ${n} images`);
    const clip = await clipFor(ctx, 'clip', params.clip);
    const d = clip.config.embed_dim;
    const values: number[] = [];
    for (let start = 0; start < n; start += params.batchSize) {
      ctx.throwIfAborted();
      const size = Math.min(params.batchSize, n - start);
      const part = tf.slice(images.images, [start, 0, 0, 0], [size, -1, -1, -1]);
      const img = await embedImages(clip, part).finally(() => part.dispose());
      const batchScores = clipScoresOf(img, await embedTexts(clip, texts.slice(start, start + size)), d);
      values.push(...batchScores);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      ctx.progress(values.length, n, `clip_score mean ${mean.toFixed(2)}`);
      ctx.log(`clip_score[${start}..${start + size - 1}]: ${batchScores.map((s) => s.toFixed(2)).join(' ')}`);
    }
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const scores: ScoresValue = { name: 'clip_score', values, labels: [...texts], extra: { clip_score: mean } };
    return { scores };
  },
});
