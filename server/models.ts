// GET /api/models: the bundled models (models/<name>) and those under <data>/models, each with a short summary
// of its config.json, for the editor's model picker. A folder without config.json + model.safetensors is skipped.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelInfo } from './wire.ts';

type Config = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The few config fields a person picking a model cares about; undefined fields are left out. */
function summarize(cfg: Config): { kind: string; summary: ModelInfo['summary'] } {
  const cadflow = (cfg.cadflow ?? {}) as Config;
  const text = (cfg.text_encoder ?? {}) as Config;
  const isDiffusion = typeof cfg._class_name === 'string';
  const fields: Record<string, unknown> = isDiffusion
    ? {
      class: cfg._class_name,
      image_size: num(cadflow.image_size),
      block_out_channels: Array.isArray(cfg.block_out_channels) ? cfg.block_out_channels : undefined,
      cross_attention_dim: num(cfg.cross_attention_dim),
      text_layers: num(text.num_hidden_layers),
      vocab: Array.isArray((cfg.tokenizer as Config | undefined)?.vocab) ? ((cfg.tokenizer as Config).vocab as unknown[]).length : undefined,
      prediction: ((cfg.scheduler ?? {}) as Config).prediction_type,
    }
    : { image_size: num(cfg.image_size) };
  const summary: ModelInfo['summary'] = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') summary[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) summary[k] = v as number[];
  }
  return { kind: isDiffusion ? 'diffusion' : typeof cfg.kind === 'string' ? cfg.kind : 'unknown', summary };
}

function scan(dir: string, source: ModelInfo['source']): ModelInfo[] {
  if (!existsSync(dir)) return [];
  const out: ModelInfo[] = [];
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    const weights = join(folder, 'model.safetensors');
    const configFile = join(folder, 'config.json');
    if (!existsSync(weights) || !existsSync(configFile)) continue;
    let cfg: Config;
    try {
      cfg = JSON.parse(readFileSync(configFile, 'utf8')) as Config;
    } catch {
      continue; // a half-written folder; LoadModel names the problem if someone picks it by path
    }
    out.push({ value: source === 'bundled' ? name : folder, name, source, ...summarize(cfg), bytes: statSync(weights).size });
  }
  return out;
}

export function listModels(bundledDir: string, dataDir: string): { models: ModelInfo[]; dataDir: string } {
  const dataModels = join(dataDir, 'models');
  return { models: [...scan(bundledDir, 'bundled'), ...scan(dataModels, 'data')], dataDir: dataModels };
}
