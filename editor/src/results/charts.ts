// ECharts option builders for the result views: pure functions from summaries to options (unit-tested), so the
// components only pick data and render. Colours follow editor/src/styles.css.
import type { ComposeOption } from 'echarts/core';
import type { BarSeriesOption, HeatmapSeriesOption, LineSeriesOption, ScatterSeriesOption } from 'echarts/charts';
import type {
  GridComponentOption, LegendComponentOption, MarkLineComponentOption, TitleComponentOption, TooltipComponentOption,
  VisualMapComponentOption,
} from 'echarts/components';
import { fmt, labelColumn, shortLayer, splitTotals, type Cell, type EraseRound, type LayerMass, type ScoresSummary, type TableSummary } from './shape.ts';

export type ChartOption = ComposeOption<
  BarSeriesOption | LineSeriesOption | ScatterSeriesOption | HeatmapSeriesOption | GridComponentOption | LegendComponentOption
  | TooltipComponentOption | TitleComponentOption | VisualMapComponentOption | MarkLineComponentOption
>;

export const COLOURS = {
  text: '#e6e8ee', muted: '#9aa2b1', border: '#3a3f4b', accent: '#6ea8fe', ok: '#5cc98a', warn: '#f0b95a', err: '#f07178',
  series: ['#6ea8fe', '#f0b95a', '#5cc98a', '#f07178', '#c792ea', '#4fd6be', '#ff9e64', '#b4bcd0'],
} as const;

const base = (): ChartOption => ({
  backgroundColor: 'transparent',
  color: [...COLOURS.series],
  textStyle: { color: COLOURS.text, fontSize: 11 },
  tooltip: { trigger: 'axis', confine: true },
  animation: false,
});

const axisStyle = {
  axisLine: { lineStyle: { color: COLOURS.border } },
  axisLabel: { color: COLOURS.muted, fontSize: 10 },
  splitLine: { lineStyle: { color: '#2b2f38' } },
};

/** The grid's box holds its axis labels too (ECharts 6's replacement of containLabel). */
const LABELS_INSIDE = { outerBoundsMode: 'same', outerBoundsContain: 'axisLabel' } as const;

const numberLabel = { ...axisStyle.axisLabel, formatter: (v: number) => fmt(v) };

/** Category labels of a table: its label column's text (layer names shortened), else the row numbers. */
export function categories(t: TableSummary): string[] {
  const col = labelColumn(t);
  return t.rows.map((r, i) => {
    const v = col ? r[col] : null;
    if (typeof v !== 'string') return String(i + 1);
    return col === 'layer' ? shortLayer(v) : v;
  });
}

