import { describe, expect, it } from 'vitest';
import {
  flatten, fmt, gridGeometry, imageLabels, labelColumn, modelShort, numericColumns, panelsOf, pickView, sampleGridBoxes,
  shortLayer, sortRows, splitTotals, tileBox, type SampleGrid, type TableSummary,
} from './shape.ts';

const table: TableSummary = {
  columns: ['model', 'erase_acc', 'fd'],
  rows: [{ model: 'b', erase_acc: 0.5, fd: null }, { model: 'a10', erase_acc: 0.1, fd: 2 }, { model: 'a9', erase_acc: 0.9, fd: 1 }],
};

describe('pickView', () => {
  it('picks node-specific views first, then by the summary shape', () => {
    expect(pickView('EvaluateErasure', 'table', table)).toBe('erasure');
    expect(pickView('Erase', 'report', { columns: ['layer', 'weights_zeroed'], rows: [] })).toBe('erase-report');
    expect(pickView('EraseBaseline', 'report', { columns: ['layer', 'weights_zeroed'], rows: [] })).toBe('erase-report');
    expect(pickView('FineTuneESD', 'report', { columns: ['layer', 'weights_tuned', 'mean_abs_change', 'weights_zeroed'], rows: [] })).toBe('table');
    expect(pickView('ValidateAttribution', 'table', table)).toBe('validation');
    expect(pickView('Table', 'table', table)).toBe('table');
    expect(pickView('ClipScore', 'scores', { name: 'clip_score', mean: 1, values: [1, 2] })).toBe('scores');
    expect(pickView('Sample', 'images', { shape: [8, 32, 32, 3], prompts: [] })).toBe('images');
    expect(pickView('PreviewImage', 'artifact', { artifact: 'ab', mime: 'image/png' })).toBe('image');
    expect(pickView('LoadModel', 'model', { name: 'm', overlays: [] })).toBe('model');
    expect(pickView('Erase', 'fraction', 0.01)).toBe('value');
    expect(pickView('FitAttribution', 'attribution', { layers: [], histogram: { edges: [], counts: [] }, top_positive: [] })).toBe('attribution');
    expect(pickView('MaskComponents', 'mask', { count: 3, of: 9 })).toBe('keyvalue');
    // a table whose rows are not objects is not a table
    expect(pickView('X', 'y', { columns: ['a'], rows: [1, 2] })).toBe('keyvalue');
  });
});

describe('panelsOf', () => {
  it('orders panels by how telling they are and folds ValidateAttribution points into its table panel', () => {
    const points = { columns: ['alpha', 'predicted', 'actual', 'control'], rows: [] };
    const p = panelsOf('ValidateAttribution', { table, points });
    expect(p.map((x) => [x.output, x.kind])).toEqual([['table', 'validation']]);
    expect(p[0]!.extra).toBe(points);
    const erase = panelsOf('Erase', { model: { name: 'm', overlays: ['x'] }, report: { columns: ['layer', 'weights_zeroed'], rows: [] }, fraction: 0.1 });
    expect(erase.map((x) => x.kind)).toEqual(['erase-report', 'value', 'model']);
    expect(panelsOf('Erase', { model: { name: 'm', overlays: [] }, fraction: 0.1 }, true).map((x) => x.output)).toEqual(['fraction']);
    expect(panelsOf('X', undefined)).toEqual([]);
  });
});

describe('sortRows', () => {
  it('sorts numbers numerically and text naturally, nulls last either way, and restores the order with null', () => {
    expect(sortRows(table.rows, 'erase_acc', 'asc').map((r) => r.model)).toEqual(['a10', 'b', 'a9']);
    expect(sortRows(table.rows, 'erase_acc', 'desc').map((r) => r.model)).toEqual(['a9', 'b', 'a10']);
    expect(sortRows(table.rows, 'model', 'asc').map((r) => r.model)).toEqual(['a9', 'a10', 'b']);
    expect(sortRows(table.rows, 'fd', 'asc').map((r) => r.model)).toEqual(['a9', 'a10', 'b']);
    expect(sortRows(table.rows, 'fd', 'desc').map((r) => r.model)).toEqual(['a10', 'a9', 'b']);
    expect(sortRows(table.rows, null, 'asc')).toEqual(table.rows);
    expect(sortRows(table.rows, 'fd', 'asc')).not.toBe(table.rows);
  });
  it('is stable for equal keys', () => {
    const rows = [{ k: 1, i: 0 }, { k: 0, i: 1 }, { k: 1, i: 2 }, { k: 1, i: 3 }];
    expect(sortRows(rows, 'k', 'desc').map((r) => r.i)).toEqual([0, 2, 3, 1]);
  });
});

