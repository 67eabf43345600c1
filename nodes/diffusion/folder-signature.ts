// Cache signatures of nodes that load a model folder by a name or path param (LoadModel's model, a judge, a
// shapes-CLIP): the weights file's sha256, so replacing the file invalidates every cached result computed from it.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveModelDir } from './model-handle.ts';

/** The repository's bundled models folder (what the engine passes as ctx.dirs.models). */
export const BUNDLED_MODELS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models');

const hashCache = new Map<string, string>();

/** sha256 of a model folder's model.safetensors, memoised per (path, size, mtime); 'unresolved' if there is none (execute then reports why). */
export function modelFolderSignature(nameOrDir: string): string {
  try {
    const path = join(resolveModelDir(nameOrDir, BUNDLED_MODELS), 'model.safetensors');
    const st = statSync(path);
    const key = `${path}:${st.size}:${st.mtimeMs}`;
    let h = hashCache.get(key);
    if (!h) hashCache.set(key, (h = createHash('sha256').update(readFileSync(path)).digest('hex')));
    return h;
  } catch {
    return 'unresolved';
  }
}