const num = (v: Cell | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Bars of one or more numeric columns over a table's rows (the generic TABLE chart). */
export function tableBarsOption(t: TableSummary, columns: string[]): ChartOption {
  const cats = categories(t);
  const many = cats.length > 12;
  // Past ~30 rows the names cannot be read under the bars: they live in the tooltip.
  const crowded = cats.length > 30;
  return {
    ...base(),
    legend: columns.length > 1 ? { top: 0, textStyle: { color: COLOURS.text } } : undefined,
    grid: { left: 8, right: 12, top: columns.length > 1 ? 26 : 10, bottom: 8, ...LABELS_INSIDE },
    xAxis: { type: 'category', data: cats, ...axisStyle, axisLabel: { ...axisStyle.axisLabel, show: !crowded, rotate: many || cats.some((c) => c.length > 10) ? 40 : 0, interval: 0, width: 110, overflow: 'truncate' } },
    yAxis: { type: 'value', ...axisStyle, axisLabel: numberLabel },
    series: columns.map((c) => ({ type: 'bar', name: c, data: t.rows.map((r) => num(r[c])) })),
  };
}

/** A SCORES summary: one bar per item (its label if given) and the mean as a line. */
export function scoresOption(s: ScoresSummary): ChartOption {
  const cats = s.values.map((_, i) => s.labels?.[i] ?? String(i + 1));
  return {
    ...base(),
    grid: { left: 8, right: 12, top: 14, bottom: 8, ...LABELS_INSIDE },
    xAxis: { type: 'category', data: cats, ...axisStyle, axisLabel: { ...axisStyle.axisLabel, rotate: cats.length > 6 ? 40 : 0, interval: 0, width: 110, overflow: 'truncate' } },
    yAxis: { type: 'value', ...axisStyle, axisLabel: numberLabel },
    series: [{
      type: 'bar', name: s.name ?? 'score', data: s.values,
      markLine: s.mean === null ? undefined : {
        symbol: 'none', silent: true, lineStyle: { color: COLOURS.warn, type: 'dashed' },
        label: { color: COLOURS.warn, position: 'insideEndTop', formatter: `mean ${fmt(s.mean)}` }, data: [{ yAxis: s.mean }],
      },
    }],
  };
}

/** EvaluateErasure's metrics; the first three share [0, 1]. */
export const ERASURE_METRICS = [
  { key: 'erase_acc', title: 'erase_acc ↓', max: 1 },
  { key: 'keep_acc', title: 'keep_acc ↑', max: 1 },
  { key: 'clip_score', title: 'CLIP score ↑' },
  { key: 'fd', title: 'FD ↓' },
] as const;

/** EvaluateErasure: one panel per metric, a bar per model (the same colour per model in every panel). */
export function erasureBarsOption(t: TableSummary, models: string[] = t.rows.map((r) => String(r.model))): ChartOption {
  const n = ERASURE_METRICS.length;
  const w = 100 / n;
  const grids = ERASURE_METRICS.map((_, i) => ({ left: `${i * w + 3}%`, width: `${w - 6}%`, top: 26, bottom: 28 + 16 * Math.ceil(models.length / 2), ...LABELS_INSIDE }));
  return {
    ...base(),
    tooltip: { trigger: 'item', confine: true, formatter: (p: unknown) => { const q = p as { seriesName: string; value: number; name: string }; return `${q.seriesName}<br>${q.name}: <b>${fmt(q.value)}</b>`; } },
    title: ERASURE_METRICS.map((m, i) => ({ text: m.title, left: `${i * w + w / 2}%`, top: 0, textAlign: 'center', textStyle: { color: COLOURS.text, fontSize: 12, fontWeight: 'normal' } })),
    legend: { bottom: 0, textStyle: { color: COLOURS.text, fontSize: 10, width: 260, overflow: 'truncate' }, data: models },
    grid: grids,
    xAxis: ERASURE_METRICS.map((m, i) => ({ type: 'category', gridIndex: i, data: [m.key], show: false })),
    yAxis: ERASURE_METRICS.map((m, i) => ({ type: 'value', gridIndex: i, max: 'max' in m ? m.max : undefined, ...axisStyle, axisLabel: numberLabel })),
    series: ERASURE_METRICS.flatMap((m, i) => t.rows.map((r, j) => ({
      type: 'bar' as const, name: models[j], xAxisIndex: i, yAxisIndex: i, barGap: '15%',
      itemStyle: { color: COLOURS.series[j % COLOURS.series.length] }, data: [num(r[m.key])],
    }))),
  };
}

/** FitAttribution: positive and negative score mass per matrix, as diverging horizontal bars. */
export function layerMassOption(layers: LayerMass[]): ChartOption {
  return {
    ...base(),
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, valueFormatter: (v: unknown) => fmt(v) },
    legend: { top: 0, textStyle: { color: COLOURS.text } },
    grid: { left: 8, right: 16, top: 24, bottom: 8, ...LABELS_INSIDE },
    yAxis: { type: 'category', data: layers.map((l) => shortLayer(l.layer)), inverse: true, ...axisStyle },
    xAxis: { type: 'value', ...axisStyle, axisLabel: numberLabel },
    series: [
      { type: 'bar', name: 'positive', stack: 'mass', data: layers.map((l) => l.positive), itemStyle: { color: COLOURS.err } },
      { type: 'bar', name: 'negative', stack: 'mass', data: layers.map((l) => l.negative), itemStyle: { color: COLOURS.accent } },
    ],
  };
}

