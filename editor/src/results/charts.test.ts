import { describe, expect, it } from 'vitest';
import {
  categories, compactOption, erasureBarsOption, heatmapOption, histogramOption, layerMassOption, poolMatrix, roundsOption, scoresOption,
  tableBarsOption, validationOption, validationSeries, zeroedOption, pearsonRows, ERASURE_METRICS,
} from './charts.ts';
import type { TableSummary } from './shape.ts';

// Shapes of real summaries (cadflow run on shapes-micro, workflows/*.json with their meta.test overrides), trimmed.
const erasure: TableSummary = {
  columns: ['model', 'erase_acc', 'keep_acc', 'harmonic', 'clip_score', 'fd', 'images'],
  rows: [
    { model: 'shapes-micro', erase_acc: 0.3333, keep_acc: 0.2, harmonic: 0.3077, clip_score: 24.95, fd: 1.075, images: 26 },
    { model: "shapes-micro + CAD erase 'circle' (per-row, positive, ρ=0.02): 328 weights zeroed", erase_acc: 0.3333, keep_acc: 0.1333, harmonic: 0.2222, clip_score: 24.89, fd: 1.0758, images: 26 },
  ],
};
const report: TableSummary = {
  columns: ['layer', 'k', 'weights_zeroed', 'weights', 'fraction', 'rounds_run', 'rounds_kept', 'judged_share', 'judged_keep'],
  rows: [
    { layer: 'down_blocks.1.attentions.0.transformer_blocks.0.ff.net.0.proj.weight', k: 0, weights_zeroed: 0, weights: 4608, fraction: 0 },
    { layer: 'down_blocks.1.attentions.0.transformer_blocks.0.ff.net.2.weight', k: 1, weights_zeroed: 24, weights: 2304, fraction: 0.0104 },
    { layer: 'total (CAD)', k: null, weights_zeroed: 24, weights: 6912, fraction: 0.0035, rounds_run: 8, rounds_kept: 1, judged_share: 0.25, judged_keep: 0 },
  ],
};
const points: TableSummary = {
  columns: ['alpha', 'predicted', 'actual', 'control'],
  rows: [
    { alpha: 0.1, predicted: -0.03, actual: 2.6, control: -0.017 },
    { alpha: 0.1, predicted: -0.004, actual: 0.46, control: -0.009 },
    { alpha: 0.05, predicted: -0.007, actual: 0.28, control: -0.0087 },
    { alpha: 0.05, predicted: null, actual: 0.1, control: 0.2 },
  ],
};

type AnySeries = { type: string; name?: string; data: unknown[]; xAxisIndex?: number; label?: { show?: boolean }; markLine?: { data: unknown[]; label?: { show?: boolean } } };
const series = (o: { series?: unknown }) => o.series as AnySeries[];

