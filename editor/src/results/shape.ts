// Reading node output summaries (run.json / node:output): what each one is, and the plain data the views need.
// Pure functions only; the views and the chart option builders (charts.ts) sit on top.

export type Cell = number | string | null;
export interface TableSummary { columns: string[]; rows: Record<string, Cell>[]; totalRows?: number }
export interface ScoresSummary { name?: string; mean: number | null; values: number[]; labels?: string[]; [extra: string]: unknown }
export interface ImagesSummary { shape?: number[]; prompts?: string[]; seeds?: number[]; labels?: unknown[]; artifacts?: { id: string; name: string }[] }
export interface LayerMass { layer: string; components: number; positive: number; negative: number; positive_share: number }
export interface TopComponent { layer: string; index: number; row: number; col: number; score: number }
export interface AttributionSummary {
  objective: string; value: number; components: number; granularity: string; layers: LayerMass[];
  top_positive: TopComponent[]; top_negative: TopComponent[]; histogram: { edges: number[]; counts: number[] };
  provenance?: { artifact?: { id: string; name: string; bytes?: number }; [k: string]: unknown };
}
/** EvaluateErasure's per-model sample grid (nodes/evaluation/nodes/evaluate-erasure.ts `SampleGrid`). */
export interface SampleTile { kind: 'concept' | 'keep'; prompt: string; seed: number; value: string; judged: string }
export interface SampleGrid { model: string; artifact: string; columns: number; scale: number; gap: number; tiles: (SampleTile | null)[] }
/** One round of an Erase (its report summary's `rounds`, nodes/attribution/erase.ts EraseRound). */
export interface EraseRound { round: number; judged_share?: number | null; judged_keep?: number | null; value?: number | null; components?: number | null; kept?: boolean }

export type ViewKind = 'erasure' | 'erase-report' | 'validation' | 'attribution' | 'table' | 'scores' | 'images' | 'image' | 'model' | 'value' | 'keyvalue';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' || x === null);

export function isTable(v: unknown): v is TableSummary {
  return isObject(v) && Array.isArray(v.columns) && v.columns.every((c) => typeof c === 'string') && Array.isArray(v.rows) && v.rows.every(isObject);
}
export function isScores(v: unknown): v is ScoresSummary {
  return isObject(v) && isNumberArray(v.values) && 'mean' in v;
}
export function isImages(v: unknown): v is ImagesSummary {
  return isObject(v) && isNumberArray(v.shape) && v.shape.length === 4 && v.shape[3] === 3;
}
export function isAttribution(v: unknown): v is AttributionSummary {
  return isObject(v) && Array.isArray(v.layers) && isObject(v.histogram) && Array.isArray(v.top_positive);
}
/** PreviewImage's `{ artifact, mime: 'image/png' }`. */
export function isImageRef(v: unknown): v is { artifact: string; mime: string } {
  return isObject(v) && typeof v.artifact === 'string' && typeof v.mime === 'string' && v.mime.startsWith('image/');
}
export function isModel(v: unknown): v is { name: string; key?: string; overlays: string[] } {
  return isObject(v) && typeof v.name === 'string' && Array.isArray(v.overlays);
}

/** The view for one output: node-specific ones first (by node type and output name), then by the summary's shape. */
export function pickView(nodeType: string, output: string, summary: unknown): ViewKind {
  if (nodeType === 'EvaluateErasure' && isTable(summary)) return 'erasure';
  // Zeroing reports (Erase, EraseBaseline); a fine-tune's report (weights_tuned, mean_abs_change) is a plain table.
  if (output === 'report' && isTable(summary) && summary.columns.includes('weights_zeroed') && !summary.columns.includes('weights_tuned')) return 'erase-report';
  if (nodeType === 'ValidateAttribution' && output === 'table' && isTable(summary)) return 'validation';
  if (nodeType === 'ValidateAttribution' && output === 'points') return 'table';
  if (isAttribution(summary)) return 'attribution';
  if (isTable(summary)) return 'table';
  if (isScores(summary)) return 'scores';
  if (isImages(summary)) return 'images';
  if (isImageRef(summary)) return 'image';
  if (isModel(summary)) return 'model';
  if (typeof summary !== 'object' || summary === null) return 'value';
  return 'keyvalue';
}

