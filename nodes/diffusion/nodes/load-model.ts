// LoadModel: a bundled model by name (models/<name>) or a folder with config.json + model.safetensors → MODEL.
import { z } from 'zod';
import { defineNode, NodeParamError } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import type { ModelHandle } from '../handle.ts';
import { checkModelRoots, loadModel } from '../model-handle.ts';
import { modelFolderSignature } from '../folder-signature.ts';

export const loadModelNode = defineNode({
  type: 'LoadModel',
  typeVersion: 1,
  category: 'model',
  displayName: 'Load Model',
  description: 'Loads a text-to-image diffusion model: a bundled one by name, or a folder with config.json + model.safetensors.',
  inputs: {},
  outputs: { model: { type: 'MODEL', description: 'Handle on the shared weights (edits are overlays)' } },
  params: z.object({
    model: z.string().min(1).max(4096).default('shapes-tiny')
      .describe('Bundled model name (e.g. shapes-tiny, shapes-micro) or a path to a model folder'),
  }),
  signature(params) {
    // The weights' hash, so replacing the file invalidates cached results downstream.
    return [modelFolderSignature(params.model)];
  },
  async execute(ctx, _inputs, params) {
    checkModelRoots(params.model, ctx.dirs.modelRoots);
    await initRuntime();
    let handle: ModelHandle;
    try {
      handle = await loadModel(params.model, ctx.dirs.models);
    } catch (err) {
      throw new NodeParamError('model', `cannot load model "${params.model}": ${(err as Error).message}`);
    }
    ctx.record({ hashes: { [handle.name]: handle.weightsHash } });
    ctx.log(`loaded ${handle.name} (${handle.paramNames().length} tensors, sha256 ${handle.weightsHash.slice(0, 12)}…)`);
    return { model: handle };
  },
  summarize(_output, value) {
    const h = value as ModelHandle;
    return { name: h.name, weightsHash: h.weightsHash, key: h.key, overlays: h.overlays.map((o) => o.label) };
  },
});