/** The score histogram: bars at the bin centres on a log count axis (the mass sits in a spike around 0). */
export function histogramOption(h: { edges: number[]; counts: number[] }): ChartOption {
  const centres = h.counts.map((_, i) => (h.edges[i]! + h.edges[i + 1]!) / 2);
  return {
    ...base(),
    tooltip: { trigger: 'axis', confine: true, formatter: (p: unknown) => {
      const q = (p as { dataIndex: number }[])[0]!;
      return `[${fmt(h.edges[q.dataIndex])}, ${fmt(h.edges[q.dataIndex + 1])}): <b>${fmt(h.counts[q.dataIndex])}</b>`;
    } },
    grid: { left: 8, right: 12, top: 10, bottom: 8, ...LABELS_INSIDE },
    xAxis: { type: 'category', data: centres.map((c) => fmt(c)), ...axisStyle, axisLabel: { ...axisStyle.axisLabel, hideOverlap: true, interval: Math.max(0, Math.ceil(centres.length / 6) - 1) } },
    yAxis: { type: 'log', min: 1, ...axisStyle, axisLabel: numberLabel },
    // log axis: empty bins are gaps, not zeros.
    series: [{ type: 'bar', name: 'components', barCategoryGap: '5%', data: h.counts.map((c, i) => ({ value: c > 0 ? c : null, itemStyle: { color: centres[i]! > 0 ? COLOURS.err : COLOURS.accent } })) }],
  };
}

/** A matrix pooled into at most maxRows × maxCols blocks (sum of each block), row-major. */
export interface Pooled { rows: number; cols: number; rowStep: number; colStep: number; data: Float64Array }

export function poolMatrix(values: ArrayLike<number>, rows: number, cols: number, maxRows = 64, maxCols = 96): Pooled {
  if (values.length !== rows * cols) throw new Error(`poolMatrix: ${values.length} values for ${rows}×${cols}`);
  const rowStep = Math.ceil(rows / maxRows), colStep = Math.ceil(cols / maxCols);
  const pr = Math.ceil(rows / rowStep), pc = Math.ceil(cols / colStep);
  const data = new Float64Array(pr * pc);
  for (let r = 0; r < rows; r++) {
    const o = Math.floor(r / rowStep) * pc;
    for (let c = 0; c < cols; c++) data[o + Math.floor(c / colStep)] += values[r * cols + c]!;
  }
  return { rows: pr, cols: pc, rowStep, colStep, data };
}

/** Heatmap of a pooled score matrix: rows down, columns across, a diverging scale symmetric around 0. */
export function heatmapOption(p: Pooled, title = ''): ChartOption {
  const data: [number, number, number][] = [];
  let extent = 0;
  for (let r = 0; r < p.rows; r++) for (let c = 0; c < p.cols; c++) {
    const v = p.data[r * p.cols + c]!;
    extent = Math.max(extent, Math.abs(v));
    data.push([c, r, v]);
  }
  const label = (i: number, step: number) => (step === 1 ? String(i) : `${i * step}–${(i + 1) * step - 1}`);
  return {
    ...base(),
    title: title ? { text: title, left: 'center', top: 0, textStyle: { color: COLOURS.muted, fontSize: 11, fontWeight: 'normal' } } : undefined,
    tooltip: { trigger: 'item', confine: true, formatter: (q: unknown) => {
      const v = (q as { value: [number, number, number] }).value;
      return `row ${label(v[1], p.rowStep)}, col ${label(v[0], p.colStep)}<br>Σ score <b>${fmt(v[2])}</b>`;
    } },
    grid: { left: 8, right: 84, top: title ? 22 : 8, bottom: 8, ...LABELS_INSIDE },
    // Block labels ("0–2") are long: show about a dozen per axis.
    xAxis: { type: 'category', name: 'col', data: Array.from({ length: p.cols }, (_, i) => label(i, p.colStep)), ...axisStyle,
      axisLabel: { ...axisStyle.axisLabel, interval: Math.ceil(p.cols / 12) - 1 } },
    yAxis: { type: 'category', name: 'row', inverse: true, data: Array.from({ length: p.rows }, (_, i) => label(i, p.rowStep)), ...axisStyle,
      axisLabel: { ...axisStyle.axisLabel, interval: Math.ceil(p.rows / 16) - 1 } },
    visualMap: {
      type: 'continuous', min: -(extent || 1), max: extent || 1, calculable: true, orient: 'vertical', right: 4, top: 'middle',
      itemWidth: 12, itemHeight: 140, textStyle: { color: COLOURS.muted, fontSize: 10 }, formatter: (v: unknown) => fmt(v),
      inRange: { color: ['#2f6fd6', '#6ea8fe', '#1b1d22', '#f07178', '#d9342b'] },
    },
    series: [{ type: 'heatmap', data, progressive: 0, emphasis: { itemStyle: { borderColor: COLOURS.text, borderWidth: 1 } } }],
  };
}

