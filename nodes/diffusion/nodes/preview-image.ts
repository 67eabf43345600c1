// PreviewImage: tiles an IMAGES batch into one grid PNG, stores it as an artifact and streams it as a preview.
import { z } from 'zod';
import { defineNode, NodeInputError, type ImagesValue } from '../../sdk/index.ts';
import { gridPng, tensorToBatch } from '../../sdk/image.ts';

export const previewImageNode = defineNode({
  type: 'PreviewImage',
  typeVersion: 1,
  category: 'image',
  displayName: 'Preview Image',
  description: 'Shows a batch of images as one grid PNG (stored as a run artifact).',
  inputs: { images: { type: 'IMAGES', description: 'Batch [N,H,W,3] in [0,1]' } },
  outputs: { artifact: { type: 'STRING', description: 'Artifact id (sha256) of the grid PNG' } },
  params: z.object({
    columns: z.number().int().min(0).max(64).default(0).describe('Images per row (0 = about square)'),
    scale: z.number().int().min(1).max(16).default(4).describe('Nearest-neighbour upscaling per image, for visibility'),
    name: z.string().regex(/^[\w.-]{1,64}$/).default('preview').describe('File name of the artifact (without .png)'),
  }),
  async execute(ctx, inputs, params) {
    const value = inputs.images as ImagesValue | undefined;
    if (!value?.images || value.images.shape.length !== 4 || value.images.shape[3] !== 3) {
      throw new NodeInputError('images', `expected images [N,H,W,3], got ${value?.images ? `[${value.images.shape.join(',')}]` : 'nothing'}`);
    }
    if (value.images.shape[0] === 0) throw new NodeInputError('images', 'empty batch');
    const batch = await tensorToBatch(value.images);
    const png = gridPng(batch, { columns: params.columns || undefined, scale: params.scale });
    const ref = await ctx.writeArtifact(`${params.name}.png`, png, 'image/png');
    ctx.preview(png, 0, `${batch.n} image${batch.n === 1 ? '' : 's'}`);
    return { artifact: ref.id };
  },
  summarize(_output, value) {
    return { artifact: value, mime: 'image/png' };
  },
});