describe('columns and formatting', () => {
  it('finds numeric columns and the label column', () => {
    expect(numericColumns(table)).toEqual(['erase_acc', 'fd']);
    expect(labelColumn(table)).toBe('model');
    expect(labelColumn({ columns: ['a'], rows: [{ a: 1 }] })).toBeNull();
  });
  it('formats numbers readably', () => {
    expect(fmt(69888)).toBe('69,888');
    expect(fmt(0.30769230769230776)).toBe('0.3077');
    expect(fmt(0.0007080770073797371)).toBe('7.081e-4');
    expect(fmt(null)).toBe('—');
    expect(fmt(NaN)).toBe('NaN');
  });
  it('shortens UNet parameter names and edited-model labels', () => {
    expect(shortLayer('up_blocks.1.attentions.1.transformer_blocks.0.ff.net.0.proj.weight')).toBe('up1.a1.ff.in');
    expect(shortLayer('mid_block.attentions.0.transformer_blocks.0.ff.net.2.weight')).toBe('mid.a0.ff.out');
    expect(shortLayer('up_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v.weight')).toBe('up0.a0.attn2.to_v');
    expect(modelShort("shapes-micro + CAD erase 'circle' (per-row, positive, ρ=0.02): 328 weights zeroed")).toBe("CAD erase 'circle'");
    expect(modelShort('shapes-micro + ESD-u erase \'circle\' (2 steps): 1 weights tuned #2')).toBe("ESD-u erase 'circle' #2");
    expect(modelShort('shapes-micro')).toBe('shapes-micro');
  });
  it('flattens any summary into path/value rows', () => {
    expect(flatten({ count: 3, drawn: { alpha: 0.1, seed: 2 }, list: [1, 2] })).toEqual([['count', '3'], ['drawn.alpha', '0.1'], ['drawn.seed', '2'], ['list', '1, 2']]);
    expect(flatten('x')).toEqual([['value', 'x']]);
  });
  it('splits a report\'s total row from its matrices', () => {
    const s = splitTotals({ columns: ['layer'], rows: [{ layer: 'a' }, { layer: 'total (CAD)' }, { layer: 'b' }] });
    expect(s.layers.map((r) => r.layer)).toEqual(['a', 'b']);
    expect(s.totals.map((r) => r.layer)).toEqual(['total (CAD)']);
  });
});

describe('grid geometry', () => {
  it('recovers columns and scale of an imageGrid PNG from its size, and each tile\'s box', () => {
    // 8 images 32×32 at scale 2, gap 2, 3 columns (⌈√8⌉): 3·64 + 4·2 = 200 wide, 3 rows → 200 high.
    const g = gridGeometry(8, 32, 32, 200, 200)!;
    expect(g).toEqual({ columns: 3, scale: 2, gap: 2, tileW: 64, tileH: 64 });
    expect(tileBox(g, 4)).toEqual({ x: 68, y: 68, w: 64, h: 64 });
    // a one-row grid (columns = n) of 4 at scale 4: 4·128 + 5·2 = 522 × 132
    expect(gridGeometry(4, 32, 32, 522, 132)).toMatchObject({ columns: 4, scale: 4 });
    expect(gridGeometry(4, 32, 32, 500, 132)).toBeNull();
  });
  it('locates the tiles of an EvaluateErasure sample grid', () => {
    const g: SampleGrid = { model: 'm', artifact: 'x', columns: 5, scale: 2, gap: 4, tiles: Array(10).fill(null) };
    const boxes = sampleGridBoxes(g, { w: 5 * 64 + 6 * 4, h: 2 * 64 + 3 * 4 });
    expect(boxes[0]).toEqual({ x: 4, y: 4, w: 64, h: 64 });
    expect(boxes[7]).toEqual({ x: 4 + 2 * 68, y: 72, w: 64, h: 64 });
  });
  it('labels images by prompt, seed and world labels', () => {
    expect(imageLabels({ shape: [2, 32, 32, 3], prompts: ['a', 'b'], seeds: [1, 2], labels: [{ shape: 'circle', colour: 'red' }] }))
      .toEqual([{ prompt: 'a', seed: 1, labels: 'circle red' }, { prompt: 'b', seed: 2, labels: undefined }]);
  });
});