export type SortDir = 'asc' | 'desc';

/** Rows sorted by one column: numbers numerically, text naturally, null/NaN last in both directions. Stable. */
export function sortRows<T extends Record<string, Cell>>(rows: readonly T[], column: string | null, dir: SortDir): T[] {
  if (column === null) return rows.slice();
  const out = rows.map((r, i) => ({ r, i }));
  const missing = (v: Cell | undefined) => v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v));
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  out.sort((a, b) => {
    const x = a.r[column], y = b.r[column];
    if (missing(x) || missing(y)) return missing(x) === missing(y) ? a.i - b.i : missing(x) ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
    return (dir === 'asc' ? c : -c) || a.i - b.i;
  });
  return out.map((o) => o.r);
}

/** Columns whose every non-null cell is a number (and at least one is). */
export function numericColumns(t: TableSummary): string[] {
  return t.columns.filter((c) => {
    let seen = false;
    for (const r of t.rows) {
      const v = r[c];
      if (v === null || v === undefined) continue;
      if (typeof v !== 'number') return false;
      seen = true;
    }
    return seen;
  });
}

/** The first column holding text: the rows' names (layer, model, item, …), or null. */
export function labelColumn(t: TableSummary): string | null {
  const numeric = new Set(numericColumns(t));
  return t.columns.find((c) => !numeric.has(c) && t.rows.some((r) => typeof r[c] === 'string')) ?? null;
}

