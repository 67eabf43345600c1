// EvaluateErasure's labelled sample grids: one PNG per model (the same prompts and seeds in each), concept row over
// kept-values row, with the tiles' prompts and the judge's readings in the table's summary.
import { inflateSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime } from '../../nodes/sdk/index.ts';
import { loadModel } from '../../nodes/diffusion/api.ts';
import evaluationPack from '../../nodes/evaluation/index.ts';
import { REFERENCE_ROW, shownPrompts } from '../../nodes/evaluation/erasure-eval.ts';
import { erasureProtocol } from '../../nodes/evaluation/protocols/erasure.ts';
import type { ErasureTable } from '../../nodes/evaluation/nodes/evaluate-erasure.ts';
import { loadJudge } from '../../nodes/evaluation/judge.ts';
import { loadClip } from '../../nodes/evaluation/clip.ts';
import { fakeContext, MODELS_DIR } from './helpers.ts';

const node = evaluationPack.nodes.find((n) => n.type === 'EvaluateErasure')!;

/** Width, height and the RGB pixel at (x, y) of an 8-bit RGB PNG without filters (what encodePng writes). */
function png(bytes: Uint8Array) {
  const b = Buffer.from(bytes);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  const width = b.readUInt32BE(16), height = b.readUInt32BE(20);
  const idat: Buffer[] = [];
  for (let o = 8; o < b.length;) {
    const len = b.readUInt32BE(o);
    if (b.subarray(o + 4, o + 8).toString('latin1') === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const at = (x: number, y: number) => [...raw.subarray(y * (width * 3 + 1) + 1 + x * 3, y * (width * 3 + 1) + 4 + x * 3)];
  return { width, height, at };
}

beforeAll(async () => {
  await initRuntime();
  await Promise.all([loadJudge('shapes-judge', MODELS_DIR), loadClip('shapes-clip', MODELS_DIR)]);
});

describe('shownPrompts', () => {
  it('shows one sample of each kept value, as many concept samples, and pads short rows with blanks', () => {
    const shape = shownPrompts(erasureProtocol('circle', { size: 'quick' }));
    expect(shape.columns).toBe(5);
    // quick: 3 prompts per value, so the concept row has 3 samples and 2 blanks.
    expect(shape.shown.slice(0, 5).map((s) => s?.q.labels.shape ?? null)).toEqual(['circle', 'circle', 'circle', null, null]);
    expect(new Set(shape.shown.slice(5).map((s) => s!.q.labels.shape))).toEqual(new Set(['square', 'triangle', 'star', 'cross', 'heart']));
    // style has one other value: three columns, its first three prompts; with one prompt per value the rest is blank.
    const style = shownPrompts(erasureProtocol('filled', { size: 'quick', perValue: 1 }));
    expect(style.columns).toBe(3);
    expect(style.shown.map((s) => s?.kind ?? null)).toEqual(['concept', null, null, 'keep', null, null]);
  });
});

describe('EvaluateErasure sample grids on the micro model', () => {
  it('writes one labelled grid per model, the same prompts and seeds in each, sized columns × 2 tiles', async () => {
    const model = await loadModel('shapes-micro', MODELS_DIR);
    const { ctx, artifacts } = fakeContext();
    const out = await node.execute(ctx, { models: [model, model] }, node.params.parse({ concept: 'circle', size: 'quick', steps: 2, batchSize: 32 }));
    const table = out.table as ErasureTable;
    const grids = artifacts.filter((a) => a.ref.mime === 'image/png');
    expect(grids.map((a) => a.ref.name)).toEqual(['samples-1.png', 'samples-2.png', 'samples-3.png']);
    expect(table.samples.map((s) => s.model)).toEqual([REFERENCE_ROW, 'shapes-micro', 'shapes-micro #2']);
    expect(table.samples.map((s) => s.artifact)).toEqual(grids.map((a) => a.ref.id));
    for (const s of table.samples) {
      expect(s.columns).toBe(5);
      expect(s.tiles.map((t) => t && [t.kind, t.prompt, t.seed])).toEqual(table.samples[0].tiles.map((t) => t && [t.kind, t.prompt, t.seed]));
    }
    // Two identical models draw identical samples: identical grids.
    expect(grids[1].ref.id).toBe(grids[2].ref.id);
    const tile = 32 * 2, gap = 4;
    for (const g of grids) {
      const p = png(g.bytes);
      expect([p.width, p.height]).toEqual([5 * tile + 6 * gap, 2 * tile + 3 * gap]);
    }
    // The frame says what the judge read: green where the tile's value was seen, red where not.
    const ref = png(grids[0].bytes);
    const grey = Math.round(0.2 * 255);
    table.samples[0].tiles.forEach((t, k) => {
      const x = gap + (k % 5) * (tile + gap) - 1, y = gap + Math.floor(k / 5) * (tile + gap) - 1;
      expect(ref.at(x, y)).toEqual(!t ? [grey, grey, grey] : t.judged === t.value ? [92, 201, 138] : [240, 112, 120]);
    });
    expect(table.samples[0].tiles.map((t) => t?.kind ?? null)).toEqual([...Array(3).fill('concept'), null, null, ...Array(5).fill('keep')]);
    // World renders of the prompts: the judge reads (nearly) every shape right.
    expect(table.samples[0].tiles.filter((t) => t && t.judged === t.value).length).toBeGreaterThanOrEqual(7);
    const summary = node.summarize!('table', table) as { samples: unknown[]; rows: unknown[] };
    expect(summary.samples).toHaveLength(3);
    expect(summary.rows).toHaveLength(3);
  }, 600_000);
});