/** Erase's report: weights zeroed per matrix (the total row left out), with each matrix's zeroed fraction. */
export function zeroedOption(t: TableSummary): ChartOption {
  const { layers } = splitTotals(t);
  const zeroed = layers.map((r) => num(r.weights_zeroed) ?? 0);
  return {
    ...base(),
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, formatter: (p: unknown) => {
      const q = (p as { dataIndex: number }[])[0]!;
      const r = layers[q.dataIndex]!;
      return `${r.layer}<br>zeroed <b>${fmt(r.weights_zeroed)}</b> of ${fmt(r.weights)} (${fmt(100 * (num(r.fraction) ?? 0))} %)`;
    } },
    grid: { left: 8, right: 50, top: 8, bottom: 8, ...LABELS_INSIDE },
    yAxis: { type: 'category', data: layers.map((r) => shortLayer(String(r.layer))), inverse: true, ...axisStyle },
    xAxis: { type: 'value', ...axisStyle, axisLabel: numberLabel },
    series: [{
      type: 'bar', name: 'weights zeroed', data: zeroed, itemStyle: { color: COLOURS.warn },
      label: { show: true, position: 'right', color: COLOURS.muted, fontSize: 10, formatter: (q: unknown) => {
        const f = num(layers[(q as { dataIndex: number }).dataIndex]!.fraction);
        return f === null || f === 0 ? '' : `${fmt(100 * f)} %`;
      } },
    }],
  };
}

/** Erase's rounds: the judged share of concept samples and the kept values' share, per round; rounds not kept marked. */
export function roundsOption(rounds: EraseRound[], targets: { stop?: number; keep?: number } = {}): ChartOption {
  const line = (name: string, key: 'judged_share' | 'judged_keep', color: string, target?: number): LineSeriesOption => ({
    type: 'line', name, data: rounds.map((r) => [r.round, r[key] ?? null]), symbolSize: 7, itemStyle: { color }, lineStyle: { color },
    markLine: target === undefined ? undefined : {
      symbol: 'none', silent: true, lineStyle: { color, type: 'dashed', opacity: 0.6 }, label: { color, formatter: `${name} target` }, data: [{ yAxis: target }],
    },
  });
  const dropped = rounds.filter((r) => r.kept === false).map((r) => r.round);
  return {
    ...base(),
    tooltip: { trigger: 'axis', confine: true, valueFormatter: (v: unknown) => fmt(v) },
    legend: { top: 0, textStyle: { color: COLOURS.text } },
    grid: { left: 8, right: 16, top: 28, bottom: 22, ...LABELS_INSIDE },
    xAxis: { type: 'value', name: 'round', nameLocation: 'middle', nameGap: 22, nameTextStyle: { color: COLOURS.muted }, minInterval: 1, min: 1, max: Math.max(1, ...rounds.map((r) => r.round)), ...axisStyle },
    yAxis: { type: 'value', min: 0, max: 1, ...axisStyle, axisLabel: numberLabel },
    series: [
      line('concept judged', 'judged_share', COLOURS.err, targets.stop),
      line('kept values judged', 'judged_keep', COLOURS.ok, targets.keep),
      ...(dropped.length ? [{ type: 'scatter' as const, name: 'not kept', data: dropped.map((k) => [k, rounds.find((r) => r.round === k)!.judged_keep ?? 0]), symbol: 'diamond', symbolSize: 12, itemStyle: { color: COLOURS.muted } }] : []),
    ],
  };
}

/** ValidateAttribution's points grouped by α: [predicted or control ΔJ, actual ΔJ] pairs. */
export function validationSeries(points: TableSummary, x: 'predicted' | 'control'): { alpha: number; data: [number, number][] }[] {
  const by = new Map<number, [number, number][]>();
  for (const r of points.rows) {
    const a = num(r.alpha), px = num(r[x]), py = num(r.actual);
    if (a === null || px === null || py === null) continue;
    by.set(a, [...(by.get(a) ?? []), [px, py]]);
  }
  return [...by].sort((a, b) => b[0] - a[0]).map(([alpha, data]) => ({ alpha, data }));
}

