// Classify, ClipScore, Table and EvaluateErasure (on the micro model) through their node definitions.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, NodeInputError, NodeParamError, tf, type ScoresValue, type TableValue } from '../../nodes/sdk/index.ts';
import { loadModel } from '../../nodes/diffusion/api.ts';
import evaluationPack from '../../nodes/evaluation/index.ts';
import { REFERENCE_ROW } from '../../nodes/evaluation/erasure-eval.ts';
import { loadJudge } from '../../nodes/evaluation/judge.ts';
import { loadClip } from '../../nodes/evaluation/clip.ts';
import { fakeContext, MODELS_DIR, renderedImages } from './helpers.ts';

const node = (type: string) => evaluationPack.nodes.find((n) => n.type === type)!;
const run = (type: string, ctx: ReturnType<typeof fakeContext>['ctx'], inputs: Record<string, unknown>, params: Record<string, unknown> = {}) =>
  node(type).execute(ctx, inputs, node(type).params.parse(params));

beforeAll(async () => {
  await initRuntime();
  // Judge and CLIP weights are loaded once per process and kept: load them before counting tensors.
  await Promise.all([loadJudge('shapes-judge', MODELS_DIR), loadClip('shapes-clip', MODELS_DIR)]);
});

describe('evaluation pack', () => {
  it('exports the four nodes with parseable default params', () => {
    expect(evaluationPack.name).toBe('evaluation');
    expect(evaluationPack.nodes.map((n) => n.type).sort()).toEqual(['Classify', 'ClipScore', 'EvaluateErasure', 'Table']);
    for (const n of evaluationPack.nodes) expect(() => n.params.parse({})).not.toThrow();
    expect(node('EvaluateErasure').inputs.models.multiple).toBe(true);
  });
});

describe('Classify', () => {
  it('reports per-attribute accuracy from the images\' world labels, and per-image labels', async () => {
    const images = renderedImages(48, 31);
    const { ctx, recorded } = fakeContext();
    const out = await run('Classify', ctx, { images });
    images.dispose();
    const scores = out.scores as ScoresValue;
    // Floors below the judge's measured held-out accuracy (models/shapes-judge/metrics.json: ≥ 99.85% per head);
    // 0.95 of 48 allows 2 errors.
    for (const k of ['shape_acc', 'colour_acc', 'background_acc', 'style_acc']) expect(scores.extra![k], k).toBeGreaterThanOrEqual(0.95);
    expect(scores.values).toHaveLength(48);
    const table = out.labels as TableValue;
    expect(table.rows).toHaveLength(48);
    expect(table.columns).toEqual(['index', 'prompt', 'shape', 'shape_p', 'colour', 'colour_p', 'background', 'background_p', 'style', 'style_p']);
    expect(JSON.stringify(recorded)).toMatch(/judge:shapes-judge/);
  });

  it('falls back to what the prompts name when the images carry no labels', async () => {
    const images = renderedImages(16, 32, false);
    const { ctx } = fakeContext();
    const scores = (await run('Classify', ctx, { images })).scores as ScoresValue;
    images.dispose();
    expect(scores.name).toBe('judge_agreement');
    // Every caption names a shape or a colour; partial captions leave others out (fewer labelled images).
    expect(Number(scores.extra!.colour_n) + Number(scores.extra!.shape_n)).toBeGreaterThan(16);
  });

  it('names the param when the judge cannot be loaded', async () => {
    const images = renderedImages(2, 1);
    await expect(run('Classify', fakeContext().ctx, { images }, { judge: 'no-such-judge' })).rejects.toThrow(NodeParamError);
    images.dispose();
  });
});

describe('ClipScore', () => {
  it('scores each image against its prompt and streams progress per batch', async () => {
    const images = renderedImages(20, 33);
    const { ctx, progress, logs } = fakeContext();
    const scores = (await run('ClipScore', ctx, { images }, { batchSize: 8 })).scores as ScoresValue;
    expect(scores.values).toHaveLength(20);
    for (const v of scores.values) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(100); }
    expect(progress.map((p) => p.value)).toEqual([8, 16, 20]);
    expect(logs).toHaveLength(3);
    expect(scores.extra!.clip_score).toBeCloseTo(scores.values.reduce((a, b) => a + b, 0) / 20, 10);
    await expect(run('ClipScore', ctx, { images, prompts: { prompts: ['a red circle'] } })).rejects.toThrow(NodeInputError);
    images.dispose();
  });
});