describe('chart options', () => {
  it('EvaluateErasure: one panel per metric, a bar per model in each, the accuracies on [0, 1]', () => {
    const o = erasureBarsOption(erasure, ['original', 'CAD']);
    expect((o.grid as unknown[]).length).toBe(ERASURE_METRICS.length);
    const s = series(o);
    expect(s).toHaveLength(4 * 2);
    expect(s.filter((x) => x.xAxisIndex === 3).map((x) => [x.name, x.data])).toEqual([['original', [1.075]], ['CAD', [1.0758]]]);
    expect((o.yAxis as { max?: number }[]).map((y) => y.max)).toEqual([1, 1, undefined, undefined]);
    expect((o.legend as { data: string[] }).data).toEqual(['original', 'CAD']);
  });

  it('TABLE bars: categories from the label column (layers shortened), nulls as gaps', () => {
    expect(categories(report)).toEqual(['down1.a0.ff.in', 'down1.a0.ff.out', 'total (CAD)']);
    expect(categories({ columns: ['v'], rows: [{ v: 1 }, { v: 2 }] })).toEqual(['1', '2']);
    const o = tableBarsOption(report, ['k']);
    expect(series(o)[0]!.data).toEqual([0, 1, null]);
    expect((o.xAxis as { axisLabel: { show: boolean } }).axisLabel.show).toBe(true);
    const long = { columns: ['layer', 'v'], rows: Array.from({ length: 31 }, (_, i) => ({ layer: `l${i}`, v: i })) };
    expect((tableBarsOption(long, ['v']).xAxis as { axisLabel: { show: boolean } }).axisLabel.show).toBe(false);
  });

  it('SCORES: a bar per item labelled by its label, the mean as a line', () => {
    const o = scoresOption({ name: 'clip_score', mean: 15, values: [0, 30], labels: ['a', 'b'] });
    expect((o.xAxis as { data: string[] }).data).toEqual(['a', 'b']);
    expect(series(o)[0]!.markLine!.data).toEqual([{ yAxis: 15 }]);
    expect(series(scoresOption({ mean: null, values: [] }))[0]!.markLine).toBeUndefined();
  });

  it('attribution: diverging mass bars and a log histogram with empty bins as gaps', () => {
    const o = layerMassOption([{ layer: 'mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight', components: 9, positive: 2, negative: -3, positive_share: 1 }]);
    expect(series(o).map((x) => [x.name, x.data])).toEqual([['positive', [2]], ['negative', [-3]]]);
    const h = histogramOption({ edges: [-1, 0, 1, 2], counts: [3, 0, 5] });
    expect((series(h)[0]!.data as { value: number | null }[]).map((d) => d.value)).toEqual([3, null, 5]);
    expect((h.xAxis as { data: string[] }).data).toEqual(['-0.5', '0.5', '1.5']);
  });

  it('poolMatrix sums blocks and keeps every value; the heatmap scale is symmetric around 0', () => {
    const v = Float32Array.from({ length: 6 * 5 }, (_, i) => (i % 2 ? -1 : 1) * i);
    const p = poolMatrix(v, 6, 5, 3, 2);
    expect([p.rows, p.cols, p.rowStep, p.colStep]).toEqual([3, 2, 2, 3]);
    expect([...p.data].reduce((a, b) => a + b, 0)).toBeCloseTo([...v].reduce((a, b) => a + b, 0));
    // block (0,0): rows 0–1, cols 0–2 → 0 − 1 + 2 + (−5) + 6 − 7
    expect(p.data[0]).toBe(0 - 1 + 2 - 5 + 6 - 7);
    expect(poolMatrix(v, 6, 5).rowStep).toBe(1);
    expect(() => poolMatrix(v, 4, 5)).toThrow(/30 values for 4×5/);
    const o = heatmapOption(p, 't');
    const vm = o.visualMap as { min: number; max: number };
    expect(vm.max).toBe(Math.max(...[...p.data].map(Math.abs)));
    expect(vm.min).toBe(-vm.max);
    expect(series(o)[0]!.data).toHaveLength(6);
  });

  it('Erase: zeroed weights per matrix without the total row; rounds as lines with undone rounds marked', () => {
    const z = zeroedOption(report);
    expect(series(z)[0]!.data).toEqual([0, 24]);
    expect((z.yAxis as { data: string[] }).data).toEqual(['down1.a0.ff.in', 'down1.a0.ff.out']);
    const r = roundsOption([
      { round: 1, judged_share: 0.5, judged_keep: 1 }, { round: 2, judged_share: 0.2, judged_keep: 0.97 }, { round: 3, judged_share: 0.1, judged_keep: 0.8, kept: false },
    ], { stop: 0.1 });
    const s = series(r);
    expect(s.map((x) => x.name)).toEqual(['concept judged', 'kept values judged', 'not kept']);
    expect(s[0]!.data).toEqual([[1, 0.5], [2, 0.2], [3, 0.1]]);
    expect(s[0]!.markLine!.data).toEqual([{ yAxis: 0.1 }]);
    expect(s[2]!.data).toEqual([[3, 0.8]]);
  });

  it('ValidateAttribution: points per α (largest first), incomplete points dropped, both panels share the α names', () => {
    expect(validationSeries(points, 'predicted')).toEqual([
      { alpha: 0.1, data: [[-0.03, 2.6], [-0.004, 0.46]] }, { alpha: 0.05, data: [[-0.007, 0.28]] },
    ]);
    expect(validationSeries(points, 'control')[1]!.data).toEqual([[-0.0087, 0.28], [0.2, 0.1]]);
    const s = series(validationOption(points));
    expect(s.map((x) => [x.name, x.xAxisIndex])).toEqual([['α 0.1', 0], ['α 0.05', 0], ['α 0.1', 1], ['α 0.05', 1]]);
    const st = validationOption(points, true);
    expect((st.grid as { top: unknown }[]).map((g) => g.top)).toEqual([24, '52%']);
    expect(series(st).length).toBe(4);
    expect(pearsonRows({ columns: [], rows: [{ alpha: 0.1, masks: 5, components: 10, pearson: 0.9, control_pearson: 0.01 }] }))
      .toEqual([{ alpha: 0.1, masks: 5, components: 10, pearson: 0.9, control: 0.01 }]);
  });

  it('compact: no legend or titles, category labels hidden, one tight grid per panel, bar labels off', () => {
    const c = compactOption(erasureBarsOption(erasure, ['original', 'CAD']));
    expect(c.legend).toBeUndefined();
    expect(c.title).toBeUndefined();
    expect((c.grid as { top: number; left: string }[]).map((g) => g.left)).toEqual(['1%', '26%', '51%', '76%']);
    const z = compactOption(zeroedOption(report));
    expect((z.yAxis as { axisLabel: { show: boolean } }).axisLabel.show).toBe(false);
    expect((z.xAxis as { splitNumber: number }).splitNumber).toBe(2);
    expect(series(z)[0]!.data).toEqual([0, 24]);
    expect(series(z)[0]!.label!.show).toBe(false);
    const s = compactOption(scoresOption({ mean: 1, values: [1] }));
    expect(series(s)[0]!.markLine!.label!.show).toBe(false);
  });
});
