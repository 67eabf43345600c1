// ModelHandle (handle.ts) over shared base weights: loading a model folder (config.json + model.safetensors),
// integrity checks with clear errors, overlays applied in order, memoised effective weights.
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NodeParamError } from '../sdk/errors.ts';
import { tf } from '../sdk/runtime.ts';
import type { Tensor } from '@tensorflow/tfjs';
import type { ModelHandle, WeightOverlay } from './handle.ts';
import { validateConfig, type ModelConfig } from './model/config.ts';
import { expectedShapes } from './model/network.ts';
import { parseSafetensors } from './safetensors.ts';

/** Never-edited weights shared by every handle on the same file. */
export interface BaseWeights {
  readonly config: ModelConfig;
  readonly weightsHash: string;
  readonly tensors: ReadonlyMap<string, Tensor>;
}

export class LoadedModel implements ModelHandle {
  readonly key: string;
  private memo: Map<string, Tensor> | undefined;
  private owned: Tensor[] = [];

  constructor(readonly name: string, private readonly base_: BaseWeights, readonly overlays: readonly WeightOverlay[] = []) {
    this.key = [base_.weightsHash, ...overlays.map((o) => o.id)].join('+');
  }

  get config(): Record<string, unknown> {
    return this.base_.config as unknown as Record<string, unknown>;
  }
  /** The same config, typed. */
  get modelConfig(): ModelConfig {
    return this.base_.config;
  }
  get weightsHash(): string {
    return this.base_.weightsHash;
  }
  paramNames(): string[] {
    return [...this.base_.tensors.keys()];
  }
  paramShape(name: string): number[] {
    return [...this.base(name).shape];
  }
  base(name: string): Tensor {
    const t = this.base_.tensors.get(name);
    if (!t) throw new Error(`model ${this.name}: no parameter "${name}"`);
    return t;
  }

  weights(): ReadonlyMap<string, Tensor> {
    if (this.memo) return this.memo;
    const map = new Map(this.base_.tensors);
    for (const name of new Set(this.overlays.flatMap((o) => o.params))) {
      const edited = tf.tidy(() => this.overlays.reduce((w, o) => (o.params.includes(name) ? o.apply(name, w) : w), this.base(name)));
      tf.keep(edited);
      this.owned.push(edited);
      map.set(name, edited);
    }
    return (this.memo = map);
  }

  withOverlay(overlay: WeightOverlay): ModelHandle {
    for (const p of overlay.params) this.base(p); // fail early on a name this model lacks
    return new LoadedModel(this.name, this.base_, [...this.overlays, overlay]);
  }

  withoutOverlay(id: string): ModelHandle {
    return new LoadedModel(this.name, this.base_, this.overlays.filter((o) => o.id !== id));
  }

  dispose(): void {
    tf.dispose(this.owned);
    this.owned = [];
    this.memo = undefined;
  }
}

const bases = new Map<string, Promise<BaseWeights>>();

/** Whether a model param names a folder by path (else it is a bundled model's name, a folder under modelsDir). */
export function isModelPath(nameOrDir: string): boolean {
  return isAbsolute(nameOrDir) || nameOrDir.startsWith('.') || nameOrDir.includes('/') || nameOrDir.includes('\\');
}

/**
 * Refuses a model folder given by path outside `roots` (set for runs from requests; the CLI may read any path).
 * Decided on the path alone, before the filesystem is touched, so the answer never tells whether it exists.
 */
export function checkModelRoots(model: string, roots: readonly string[] | undefined, param = 'model'): void {
  if (!roots || !isModelPath(model)) return;
  const dir = resolve(model);
  const inside = roots.some((root) => {
    const rel = relative(resolve(root), dir);
    return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
  });
  if (!inside) {
    throw new NodeParamError(param, `"${model}" is outside the model folders this server may read (the bundled models, <data>/models and any serve --models folder)`);
  }
}

/** A bundled model name (a folder under modelsDir) or a path to a folder with config.json + model.safetensors. */
export function resolveModelDir(nameOrDir: string, modelsDir: string): string {
  const looksLikePath = isModelPath(nameOrDir);
  const dir = looksLikePath ? resolve(nameOrDir) : join(modelsDir, nameOrDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(looksLikePath ? `model folder ${dir} does not exist` : `no bundled model "${nameOrDir}" (looked for ${dir})`);
  }
  for (const f of ['config.json', 'model.safetensors']) {
    if (!existsSync(join(dir, f))) throw new Error(`model folder ${dir} has no ${f}`);
  }
  return dir;
}

async function readBase(dir: string): Promise<BaseWeights> {
  let config: ModelConfig;
  try {
    config = validateConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
  } catch (err) {
    throw new Error(`${join(dir, 'config.json')}: ${(err as Error).message}`);
  }
  const bytes = await readFile(join(dir, 'model.safetensors'));
  const weightsHash = createHash('sha256').update(bytes).digest('hex');
  const file = parseSafetensors(bytes, join(dir, 'model.safetensors'));
  const expected = expectedShapes(config);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = file.tensors.get(name);
    if (!t) problems.push(`missing "${name}"`);
    else if (t.shape.join(',') !== shape.join(',')) problems.push(`"${name}" is [${t.shape}], config needs [${shape}]`);
  }
  for (const name of file.tensors.keys()) if (!expected.has(name)) problems.push(`unexpected "${name}"`);
  if (problems.length) {
    throw new Error(`${join(dir, 'model.safetensors')} does not match config.json: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
  }
  const tensors = new Map<string, Tensor>();
  for (const name of expected.keys()) {
    const t = file.tensors.get(name)!;
    tensors.set(name, tf.keep(tf.tensor(t.data, t.shape)));
  }
  return { config, weightsHash, tensors };
}

/** Loads (once per folder and file hash, shared) and returns a handle without overlays. */
export async function loadModel(nameOrDir: string, modelsDir: string): Promise<LoadedModel> {
  const dir = resolveModelDir(nameOrDir, modelsDir);
  const st = statSync(join(dir, 'model.safetensors'));
  const cacheKey = `${dir}:${st.size}:${st.mtimeMs}`;
  let base = bases.get(cacheKey);
  if (!base) {
    base = readBase(dir);
    bases.set(cacheKey, base);
    base.catch(() => bases.delete(cacheKey));
  }
  return new LoadedModel(isModelPath(nameOrDir) ? dir : nameOrDir, await base);
}

/** A handle over weights held in memory (training, tests); `weightsHash` names them. */
export function handleFromWeights(name: string, config: ModelConfig, tensors: ReadonlyMap<string, Tensor>, weightsHash: string): LoadedModel {
  return new LoadedModel(name, { config, weightsHash, tensors });
}
