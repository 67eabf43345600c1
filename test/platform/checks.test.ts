// Workflows as tests: a Check that fails fails the run (and `cadflow run` exits 1); one that passes lets it finish.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import checksPack, { measure } from '../../nodes/checks/index.ts';
import { REPO_ROOT } from '../../server/engine/registry.ts';
import { createHarness, type Harness } from '../../server/harness.ts';
import testPack from '../fixtures/testpack/index.ts';
import { TESTPACK, wf } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cadflow-checks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Number → Check; NoiseImages → Mean (SCORES, TABLE) → Checks; images → Check (count). */
const graph = (check: Record<string, unknown>, input: [string, string] = ['n', 'value']) => wf({
  n: { type: 'Number', params: { value: 5 } },
  noise: { type: 'NoiseImages', params: { n: 3, seed: 1 } },
  mean: { type: 'Mean', inputs: { images: ['noise', 'images'] } },
  check: { type: 'Check', params: check, inputs: { value: input } },
});

describe('Check', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ packs: [checksPack, testPack] });
  });
  afterAll(() => h.close());

  it('passes a value within range and outputs it', async () => {
    const run = await h.run(graph({ min: 5, max: 5 }));
    expect(run.status).toBe('done');
    expect(run.output('check', 'value')).toBe(5);
  });

  it('fails the run naming the metric, its value and the range', async () => {
    const run = await h.run(graph({ max: 4.5 }));
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ nodeId: 'check', message: 'check (Check) failed: value = 5, expected ≤ 4.5' });
  });

  it('reads a table cell by column and row (index, negative index or first-column value)', async () => {
    const run = await h.run(graph({ metric: 'mean', row: '-1', min: 0, max: 1 }, ['mean', 'table']));
    expect(run.status).toBe('done');
    const table = run.output('mean', 'table') as { rows: { image: number; mean: number }[] };
    expect(run.output('check', 'value')).toBe(table.rows[2].mean);
    const byIndex = await h.run(graph({ metric: 'mean', row: '1', max: -1 }, ['mean', 'table']));
    expect(byIndex.error?.message).toBe(`check (Check) failed: mean of row 1 = ${table.rows[1].mean.toPrecision(4)}, expected ≤ -1`);
    // a row named by its first cell, as EvaluateErasure's model column
    const models = { columns: ['model', 'erase_acc'], rows: [{ model: 'original', erase_acc: 0.9 }, { model: 'erased', erase_acc: 0.05 }] };
    expect(measure(models, 'erase_acc', 'erased')).toEqual({ value: 0.05, what: 'erase_acc of row 1 (model erased)' });
    expect(() => measure(models, 'erase_acc', 'other')).toThrow('no row with model "other" (have: original, erased)');
  });

  it('reads a statistic of scores and the count of images', async () => {
    const scores = await h.run(graph({ metric: 'count', min: 3, max: 3 }, ['mean', 'scores']));
    expect(scores.status).toBe('done');
    const mean = await h.run(graph({ min: 0, max: 1 }, ['mean', 'scores']));
    expect(mean.output('check', 'value')).toBeCloseTo(mean.output('mean', 'mean') as number, 12);
    const images = await h.run(graph({ min: 4 }, ['noise', 'images']));
    expect(images.error?.message).toContain('image count = 3, expected ≥ 4');
  });

  it('names the param that is wrong', async () => {
    const noBounds = await h.run(graph({}));
    expect(noBounds.error?.message).toContain('give min, max or both');
    const column = await h.run(graph({ metric: 'erase_acc', max: 1 }, ['mean', 'table']));
    expect(column.error?.message).toContain('no column "erase_acc" (have: image, mean)');
    const row = await h.run(graph({ metric: 'mean', row: '7', max: 1 }, ['mean', 'table']));
    expect(row.error?.message).toContain('row 7 is out of range: the table has 3 rows');
  });
});

describe('Numbers', () => {
  it('puts the constants first, then the linked numbers in link order', async () => {
    const h = await createHarness({ packs: [checksPack, testPack] });
    try {
      const run = await h.run(wf({
        a: { type: 'Number', params: { value: 2 } },
        b: { type: 'Number', params: { value: 3 } },
        nums: { type: 'Numbers', params: { name: 'fraction', constants: [0] }, inputs: { values: [['b', 'value'], ['a', 'value']] } },
      }));
      expect(run.output('nums', 'scores')).toEqual({ name: 'fraction', values: [0, 3, 2] });
    } finally {
      h.close();
    }
  });
});

/** The real `cadflow run` in its own process. */
function cadflowRun(file: string): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cadflow.js'), 'run', file, '--no-builtin', '--packs', `${join(REPO_ROOT, 'nodes/checks')},${TESTPACK}`, '--out', join(tmp, 'out')], {
    cwd: tmp, env: { ...process.env, CADFLOW_DATA: join(tmp, 'data') }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stderr })));
}

describe('cadflow run with a Check', () => {
  it('exits 1 when the Check fails, saying why, and 0 when it passes', async () => {
    const failing = join(tmp, 'failing.json');
    const passing = join(tmp, 'passing.json');
    writeFileSync(failing, JSON.stringify(graph({ min: 0, max: 1 })));
    writeFileSync(passing, JSON.stringify(graph({ min: 0, max: 10 })));
    const [bad, good] = await Promise.all([cadflowRun(failing), cadflowRun(passing)]);
    expect(bad.stderr).toContain('check (Check) failed: value = 5, expected in [0, 1]');
    expect(bad.code).toBe(1);
    expect(good.stderr).toContain('done');
    expect(good.code).toBe(0);
  }, 300_000);
});
