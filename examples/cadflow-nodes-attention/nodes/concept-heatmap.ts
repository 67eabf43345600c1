// attention/ConceptHeatmap: samples the prompts and shows where each image draws a word of its prompt, from the
// UNet's cross-attention to that word (nodes/heatmap.ts), as a heat map over the sample and as a plain map.
import {
  defineNode, gridPng, initRuntime, NodeInputError, NodeParamError, tensorToBatch, tf, ui, z,
  type ImagesValue, type PromptsValue,
} from 'cadflow/sdk';
import type { ModelHandle } from 'cadflow/model';
import { conceptHeatmaps, CROSS_ATTENTION, DEFAULT_HEATMAP, heatmapImages, overlayHeatmaps, wordPositions } from './heatmap.ts';

function imagesValue(images: tf.Tensor4D, p: PromptsValue, seeds: number[]): ImagesValue {
  return { images, prompts: [...p.prompts], seeds, labels: p.labels, dispose: () => images.dispose() };
}

export const conceptHeatmapNode = defineNode({
  type: 'attention/ConceptHeatmap',
  typeVersion: 1,
  category: 'attention',
  displayName: 'Concept Heatmap',
  description: "Samples the prompts and shows where each image draws a word of its prompt, from the UNet's cross-attention (DAAM).",
  inputs: {
    model: { type: 'MODEL', description: 'Model (with any edits) to sample from' },
    prompts: { type: 'PROMPTS', description: 'Prompts that contain the word, optionally with per-prompt seeds' },
  },
  outputs: {
    overlay: { type: 'IMAGES', description: 'The heat map (blue → red) over a grey copy of each sample' },
    heatmap: { type: 'IMAGES', description: 'The plain heat map of each sample, grey in [0,1] (its minimum to its maximum)' },
    images: { type: 'IMAGES', description: 'The samples' },
  },
  params: z.object({
    word: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/).default('heart').describe('The word of the prompts to locate in the images, e.g. heart or red.'),
    steps: z.number().int().min(1).max(1000).default(25).describe('DDIM steps.'),
    cfg: z.number().min(0).max(30).default(3).describe('Classifier-free guidance scale (1 = no guidance).'),
    seed: ui(z.number().int().min(0).max(2 ** 31 - 1).default(0), { widget: 'seed' })
      .describe('Seed of image i is seed + i for prompts without their own seeds.'),
    blocks: ui(z.enum(['all', 'down', 'mid', 'up']).default('down'), { advanced: true })
      .describe("Which part of the UNet's cross-attention to read: the down blocks localise best on shapes-tiny."),
    finestOnly: ui(z.boolean().default(DEFAULT_HEATMAP.finestOnly), { advanced: true })
      .describe('Read only the finest attention grid of those blocks (8×8 on shapes-tiny) instead of every grid.'),
    fromStep: ui(z.number().min(0).max(0.95).default(DEFAULT_HEATMAP.fromStep), { advanced: true })
      .describe('Sum the steps from this fraction of sampling on (0 = every step; late steps localise best).'),
    excludeStart: ui(z.boolean().default(false), { advanced: true })
      .describe("Renormalise each pixel's attention over the tokens other than the start token."),
    batchSize: ui(z.number().int().min(1).max(64).default(16), { advanced: true }).describe('Images sampled together (memory bound).'),
  }),
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = inputs.model as ModelHandle;
    const p = inputs.prompts as PromptsValue | undefined;
    if (!p || !Array.isArray(p.prompts) || p.prompts.length === 0) throw new NodeInputError('prompts', 'no prompts');
    if (p.seeds && p.seeds.length !== p.prompts.length) throw new NodeInputError('prompts', `${p.seeds.length} seeds for ${p.prompts.length} prompts`);
    let positions: number[][];
    try {
      positions = wordPositions(model, p.prompts, params.word);
    } catch (err) {
      throw new NodeParamError('word', err instanceof Error ? err.message : String(err));
    }
    if (positions.every((pos) => pos.length === 0)) throw new NodeParamError('word', `no prompt contains "${params.word}"`);
    const missing = positions.filter((pos) => pos.length === 0).length;
    if (missing) ctx.log(`${missing} of ${p.prompts.length} prompts do not contain "${params.word}": their heat maps are 0`);
    const seeds = p.seeds ?? p.prompts.map((_, i) => params.seed + i);
    ctx.record({ seeds: { [ctx.nodeId]: seeds } });

    const { images, heatmaps } = await conceptHeatmaps(model, p.prompts, seeds, params.word, {
      steps: params.steps, cfg: params.cfg, batchSize: params.batchSize, layers: CROSS_ATTENTION[params.blocks],
      finestOnly: params.finestOnly, fromStep: params.fromStep, excludeStart: params.excludeStart, signal: ctx.signal,
      onStep: (done, total) => {
        ctx.throwIfAborted();
        ctx.progress(done, total, `sampling with attention maps, ${done}/${total} image steps`);
      },
    });
    const owned: tf.Tensor[] = [images];
    try {
      const overlay = overlayHeatmaps(images, heatmaps);
      owned.push(overlay);
      const plain = heatmapImages(heatmaps);
      owned.push(plain);
      // Preview and artifact: each sample beside its overlay, up to 8 pairs a row.
      const [, height, width, channels] = images.shape;
      const pairs = tf.tidy(() => tf.reshape(tf.stack([images, overlay], 1), [-1, height, width, channels]) as tf.Tensor4D);
      const batch = await tensorToBatch(pairs).finally(() => pairs.dispose());
      const png = gridPng(batch, { columns: 2 * Math.min(8, p.prompts.length), scale: 4 });
      await ctx.writeArtifact(`concept-heatmap-${params.word}.png`, png, 'image/png');
      ctx.preview(png, 0, `"${params.word}" in ${p.prompts.length} image${p.prompts.length === 1 ? '' : 's'}`);
      return {
        overlay: imagesValue(overlay, p, seeds),
        heatmap: imagesValue(plain, p, seeds),
        images: imagesValue(images, p, seeds),
      };
    } catch (err) {
      tf.dispose(owned);
      throw err;
    } finally {
      heatmaps.dispose();
    }
  },
});