describe('Table', () => {
  it('stacks tables and scores, selects and sorts columns, and writes a CSV', async () => {
    const { ctx, artifacts } = fakeContext();
    const t1: TableValue = { columns: ['model', 'fd'], rows: [{ model: 'a', fd: 3 }, { model: 'b, "x"', fd: 1 }] };
    const t2: TableValue = { columns: ['model', 'fd', 'images'], rows: [{ model: 'c', fd: 2, images: 5 }] };
    const out = (await run('Table', ctx, { tables: [t1, t2] }, { sortBy: 'fd' })).table as TableValue;
    expect(out.columns).toEqual(['model', 'fd', 'images']);
    expect(out.rows.map((r) => r.model)).toEqual(['b, "x"', 'c', 'a']);
    expect(new TextDecoder().decode(artifacts[0].bytes)).toBe('model,fd,images\n"b, ""x""",1,\nc,2,5\na,3,\n');
    const scores: ScoresValue = { name: 'clip_score', values: [1, 2], labels: ['p', 'q'] };
    const fromScores = (await run('Table', ctx, { tables: [scores] })).table as TableValue;
    expect(fromScores.rows).toEqual([{ item: 'p', clip_score: 1 }, { item: 'q', clip_score: 2 }]);
    await expect(run('Table', ctx, { tables: [t1] }, { columns: ['nope'] })).rejects.toThrow(NodeParamError);
    const judged: ScoresValue = { name: 'judge_agreement', values: [0.5, 1], labels: ['p', 'q'] };
    const side = (await run('Table', ctx, { tables: [scores, judged] }, { mode: 'side-by-side' })).table as TableValue;
    expect(side.rows).toEqual([{ item: 'p', clip_score: 1, judge_agreement: 0.5 }, { item: 'q', clip_score: 2, judge_agreement: 1 }]);
    await expect(run('Table', ctx, { tables: [t1, t2] }, { mode: 'side-by-side' })).rejects.toThrow(NodeInputError);
  });
});

describe('EvaluateErasure on the micro model', () => {
  it('produces the table with sane ranges; identical models get identical rows (same seeds)', async () => {
    const model = await loadModel('shapes-micro', MODELS_DIR);
    const { ctx, progress, previews, logs } = fakeContext();
    const before = tf.memory().numTensors;
    const out = await run('EvaluateErasure', ctx, { models: [model, model] }, { concept: 'red', size: 'quick', steps: 3, batchSize: 16 });
    // Where the time went, phase by phase.
    expect(logs.some((l) => /generation [\d.]+ s, judging [\d.]+ s, CLIP [\d.]+ s, scores [\d.]+ s$/.test(l))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    const table = out.table as TableValue;
    expect(table.columns).toEqual(['model', 'erase_acc', 'keep_acc', 'harmonic', 'clip_score', 'fd', 'images']);
    expect(table.rows.map((r) => r.model)).toEqual([REFERENCE_ROW, 'shapes-micro', 'shapes-micro #2']);
    for (const r of table.rows) {
      for (const k of ['erase_acc', 'keep_acc', 'harmonic']) { expect(r[k]).toBeGreaterThanOrEqual(0); expect(r[k]).toBeLessThanOrEqual(1); }
      expect(r.clip_score).toBeGreaterThanOrEqual(0);
      expect(r.clip_score).toBeLessThanOrEqual(100);
      expect(r.fd).toBeGreaterThanOrEqual(0);
      expect(r.images).toBe(6 * 3 + 8);
    }
    // Renders of the prompts: the judge (colour head ≈ 100% on renders) finds the target and the keep values.
    expect(table.rows[0].erase_acc).toBe(1);
    expect(table.rows[0].keep_acc).toBeGreaterThanOrEqual(0.9);
    const { model: _a, ...first } = table.rows[1];
    const { model: _b, ...second } = table.rows[2];
    expect(second).toEqual(first);
    expect(progress.at(-1)).toMatchObject({ value: 3 * 26, max: 3 * 26 });
    expect(previews.length).toBe(3);
  }, 600_000); // seconds when the machine is free; minutes while the shipped model trains on the same cores

  it('is cancellable and names a bad concept', async () => {
    const model = await loadModel('shapes-micro', MODELS_DIR);
    await expect(run('EvaluateErasure', fakeContext().ctx, { models: [model] }, { concept: 'dog', size: 'quick' })).rejects.toThrow(NodeParamError);
    const abort = new AbortController();
    abort.abort();
    await expect(run('EvaluateErasure', fakeContext(abort.signal).ctx, { models: [model] }, { concept: 'square', size: 'quick', steps: 2 }))
      .rejects.toThrow(/cancel/i);
  });
});