/** Predicted (left, or top when stacked) and shuffled-control ΔJ against the actual ΔJ, one colour per α (shared legend). */
export function validationOption(points: TableSummary, stacked = false): ChartOption {
  const panels = [{ x: 'predicted' as const, title: 'attribution' }, { x: 'control' as const, title: 'shuffled control' }];
  return {
    ...base(),
    tooltip: { trigger: 'item', confine: true, formatter: (q: unknown) => {
      const v = q as { seriesName: string; value: [number, number] };
      return `${v.seriesName}<br>predicted ${fmt(v.value[0])}<br>actual ${fmt(v.value[1])}`;
    } },
    title: panels.map((p, i) => ({
      text: p.title, left: stacked ? 'center' : i === 0 ? '25%' : '75%', top: stacked ? `${i * 48}%` : 0, textAlign: 'center',
      textStyle: { color: COLOURS.text, fontSize: 12, fontWeight: 'normal' },
    })),
    legend: { bottom: 0, textStyle: { color: COLOURS.text } },
    grid: stacked
      ? [{ left: 30, right: 8, top: 24, bottom: '56%', ...LABELS_INSIDE }, { left: 30, right: 8, top: '52%', bottom: 44, ...LABELS_INSIDE }]
      : [{ left: 30, right: '53%', top: 28, bottom: 44, ...LABELS_INSIDE }, { left: '53%', right: 8, top: 28, bottom: 44, ...LABELS_INSIDE }],
    xAxis: panels.map((p, i) => ({ type: 'value', gridIndex: i, name: `${p.x} ΔJ`, nameLocation: 'middle', nameGap: 24, nameTextStyle: { color: COLOURS.muted }, scale: true, ...axisStyle, axisLabel: numberLabel })),
    yAxis: panels.map((_, i) => ({ type: 'value', gridIndex: i, name: 'actual ΔJ', nameLocation: 'middle', nameGap: 34, nameTextStyle: { color: COLOURS.muted }, scale: true, ...axisStyle, axisLabel: numberLabel })),
    series: panels.flatMap((p, i) => validationSeries(points, p.x).map((s, j) => ({
      type: 'scatter' as const, xAxisIndex: i, yAxisIndex: i, name: `α ${fmt(s.alpha)}`, data: s.data, symbolSize: 8,
      itemStyle: { color: COLOURS.series[j % COLOURS.series.length], opacity: 0.85 },
    }))),
  };
}

/** Pearson r per α, attribution beside the shuffled control (the table under the scatter). */
export function pearsonRows(table: TableSummary): { alpha: number; masks: number | null; components: number | null; pearson: number | null; control: number | null }[] {
  return table.rows.map((row) => ({
    alpha: num(row.alpha) ?? NaN, masks: num(row.masks), components: num(row.components), pearson: num(row.pearson), control: num(row.control_pearson),
  }));
}

type AxisLike = { type?: string; axisLabel?: object; name?: string; splitNumber?: number };
type SeriesLike = { label?: object; markLine?: { label?: object } };
const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = <T>(orig: T | T[] | undefined, v: T[]): T | T[] => (Array.isArray(orig) ? v : v[0]!);

/**
 * The same chart for inside a node: no legend, titles or category labels (names live on hover), value axes with
 * two splits, tight grids, no bar or mark-line labels.
 */
export function compactOption(o: ChartOption): ChartOption {
  const axes = (a: AxisLike | AxisLike[] | undefined) => a && one(a, list(a).map((x) => x.type === 'category'
    ? { ...x, name: undefined, axisLabel: { ...x.axisLabel, show: false }, axisTick: { show: false } }
    : { ...x, name: undefined, splitNumber: 2, axisLabel: { ...x.axisLabel, fontSize: 9 } }));
  const grids = list(o.grid as object | object[]);
  const n = grids.length;
  return {
    ...o,
    legend: undefined, title: undefined,
    grid: one(o.grid as object | object[], grids.map((g, i) => ({ ...g, top: 6, bottom: 4, ...(n > 1 ? { left: `${(100 * i) / n + 1}%`, width: `${100 / n - 2}%`, right: undefined } : { left: 4, right: 8 }) }))),
    xAxis: axes(o.xAxis as AxisLike | AxisLike[]),
    yAxis: axes(o.yAxis as AxisLike | AxisLike[]),
    visualMap: o.visualMap ? { ...(o.visualMap as object), show: false } : undefined,
    series: list(o.series as SeriesLike | SeriesLike[]).map((s) => ({ ...s, label: { show: false }, ...(s.markLine ? { markLine: { ...s.markLine, label: { show: false } } } : {}) })),
  } as ChartOption;
}
