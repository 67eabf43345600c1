// LoadModel: a bundled model by name (models/<name>) or a folder with config.json + model.safetensors → MODEL.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { defineNode, NodeParamError } from '../../sdk/index.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import type { ModelHandle } from '../handle.ts';
import { loadModel, resolveModelDir } from '../model-handle.ts';

/** The repository's bundled models folder (what the engine passes as ctx.dirs.models). */
const BUNDLED_MODELS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'models');

const hashCache = new Map<string, string>();
/** sha256 of a model's weights file, memoised per (path, size, mtime). */
function weightsFileHash(dir: string): string {
  const path = join(dir, 'model.safetensors');
  const st = statSync(path);
  const key = `${path}:${st.size}:${st.mtimeMs}`;
  let h = hashCache.get(key);
  if (!h) hashCache.set(key, (h = createHash('sha256').update(readFileSync(path)).digest('hex')));
  return h;
}

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
    try {
      return [weightsFileHash(resolveModelDir(params.model, BUNDLED_MODELS))];
    } catch {
      return ['unresolved'];
    }
  },
  async execute(ctx, _inputs, params) {
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
