// Check: a metric within a range, so a workflow is a regression test (`cadflow run` exits 1 when one fails).
// Numbers: gathers NUMBER outputs (e.g. several Erase fractions) into one SCORES column for Table.
import { z } from 'zod';
import { defineNode, NodeInputError, NodeParamError, type ImagesValue, type ScoresValue, type TableValue } from '../sdk/index.ts';

/** A Check whose value is outside its range; the run fails with this message. */
export class CheckFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckFailedError';
  }
}

const isTable = (v: unknown): v is TableValue => typeof v === 'object' && v !== null && Array.isArray((v as TableValue).columns) && Array.isArray((v as TableValue).rows);
const isScores = (v: unknown): v is ScoresValue => typeof v === 'object' && v !== null && typeof (v as ScoresValue).name === 'string' && Array.isArray((v as ScoresValue).values);
const isImages = (v: unknown): v is ImagesValue => typeof v === 'object' && v !== null && typeof (v as ImagesValue).images?.shape?.[0] === 'number';

/** The row `row` names: an index (negative counts from the end) or the value of the table's first column. */
function pickRow(t: TableValue, row: string): { index: number; what: string } {
  if (!t.rows.length) throw new NodeInputError('value', 'the table has no rows');
  if (/^-?\d+$/.test(row)) {
    const i = Number(row);
    const index = i < 0 ? t.rows.length + i : i;
    if (index < 0 || index >= t.rows.length) throw new NodeParamError('row', `row ${row} is out of range: the table has ${t.rows.length} rows`);
    return { index, what: `row ${index}` };
  }
  const key = t.columns[0];
  const index = t.rows.findIndex((r) => Object.hasOwn(r, key) && String(r[key]) === row);
  if (index < 0) {
    throw new NodeParamError('row', `no row with ${key} "${row}" (have: ${t.rows.map((r) => String(r[key])).join(', ')})`);
  }
  return { index, what: `row ${index} (${key} ${row})` };
}

/** The checked number and a phrase naming it, from whatever value the input carries. */
export function measure(value: unknown, metric: string, row: string): { value: number; what: string } {
  if (typeof value === 'number') return { value, what: metric || 'value' };
  if (isTable(value) && !isScores(value)) {
    if (!metric) throw new NodeParamError('metric', `name the column to check (have: ${value.columns.join(', ')})`);
    if (!value.columns.includes(metric)) throw new NodeParamError('metric', `no column "${metric}" (have: ${value.columns.join(', ')})`);
    const { index, what } = pickRow(value, row);
    const cell = value.rows[index][metric];
    if (typeof cell !== 'number') throw new NodeInputError('value', `${metric} of ${what} is ${JSON.stringify(cell ?? null)}, not a number`);
    return { value: cell, what: `${metric} of ${what}` };
  }
  if (isScores(value)) {
    const finite = value.values.filter(Number.isFinite);
    const m = metric || 'mean';
    const stats: Record<string, () => number> = {
      mean: () => finite.reduce((a, b) => a + b, 0) / finite.length,
      min: () => Math.min(...finite),
      max: () => Math.max(...finite),
      count: () => value.values.length,
    };
    if (Object.hasOwn(stats, m)) {
      if (m !== 'count' && !finite.length) throw new NodeInputError('value', `${value.name} has no finite values`);
      return { value: stats[m](), what: `${m} of ${value.name}` };
    }
    const extra = value.extra && Object.hasOwn(value.extra, m) ? value.extra[m] : undefined;
    if (typeof extra !== 'number') {
      throw new NodeParamError('metric', `${value.name} has no numeric metric "${m}" (have: mean, min, max, count${Object.keys(value.extra ?? {}).map((k) => `, ${k}`).join('')})`);
    }
    return { value: extra, what: `${m} of ${value.name}` };
  }
  if (isImages(value)) {
    if (metric && metric !== 'count') throw new NodeParamError('metric', `images have only the metric count, not "${metric}"`);
    return { value: value.images.shape[0], what: 'image count' };
  }
  throw new NodeInputError('value', 'not a NUMBER, SCORES, TABLE or IMAGES value');
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4));

export const checkNode = defineNode({
  type: 'Check',
  typeVersion: 1,
  category: 'checks',
  description: 'Fails the run unless a metric (a number, a table cell, a score statistic or an image count) is within [min, max].',
  inputs: { value: { type: ['NUMBER', 'SCORES', 'TABLE', 'IMAGES'], description: 'What to check: a NUMBER, SCORES, a TABLE or IMAGES' } },
  outputs: { value: { type: 'NUMBER', description: 'The checked value (when within range)' } },
  params: z.object({
    metric: z.string().max(100).default('').describe('Table column, or scores statistic (mean, min, max, count or an extra); images: count.'),
    row: z.string().max(200).default('0').describe('Table row: an index (negative counts from the end) or the value of its first column.'),
    min: z.number().optional().describe('Smallest value that passes (unset: no lower bound).'),
    max: z.number().optional().describe('Largest value that passes (unset: no upper bound).'),
  }),
  async execute(ctx, inputs, params) {
    if (params.min === undefined && params.max === undefined) throw new NodeParamError('min', 'give min, max or both');
    if (params.min !== undefined && params.max !== undefined && params.min > params.max) {
      throw new NodeParamError('min', `min ${params.min} is above max ${params.max}`);
    }
    const { value, what } = measure(inputs.value, params.metric, params.row);
    const { min, max } = params;
    const wanted = min !== undefined && max !== undefined ? `in [${min}, ${max}]` : min !== undefined ? `≥ ${min}` : `≤ ${max}`;
    const ok = Number.isFinite(value) && (min === undefined || value >= min) && (max === undefined || value <= max);
    if (!ok) throw new CheckFailedError(`${what} = ${fmt(value)}, expected ${wanted}`);
    ctx.log(`check passed: ${what} = ${fmt(value)}, ${wanted}`);
    return { value };
  },
});

export const numbersNode = defineNode({
  type: 'Numbers',
  typeVersion: 1,
  category: 'checks',
  description: 'Gathers numbers (constants, then each linked input in order) into one SCORES column, e.g. Erase fractions for Table.',
  inputs: { values: { type: 'NUMBER', multiple: true, optional: true, description: 'Numbers to append after the constants, in link order' } },
  outputs: { scores: { type: 'SCORES', description: 'One value per item (Table turns it into a column)' } },
  params: z.object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default('value').describe('Name of the column the numbers become.'),
    constants: z.array(z.number()).max(1000).default([]).describe('Numbers placed before the linked ones (e.g. 0 for an unedited model).'),
  }),
  async execute(_ctx, inputs, params) {
    const linked = (inputs.values === undefined ? [] : [inputs.values].flat()) as unknown[];
    const bad = linked.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) throw new NodeInputError('values', `link ${bad} carries ${typeof linked[bad]}, not a number`);
    const values = [...params.constants, ...(linked as number[])];
    if (!values.length) throw new NodeInputError('values', 'nothing to gather: link numbers or give constants');
    const scores: ScoresValue = { name: params.name, values };
    return { scores };
  },
});
