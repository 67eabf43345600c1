// Evaluation model folders (models/shapes-judge, models/shapes-clip): config.json + model.safetensors (+ metrics,
// MODEL_CARD.md). Loaded once per folder and file version, shared by every node and run in the process.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@tensorflow/tfjs';
import { tf } from '../sdk/runtime.ts';
import { parseSafetensors, serializeSafetensors } from '../diffusion/safetensors.ts';
import { resolveModelDir } from '../diffusion/model-handle.ts';
import { flatFrom, namedArrays, type ParamLayout } from './params.ts';
import { writeFileAtomic } from '../sdk/files.ts';

export interface LoadedModel<C> {
  readonly dir: string;
  readonly config: C;
  /** sha256 of model.safetensors (for run records and cache signatures). */
  readonly sha256: string;
  /** Shared, process-lifetime weights: never dispose them. */
  readonly weights: ReadonlyMap<string, Tensor>;
}

/** Writes config.json, model.safetensors (F32) and metrics.json; returns the weights' sha256. */
export async function saveEvalModel(dir: string, config: object, layout: ParamLayout, flat: Float32Array, metrics?: object): Promise<string> {
  const bytes = serializeSafetensors(namedArrays(layout, flat), { metadata: { format: 'cadflow-eval', kind: String((config as { kind?: string }).kind) } });
  await writeFileAtomic(join(dir, 'model.safetensors'), bytes);
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  if (metrics) await writeFileAtomic(join(dir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  return createHash('sha256').update(bytes).digest('hex');
}

const cache = new Map<string, Promise<LoadedModel<unknown>>>();

async function readEvalModel<C>(dir: string, kind: string, layoutOf: (cfg: C) => ParamLayout): Promise<LoadedModel<C>> {
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(await readFile(configPath, 'utf8')) as C & { kind?: string };
  if (config.kind !== kind) throw new Error(`${configPath}: kind is "${config.kind}", expected "${kind}"`);
  const weightsPath = join(dir, 'model.safetensors');
  const bytes = await readFile(weightsPath);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const layout = layoutOf(config);
  const flat = flatFrom(layout, parseSafetensors(bytes, weightsPath).tensors, weightsPath);
  const weights = new Map<string, Tensor>();
  layout.specs.forEach((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    weights.set(s.name, tf.keep(tf.tensor(flat.subarray(layout.offsets[i], layout.offsets[i] + n), s.shape, 'float32')));
  });
  return { dir, config, sha256, weights };
}

/** A bundled name (folder under modelsDir) or a folder path; cached by folder + file size + mtime. */
export function loadEvalModel<C>(
  nameOrDir: string, kind: string, layoutOf: (cfg: C) => ParamLayout, modelsDir = 'models',
): Promise<LoadedModel<C>> {
  const dir = resolveModelDir(nameOrDir, modelsDir);
  const st = statSync(join(dir, 'model.safetensors'));
  const key = `${dir}:${st.size}:${st.mtimeMs}`;
  let p = cache.get(key);
  if (!p) {
    p = readEvalModel<C>(dir, kind, layoutOf) as Promise<LoadedModel<unknown>>;
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p as Promise<LoadedModel<C>>;
}
