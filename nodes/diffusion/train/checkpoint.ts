// Training checkpoints (weights, EMA, Adam state, step; the data/noise RNG is a pure function of (seed, step),
// so the step is the whole RNG state) and model export (EMA weights + config.json).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../sdk/files.ts';
import type { ModelConfig } from '../model/config.ts';
import { readSafetensors, serializeSafetensors, writeSafetensors, type TensorToWrite } from '../safetensors.ts';
import type { ParamLayout } from './gradients.ts';
import { sizeOf } from './gradients.ts';
import type { TrainSettings } from './presets.ts';

export interface TrainState {
  step: number;
  params: Float32Array;
  ema: Float32Array;
  adamM: Float32Array;
  adamV: Float32Array;
  adamT: number;
  /** Training wall time so far (ms), summed over resumed runs. */
  elapsedMs: number;
}

export function configHash(cfg: ModelConfig): string {
  return createHash('sha256').update(JSON.stringify(cfg)).digest('hex').slice(0, 16);
}

export async function saveCheckpoint(path: string, st: TrainState, cfg: ModelConfig, settings: TrainSettings): Promise<void> {
  const flat = (data: Float32Array): TensorToWrite => ({ shape: [data.length], data });
  await writeSafetensors(path, { params: flat(st.params), ema: flat(st.ema), adam_m: flat(st.adamM), adam_v: flat(st.adamV) }, {
    metadata: {
      step: String(st.step), adam_t: String(st.adamT), elapsed_ms: String(Math.round(st.elapsedMs)),
      config_hash: configHash(cfg), settings: JSON.stringify(settings), config: JSON.stringify(cfg),
    },
  });
}

export async function loadCheckpoint(path: string, cfg: ModelConfig, total: number): Promise<TrainState> {
  if (!existsSync(path)) throw new Error(`no checkpoint to resume at ${path}`);
  const f = await readSafetensors(path);
  if (f.metadata.config_hash !== configHash(cfg)) {
    throw new Error(`checkpoint ${path} was trained with a different model config (hash ${f.metadata.config_hash}, now ${configHash(cfg)})`);
  }
  const get = (name: string) => {
    const t = f.tensors.get(name);
    if (!t || t.data.length !== total) throw new Error(`checkpoint ${path}: "${name}" missing or of the wrong size`);
    return Float32Array.from(t.data);
  };
  return {
    step: Number(f.metadata.step), params: get('params'), ema: get('ema'), adamM: get('adam_m'), adamV: get('adam_v'),
    adamT: Number(f.metadata.adam_t), elapsedMs: Number(f.metadata.elapsed_ms ?? 0),
  };
}

/** Named tensors from a flat parameter array. */
export function unflatten(flat: Float32Array, layout: ParamLayout): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  layout.names.forEach((n, i) => out.set(n, { shape: layout.shapes[i], data: flat.subarray(layout.offsets[i], layout.offsets[i] + sizeOf(layout.shapes[i])) }));
  return out;
}

/** Writes a loadable model folder: config.json + model.safetensors (the given flat weights). Returns its sha256. */
export async function exportModel(dir: string, flat: Float32Array, layout: ParamLayout, cfg: ModelConfig, meta: Record<string, string>): Promise<string> {
  const bytes = serializeSafetensors(unflatten(flat, layout), { metadata: { format: 'pt', ...meta } });
  await writeFileAtomic(join(dir, 'model.safetensors'), bytes);
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  return createHash('sha256').update(bytes).digest('hex');
}
