// Sample: PROMPTS → IMAGES with DDIM + classifier-free guidance; streams every step's x0 prediction as a PNG.
import { z } from 'zod';
import { defineNode, NodeInputError, type ImagesValue, type PromptsValue } from '../../sdk/index.ts';
import { gridPng, tensorToBatch } from '../../sdk/image.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import { sampleImages } from '../api.ts';
import type { ModelHandle } from '../handle.ts';

export const sampleNode = defineNode({
  type: 'Sample',
  typeVersion: 1,
  category: 'model',
  displayName: 'Sample',
  description: 'Generates one image per prompt (DDIM with classifier-free guidance); previews the x0 prediction of every step.',
  inputs: {
    model: { type: 'MODEL', description: 'Model (with any edits) to sample from' },
    prompts: { type: 'PROMPTS', description: 'Prompts, optionally with per-prompt seeds' },
  },
  outputs: { images: { type: 'IMAGES', description: 'Batch [N,32,32,3] in [0,1]' } },
  params: z.object({
    steps: z.number().int().min(1).max(1000).default(25).describe('DDIM steps (the last lands on t = 0)'),
    cfg: z.number().min(0).max(30).default(3).describe('Classifier-free guidance scale (1 = no guidance)'),
    eta: z.number().min(0).max(1).default(0).describe('DDIM eta: 0 deterministic, 1 DDPM-like noise'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0).describe('Seed of image i is seed + i for prompts without their own seeds'),
    batchSize: z.number().int().min(1).max(256).default(32).describe('Images per UNet call (memory bound)'),
    previewEvery: z.number().int().min(0).max(1000).default(1).describe('Stream the x0 prediction every N steps (0 = never)'),
  }),
  async execute(ctx, inputs, params) {
    await initRuntime();
    const model = inputs.model as ModelHandle;
    const p = inputs.prompts as PromptsValue | undefined;
    if (!p || !Array.isArray(p.prompts) || p.prompts.length === 0) throw new NodeInputError('prompts', 'no prompts to sample');
    if (p.seeds && p.seeds.length !== p.prompts.length) {
      throw new NodeInputError('prompts', `${p.seeds.length} seeds for ${p.prompts.length} prompts`);
    }
    const seeds = p.seeds ?? p.prompts.map((_, i) => params.seed + i);
    ctx.record({ seeds: { [ctx.nodeId]: seeds } });
    const images = await sampleImages(model, p.prompts, seeds, { steps: params.steps, cfg: params.cfg, eta: params.eta, batchSize: params.batchSize }, {
      signal: ctx.signal,
      async onStep(step, x0, info) {
        ctx.throwIfAborted();
        ctx.progress(info.chunk * info.steps + step + 1, info.chunks * info.steps, `step ${step + 1}/${info.steps}`);
        const last = step === info.steps - 1;
        if (params.previewEvery > 0 && (step % params.previewEvery === 0 || last)) {
          ctx.preview(gridPng(await tensorToBatch(x0), { scale: 2 }), info.chunk * info.steps + step, `x0 at step ${step + 1}`);
        }
      },
    });
    // The batch as one grid PNG in the run record, so the editor shows it again when the run is reopened.
    await ctx.writeArtifact('samples.png', gridPng(await tensorToBatch(images), { scale: 2 }), 'image/png');
    const value: ImagesValue = {
      images, prompts: [...p.prompts], seeds, labels: p.labels,
      dispose: () => images.dispose(),
    };
    return { images: value };
  },
});
