// Table: gathers TABLE / SCORES inputs into one table (selected columns, sorted) and saves it as CSV.
import { z } from 'zod';
import { defineNode, NodeInputError, NodeParamError, type ScoresValue, type TableValue } from '../../sdk/index.ts';

type Cell = number | string | null;

function isScores(v: unknown): v is ScoresValue {
  return typeof v === 'object' && v !== null && Array.isArray((v as ScoresValue).values) && typeof (v as ScoresValue).name === 'string';
}

/** SCORES become one row per item: { item, <name>: value }. */
export function asTable(v: unknown, input: string): TableValue {
  if (isScores(v)) {
    return { columns: ['item', v.name], rows: v.values.map((x, i) => ({ item: v.labels?.[i] ?? i, [v.name]: Number.isFinite(x) ? x : null })) };
  }
  const t = v as TableValue;
  if (!t || !Array.isArray(t.columns) || !Array.isArray(t.rows)) throw new NodeInputError(input, 'not a TABLE or SCORES value');
  return t;
}

function csvCell(c: Cell | undefined): string {
  if (c === null || c === undefined) return '';
  const s = String(c);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function toCsv(t: TableValue): string {
  return [t.columns.map(csvCell).join(','), ...t.rows.map((r) => t.columns.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

export const tableNode = defineNode({
  type: 'Table',
  typeVersion: 1,
  category: 'evaluation',
  displayName: 'Table',
  description: 'Combines tables (or scores): stacked row after row, or side by side per row index; keeps chosen columns, sorts, and saves a CSV artifact.',
  inputs: { tables: { type: 'TABLE', multiple: true, description: 'Tables or scores (one row per item) to stack' } },
  outputs: { table: { type: 'TABLE', description: 'The combined table' } },
  params: z.object({
    mode: z.enum(['stack', 'side-by-side']).default('stack')
      .describe('stack: rows of every input one after another; side-by-side: row i merges row i of every input (equal lengths)'),
    columns: z.array(z.string()).default([]).describe('Columns to keep, in order (empty = all, in first-seen order)'),
    sortBy: z.string().default('').describe('Column to sort rows by (empty = input order)'),
    descending: z.boolean().default(false).describe('Sort from largest to smallest'),
    name: z.string().regex(/^[A-Za-z0-9._-]+$/).default('table').describe('CSV artifact name (without .csv)'),
  }),
  async execute(ctx, inputs, params) {
    const list = (Array.isArray(inputs.tables) ? inputs.tables : [inputs.tables]).filter((v: unknown) => v !== undefined);
    if (list.length === 0) throw new NodeInputError('tables', 'connect at least one TABLE or SCORES');
    const tables = list.map((v: unknown) => asTable(v, 'tables'));
    const seen: string[] = [];
    for (const t of tables) for (const c of t.columns) if (!seen.includes(c)) seen.push(c);
    for (const c of params.columns) if (!seen.includes(c)) throw new NodeParamError('columns', `no column "${c}" (have: ${seen.join(', ')})`);
    const columns = params.columns.length ? params.columns : seen;
    let merged: Record<string, Cell>[];
    if (params.mode === 'side-by-side') {
      const n = tables[0].rows.length;
      if (tables.some((t) => t.rows.length !== n)) {
        throw new NodeInputError('tables', `side-by-side needs equal row counts, got ${tables.map((t) => t.rows.length).join(', ')}`);
      }
      // A column several inputs share (e.g. item) keeps the first input's value.
      merged = tables[0].rows.map((_, i) => Object.assign({}, ...tables.map((t) => t.rows[i]).reverse()));
    } else {
      merged = tables.flatMap((t) => t.rows);
    }
    let rows = merged.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])));
    if (params.sortBy) {
      if (!columns.includes(params.sortBy)) throw new NodeParamError('sortBy', `no column "${params.sortBy}" among ${columns.join(', ')}`);
      const key = params.sortBy;
      const sign = params.descending ? -1 : 1;
      rows = [...rows].sort((a, b) => {
        const x = a[key], y = b[key];
        if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
        return sign * (typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y)));
      });
    }
    const table: TableValue = { columns, rows };
    await ctx.writeArtifact(`${params.name}.csv`, new TextEncoder().encode(toCsv(table)), 'text/csv');
    return { table };
  },
});