/** A number for a table cell or a chart label: integers with separators, others to 4 significant digits. */
export function fmt(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** Long UNet parameter names, shortened for axes: "up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight" → "up1.a1.ff0". */
export function shortLayer(name: string): string {
  return name
    .replace(/\.weight$/, '')
    .replace(/(down|up)_blocks\.(\d+)/, '$1$2')
    .replace(/mid_block/, 'mid')
    .replace(/attentions\.(\d+)/, 'a$1')
    .replace(/\.transformer_blocks\.\d+/, '')
    .replace(/ff\.net\.0\.proj/, 'ff.in')
    .replace(/ff\.net\.2/, 'ff.out');
}

/** Flattens a summary into [path, value] rows for the fallback view (arrays of scalars stay one row). */
export function flatten(v: unknown, prefix = '', depth = 0, out: [string, string][] = []): [string, string][] {
  const scalarList = Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object');
  if (v === null || typeof v !== 'object' || scalarList || depth >= 4) {
    const text = scalarList ? (v as unknown[]).map(fmt).join(', ') : fmt(v);
    out.push([prefix || 'value', text.length > 400 ? `${text.slice(0, 400)}…` : text]);
    return out;
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
  for (const [k, x] of entries.slice(0, 50)) flatten(x, prefix ? `${prefix}.${k}` : k, depth + 1, out);
  if (entries.length > 50) out.push([`${prefix}…`, `${entries.length - 50} more`]);
  return out;
}

/** Layers of a report table (per-matrix rows) and its total row ("total …" in the layer column), apart. */
export function splitTotals(t: TableSummary): { layers: Record<string, Cell>[]; totals: Record<string, Cell>[] } {
  const isTotal = (r: Record<string, Cell>) => typeof r.layer === 'string' && r.layer.startsWith('total');
  return { layers: t.rows.filter((r) => !isTotal(r)), totals: t.rows.filter(isTotal) };
}

/** Where each tile of a grid PNG (imageGrid: `columns` per row, `gap` px around tiles, upscaled by `scale`) sits. */
export interface GridGeometry { columns: number; scale: number; gap: number; tileW: number; tileH: number }

/**
 * The geometry of a grid of `n` images h×w given the PNG's natural size: the columns and integer scale that
 * reproduce both its width and height (PreviewImage and Sample previews use imageGrid), or null if none does.
 */
export function gridGeometry(n: number, h: number, w: number, width: number, height: number, gap = 2): GridGeometry | null {
  const preferred = Math.ceil(Math.sqrt(n));
  const order = [preferred, ...Array.from({ length: n }, (_, i) => i + 1).filter((c) => c !== preferred)];
  for (const columns of order) {
    const rows = Math.ceil(n / columns);
    const scale = (width - (columns + 1) * gap) / (columns * w);
    if (Number.isInteger(scale) && scale >= 1 && rows * h * scale + (rows + 1) * gap === height) {
      return { columns, scale, gap, tileW: w * scale, tileH: h * scale };
    }
  }
  return null;
}

/** Tile k's box inside the grid PNG, in its pixels. */
export function tileBox(g: GridGeometry, k: number): { x: number; y: number; w: number; h: number } {
  return { x: g.gap + (k % g.columns) * (g.tileW + g.gap), y: g.gap + Math.floor(k / g.columns) * (g.tileH + g.gap), w: g.tileW, h: g.tileH };
}

/** An image (or a tile of a grid image) with its caption lines, for grids and the lightbox. */
export interface LightboxItem { src: string; box?: { x: number; y: number; w: number; h: number } | null; natural?: { w: number; h: number } | null; title?: string; lines?: string[] }

/** Labels of an IMAGES summary's images: prompt, seed and any world/judge labels given. */
export function imageLabels(s: ImagesSummary): { prompt?: string; seed?: number; labels?: string }[] {
  const n = s.shape?.[0] ?? s.prompts?.length ?? 0;
  return Array.from({ length: n }, (_, i) => {
    const l = s.labels?.[i];
    return {
      prompt: s.prompts?.[i], seed: s.seeds?.[i],
      labels: l && typeof l === 'object' ? Object.values(l as Record<string, unknown>).map(String).join(' ') : undefined,
    };
  });
}

/** A model row's label made short: the edit's name ("CAD erase 'circle'") for "base + edit (…): …", else as is. */
export function modelShort(label: string): string {
  const plus = label.indexOf(' + ');
  if (plus < 0) return label;
  const edit = label.slice(plus + 3);
  const cut = edit.search(/ \(|: /);
  return (cut > 0 ? edit.slice(0, cut) : edit) + (/ #\d+$/.test(label) ? label.match(/ #\d+$/)![0] : '');
}

/** Tile boxes of an EvaluateErasure sample grid PNG of the given natural size (row-major, as its tiles). */
export function sampleGridBoxes(g: SampleGrid, natural: { w: number; h: number }): { x: number; y: number; w: number; h: number }[] {
  const rows = Math.ceil(g.tiles.length / g.columns);
  const tw = (natural.w - (g.columns + 1) * g.gap) / g.columns, th = (natural.h - (rows + 1) * g.gap) / rows;
  return g.tiles.map((_, k) => ({ x: g.gap + (k % g.columns) * (tw + g.gap), y: g.gap + Math.floor(k / g.columns) * (th + g.gap), w: tw, h: th }));
}

export interface Panel { output: string; kind: ViewKind; summary: unknown; extra?: unknown }

const PRIORITY: ViewKind[] = ['erasure', 'attribution', 'validation', 'erase-report', 'images', 'image', 'scores', 'table', 'value', 'keyvalue', 'model'];

/**
 * The panels of a node's outputs, most telling first: one per output, except ValidateAttribution's points, which
 * its table's scatter shows (they travel as `extra`). Compact (inside the node) keeps the first panel only.
 */
export function panelsOf(nodeType: string, summary: Record<string, unknown> | undefined, compact = false): Panel[] {
  if (!summary) return [];
  const panels: Panel[] = [];
  for (const [output, s] of Object.entries(summary)) {
    if (s === undefined) continue;
    const kind = pickView(nodeType, output, s);
    if (nodeType === 'ValidateAttribution' && output === 'points' && isTable(summary.table)) continue;
    panels.push({ output, kind, summary: s, ...(kind === 'validation' && isTable(summary.points) ? { extra: summary.points } : {}) });
  }
  panels.sort((a, b) => PRIORITY.indexOf(a.kind) - PRIORITY.indexOf(b.kind));
  return compact ? panels.slice(0, 1) : panels;
}
