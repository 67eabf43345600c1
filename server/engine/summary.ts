// Default output summaries by socket type (run.json, node:output). Small by design: lists are capped.
import type { AnyNodeDef, ArtifactRef } from '../../nodes/sdk/define.ts';
import type { ImagesValue, PromptsValue, ScoresValue, TableValue } from '../../nodes/sdk/values.ts';

const MAX_ITEMS = 256;
const MAX_ROWS = 200;
const MAX_STRING = 2000;

function cap<T>(list: T[] | undefined, n = MAX_ITEMS): T[] | undefined {
  return list?.slice(0, n);
}

function describe(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return String(value).slice(0, 200);
  const v = value as Record<string, unknown>;
  if (Array.isArray(value)) return { kind: 'list', length: value.length };
  if (typeof v.label === 'string') return { label: v.label };
  return { kind: value.constructor?.name ?? 'object', keys: Object.keys(v).slice(0, 20) };
}

export function defaultSummary(type: string, value: unknown): unknown {
  try {
    switch (type) {
      case 'NUMBER':
        return typeof value === 'number' ? value : Number(value);
      case 'STRING':
        return typeof value === 'string' ? value.slice(0, MAX_STRING) : String(value).slice(0, MAX_STRING);
      case 'TABLE': {
        const t = value as TableValue;
        return { columns: t.columns, rows: t.rows.slice(0, MAX_ROWS), ...(t.rows.length > MAX_ROWS ? { totalRows: t.rows.length } : {}) };
      }
      case 'SCORES': {
        const s = value as ScoresValue;
        const mean = s.values.length ? s.values.reduce((a, b) => a + b, 0) / s.values.length : null;
        return { name: s.name, mean, values: cap(s.values), ...(s.labels ? { labels: cap(s.labels) } : {}), ...(s.extra ?? {}) };
      }
      case 'IMAGES': {
        const im = value as ImagesValue;
        return { shape: im.images?.shape, prompts: cap(im.prompts, 64), ...(im.seeds ? { seeds: cap(im.seeds, 64) } : {}) };
      }
      case 'PROMPTS': {
        const p = value as PromptsValue;
        return { count: p.prompts.length, prompts: cap(p.prompts, 64), ...(p.seeds ? { seeds: cap(p.seeds, 64) } : {}) };
      }
      case 'MODEL': {
        const m = value as { name?: string; key?: string; overlays?: { label: string }[] };
        return { name: m.name, key: m.key, overlays: m.overlays?.map((o) => o.label) ?? [] };
      }
      default:
        return describe(value);
    }
  } catch {
    return describe(value);
  }
}

/** A node's own summarize() wins; a failing summarize falls back to the default rather than failing the run. */
export function summarizeOutput(def: AnyNodeDef, name: string, value: unknown): unknown {
  if (def.summarize) {
    try {
      const s = def.summarize(name, value);
      if (s !== undefined) return s;
    } catch { /* fall through to the default */ }
  }
  return defaultSummary(def.outputs[name]?.type ?? '', value);
}

/**
 * IMAGES summaries point at the PNGs the node wrote (a grid and/or each image), so run.json alone says
 * where to look. Applied after the node ran, when its artifacts are known.
 */
export function withImageArtifacts(def: AnyNodeDef, summaries: Record<string, unknown>, artifacts: ArtifactRef[]): Record<string, unknown> {
  const pngs = artifacts.filter((a) => a.mime === 'image/png').map(({ id, name }) => ({ id, name }));
  if (!pngs.length) return summaries;
  const out = { ...summaries };
  for (const [name, spec] of Object.entries(def.outputs)) {
    const s = out[name];
    if (spec.type === 'IMAGES' && s && typeof s === 'object' && !Array.isArray(s) && !('artifacts' in s)) out[name] = { ...s, artifacts: pngs };
  }
  return out;
}
