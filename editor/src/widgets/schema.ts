// Which widget a param gets, and whether it is shown, from its JSON Schema and the SDK's `ui()` hints
// (`x-widget`, `x-advanced`, `x-show`).
export type ParamSchema = Record<string, unknown>;
export type WidgetKind = 'number' | 'integer' | 'enum' | 'boolean' | 'text' | 'textarea' | 'list' | 'seed' | 'model' | 'json';

/** The model kinds a model picker offers for a param (GET /api/models `kind`). */
export function modelKindFor(key: string): (kind: string) => boolean {
  if (/judge/i.test(key)) return (k) => k.includes('judge');
  if (/clip/i.test(key)) return (k) => k.includes('clip');
  return (k) => k === 'diffusion';
}

export function itemType(schema: ParamSchema): string | undefined {
  const items = schema.items as ParamSchema | undefined;
  return typeof items?.type === 'string' ? items.type : undefined;
}

export function widgetKind(nodeType: string, key: string, schema: ParamSchema): WidgetKind {
  const hint = schema['x-widget'];
  const type = schema.type;
  if (hint === 'seed' || (key === 'seed' && type === 'integer')) return 'seed';
  // judge and CLIP params name a model too (a bundled name or a folder)
  if (hint === 'model' || (nodeType === 'LoadModel' && key === 'model') || ((key === 'judge' || key === 'clip') && type === 'string')) return 'model';
  if (hint === 'prompts') return 'list';
  if (hint === 'textarea') return 'textarea';
  if (Array.isArray(schema.enum)) return 'enum';
  if (type === 'boolean') return 'boolean';
  if (type === 'integer') return 'integer';
  if (type === 'number') return 'number';
  if (type === 'string') return 'text';
  if (type === 'array' && ['string', 'number', 'integer'].includes(itemType(schema) ?? '')) return 'list';
  return 'json';
}

/** A slider beside the number input when both bounds are given and the range is one a slider can cover. */
export function sliderRange(schema: ParamSchema): { min: number; max: number; step: number } | null {
  const min = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum : null;
  const max = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum : null;
  if (min === null || max === null || !(max > min) || max - min > 10000) return null;
  if (schema.type === 'integer') return { min, max, step: 1 };
  const step = 10 ** Math.floor(Math.log10((max - min) / 1000));
  return { min, max, step };
}

/** `x-show: { other: [values] }` holds when every named param's value (or default) is one of the listed values. */
export function isShown(schema: ParamSchema, valueOf: (key: string) => unknown): boolean {
  const show = schema['x-show'];
  if (!show || typeof show !== 'object') return true;
  return Object.entries(show as Record<string, unknown[]>).every(([other, values]) => Array.isArray(values) && values.includes(valueOf(other) as never));
}

export const isAdvanced = (schema: ParamSchema): boolean => schema['x-advanced'] === true;

/** List items as the list widget edits them: one per line (numbers parsed). Returns null if an item is not a number. */
export function parseList(text: string, item: string | undefined): unknown[] | null {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  if (item !== 'number' && item !== 'integer') return lines;
  const nums = lines.flatMap((l) => l.split(/[,\s]+/)).filter(Boolean).map(Number);
  return nums.some((n) => Number.isNaN(n)) ? null : nums;
}

