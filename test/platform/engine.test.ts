// Engine, through the headless harness and the test pack: validation, scheduling, partial runs,
// caching, cancel, node errors, tensor hygiene, pack loading, params JSON Schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { createHarness, type Harness } from '../../server/harness.ts';
import { tf } from '../../nodes/sdk/runtime.ts';
import { ValidationFailed } from '../../server/engine/engine.ts';
import { loadRegistry, REPO_ROOT } from '../../server/engine/registry.ts';
import { parseWorkflow } from '../../server/engine/schema.ts';
import testpack, { executions } from '../fixtures/testpack/index.ts';

type Nodes = Record<string, { type: string; typeVersion?: number; params?: Record<string, unknown>; inputs?: Record<string, unknown> }>;
const wf = (nodes: Nodes, name = 'test') => ({ format: 'cadflow.workflow', version: 1, name, nodes, meta: {} });

const chain = (value = 2) => wf({
  a: { type: 'Number', params: { value } },
  b: { type: 'Number', params: { value: 3 } },
  sum: { type: 'Add', inputs: { a: ['a', 'value'], b: ['b', 'value'] } },
  text: { type: 'Text', params: { text: 'unrelated' } },
  total: { type: 'Sum', inputs: { values: [['sum', 'sum'], ['a', 'value']] } },
});

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ packs: [testpack] });
});
afterAll(() => h.close());

describe('validation returns every error at once', () => {
  const kinds = (raw: unknown, targets?: string[]) => {
    const v = h.validate(raw, targets);
    return v.ok ? [] : v.errors.map((e) => `${e.nodeId}:${e.kind}${e.param ? `:${e.param}` : ''}`).sort();
  };

  it('reports each kind with the node (and param) it concerns', () => {
    const bad = wf({
      ghost: { type: 'NoSuchNode' },
      add: { type: 'Add', params: { offset: 'x', extra: 1 } }, // missing input a, bad param, unknown param
      dangling: { type: 'Add', inputs: { a: ['nowhere', 'value'] } },
      wrongOut: { type: 'Add', inputs: { a: ['n', 'nope'] } },
      mismatch: { type: 'Mean', inputs: { images: ['n', 'value'] } },
      n: { type: 'Number' },
      strange: { type: 'Add', inputs: { a: ['n', 'value'], zzz: ['n', 'value'] } },
      future: { type: 'Number', typeVersion: 9 },
      c1: { type: 'Add', inputs: { a: ['c2', 'sum'] } },
      c2: { type: 'Add', inputs: { a: ['c1', 'sum'] } },
    });
    expect(kinds(bad)).toEqual([
      'add:bad_param:extra', 'add:bad_param:offset', 'add:missing_input',
      'c1:cycle', 'c2:cycle',
      'dangling:dangling_link', 'future:bad_version', 'ghost:unknown_type', 'mismatch:type_mismatch',
      'strange:unknown_input', 'wrongOut:unknown_output',
    ]);
  });

  it('rejects malformed files with bad_workflow and unknown targets with unknown_target', () => {
    expect(kinds({ format: 'cadflow.workflow', version: 1, nodes: { '1bad': { type: 'Number' } } })).toEqual(['1bad:bad_workflow']);
    expect(kinds({ format: 'other', version: 1, nodes: {} })).toEqual(['null:bad_workflow']);
    expect(kinds({ format: 'cadflow.workflow', version: 7, nodes: {} })).toEqual(['null:bad_workflow']);
    expect(kinds('not an object')).toEqual(['null:bad_workflow']);
    expect(kinds(wf({}))).toEqual(['null:bad_workflow']);
    expect(kinds(chain(), ['missing'])).toEqual(['missing:unknown_target']);
  });

  it('accepts widening links (NUMBER → STRING) and multiple links only on `multiple` inputs', () => {
    expect(kinds(wf({ n: { type: 'Number' }, t: { type: 'Text', inputs: { prefix: ['n', 'value'] } } }))).toEqual([]);
    expect(kinds(wf({ n: { type: 'Number' }, s: { type: 'Add', inputs: { a: [['n', 'value'], ['n', 'value']] } } })))
      .toEqual(['s:type_mismatch']);
  });

  it('ignores errors outside what the targets need', () => {
    const half = wf({ n: { type: 'Number' }, ok: { type: 'Add', inputs: { a: ['n', 'value'] } }, unfinished: { type: 'Add' } });
    expect(kinds(half)).toEqual(['unfinished:missing_input']);
    expect(kinds(half, ['ok'])).toEqual([]);
  });

  it('run() throws ValidationFailed carrying the errors', async () => {
    await expect(h.run(wf({ x: { type: 'Nope' } }))).rejects.toBeInstanceOf(ValidationFailed);
  });
});

describe('migrations', () => {
  it('migrates a v0 file (node list + link list) to v1', async () => {
    const v0 = {
      name: 'old',
      nodes: [{ id: 'a', type: 'Number', typeVersion: 2, params: { value: 4 } }, { id: 'b', type: 'Number', params: { value: 1 } },
        { id: 's', type: 'Sum' }],
      links: [{ from: ['a', 'value'], to: ['s', 'values'] }, { from: ['b', 'value'], to: ['s', 'values'] }],
    };
    const parsed = parseWorkflow(v0);
    expect(parsed.ok && parsed.workflow.nodes.s.inputs).toEqual({ values: [['a', 'value'], ['b', 'value']] });
    const run = await h.run(v0);
    expect(run.output('s', 'sum')).toBe(5);
  });

  it('migrates node params from an older typeVersion', async () => {
    const run = await h.run(wf({ n: { type: 'Number', typeVersion: 1, params: { n: 42 } } }));
    expect(run.output('n', 'value')).toBe(42);
  });
});

describe('scheduling, partial runs and the cache', () => {
  it('runs upstream before downstream and computes the right values', async () => {
    h.engine.clearCache();
    const run = await h.run(chain(10));
    const order = Object.keys(run.record.nodes);
    expect(order.indexOf('a')).toBeLessThan(order.indexOf('sum'));
    expect(order.indexOf('sum')).toBeLessThan(order.indexOf('total'));
    expect(run.output('sum', 'sum')).toBe(13);
    expect(run.output('total', 'sum')).toBe(23);
    expect(run.summary('total', 'sum')).toBe(23);
  });

  it('a partial run executes only what the target needs', async () => {
    h.engine.clearCache();
    const run = await h.run(chain(1), { targets: ['sum'] });
    expect(Object.keys(run.record.nodes).sort()).toEqual(['a', 'b', 'sum']);
    expect(run.record.targets).toEqual(['sum']);
    expect(run.didRun('text')).toBe(false);
  });

  it('reruns hit the cache; a param change re-runs that node and its dependents only', async () => {
    h.engine.clearCache();
    const first = await h.run(chain(5));
    expect(['a', 'b', 'sum', 'text', 'total'].every((id) => first.didRun(id))).toBe(true);
    const before = executions.get('Add') ?? 0;
    const again = await h.run(chain(5));
    expect(['a', 'b', 'sum', 'text', 'total'].every((id) => again.wasCached(id))).toBe(true);
    expect(executions.get('Add') ?? 0).toBe(before);
    expect(again.output('total', 'sum')).toBe(13);
    const changed = await h.run(chain(6));
    expect(changed.didRun('a') && changed.didRun('sum') && changed.didRun('total')).toBe(true);
    expect(changed.wasCached('b') && changed.wasCached('text')).toBe(true);
    expect(changed.output('total', 'sum')).toBe(15);
  });

  it('never caches a cacheable:false node, nor anything downstream of it', async () => {
    const g = wf({ c: { type: 'Clock' }, s: { type: 'Add', inputs: { a: ['c', 'value'] } } });
    const r1 = await h.run(g);
    const r2 = await h.run(g);
    expect(r2.didRun('c') && r2.didRun('s')).toBe(true);
    expect(r2.output('s', 'sum')).toBe((r1.output('s', 'sum') as number) + 1);
  });

  it('records declared seeds in env and summarises outputs by socket type', async () => {
    const run = await h.run(wf({ noise: { type: 'NoiseImages', params: { n: 3, seed: 11 } }, m: { type: 'Mean', inputs: { images: ['noise', 'images'] } } }));
    expect(run.record.env.seeds).toEqual({ 'noise.noise': 11 });
    expect(run.record.env.backend.backend).toBeTruthy();
    expect(run.summary('noise', 'images')).toMatchObject({ shape: [3, 8, 8, 3], prompts: ['noise 0', 'noise 1', 'noise 2'] });
    const scores = run.summary('m', 'scores') as { mean: number; values: number[]; n: number };
    expect(scores.values).toHaveLength(3);
    expect(scores.n).toBe(3);
    expect(scores.mean).toBeCloseTo(run.output('m', 'mean') as number, 6);
    expect(run.summary('m', 'table')).toMatchObject({ columns: ['image', 'mean'] });
    expect((run.summary('m', 'table') as { rows: unknown[] }).rows).toHaveLength(3);
  });
});

describe('errors and cancel', () => {
  it('a throwing node stops the run and is named in the error', async () => {
    const run = await h.run(wf({ n: { type: 'Number' }, f: { type: 'Fail', params: { message: 'kaput' }, inputs: { value: ['n', 'value'] } }, after: { type: 'Add', inputs: { a: ['f', 'value'] } } }));
    expect(run.status).toBe('error');
    expect(run.error).toMatchObject({ nodeId: 'f', kind: 'node_error' });
    expect(run.error!.message).toContain('f (Fail)');
    expect(run.error!.message).toContain('kaput');
    expect(run.record.nodes.after).toBeUndefined();
    const param = await h.run(wf({ f: { type: 'Fail', params: { mode: 'param', message: 'too big' } } }));
    expect(param.error).toMatchObject({ nodeId: 'f', kind: 'bad_param', param: 'message' });
    const sig = await h.run(wf({ f: { type: 'Fail', params: { mode: 'signature', message: 'no file to hash' } } }));
    expect(sig.error).toMatchObject({ nodeId: 'f', kind: 'node_error', message: expect.stringContaining('no file to hash') });
  });

  it('cancel mid-node stops at the next step and leaks no tensors', async () => {
    h.engine.clearCache();
    const tensors = tf.memory().numTensors;
    const controller = new AbortController();
    let steps = 0;
    const run = await h.run(wf({ noise: { type: 'NoiseImages', params: { steps: 1000, ms: 5, seed: 3 } }, m: { type: 'Mean', inputs: { images: ['noise', 'images'] } } }), {
      signal: controller.signal,
      listener: { nodeProgress: (_id, value) => { steps = value; if (value === 3) controller.abort(); } },
    });
    expect(run.status).toBe('cancelled');
    expect(run.record.nodes.noise.status).toBe('cancelled');
    expect(steps).toBeLessThan(10);
    expect(run.record.nodes.m).toBeUndefined();
    run.release();
    expect(tf.memory().numTensors).toBe(tensors);
  });
});

describe('tensor hygiene', () => {
  const tensorGraph = (seed: number) => wf({
    noise: { type: 'NoiseImages', params: { n: 2, seed } },
    pass: { type: 'Pass', inputs: { images: ['noise', 'images'] } },
    m: { type: 'Mean', inputs: { images: ['pass', 'images'] } },
  });

  it('tf.memory().numTensors is unchanged after 20 runs (cache cleared), and stable across cached reruns', async () => {
    h.close();
    h = await createHarness({ packs: [testpack] });
    const start = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) (await h.run(tensorGraph(i))).release();
    expect(h.engine.cache.size).toBeGreaterThan(0);
    h.engine.clearCache();
    expect(tf.memory().numTensors).toBe(start);
    (await h.run(tensorGraph(99))).release();
    const cached = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) (await h.run(tensorGraph(99))).release();
    expect(tf.memory().numTensors).toBe(cached);
  });

  it('an IMAGES summary lists the PNG artifacts its node wrote', async () => {
    const run = await h.run(tensorGraph(123));
    expect(run.summary('pass', 'images')).toMatchObject({ shape: [2, 8, 8, 3], artifacts: [{ name: 'grid.png', id: expect.stringMatching(/^[0-9a-f]{64}$/) }] });
    expect(run.summary('noise', 'images')).not.toHaveProperty('artifacts');
    run.release();
  });

  it('LRU eviction disposes evicted tensors, but not values still shared with a kept entry', async () => {
    h.close();
    h = await createHarness({ packs: [testpack], cache: { maxEntries: 3 } });
    const start = tf.memory().numTensors;
    const run = await h.run(tensorGraph(1));
    const images = run.output('noise', 'images') as { images: tf.Tensor };
    run.release();
    expect(images.images.isDisposed).toBe(false); // noise, pass (same object) and m are cached
    for (let seed = 2; seed < 6; seed++) (await h.run(tensorGraph(seed))).release();
    expect(images.images.isDisposed).toBe(true);
    expect(h.engine.cache.size).toBeLessThanOrEqual(3);
    h.engine.clearCache();
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('node packs', () => {
  it('reports a pack that throws on import and keeps the good ones', async () => {
    const registry = await loadRegistry({
      builtin: false,
      packDirs: [join(REPO_ROOT, 'test/fixtures/brokenpack'), join(REPO_ROOT, 'test/fixtures/testpack')],
    });
    expect(registry.packErrors).toEqual([expect.objectContaining({ pack: 'brokenpack', message: expect.stringContaining('deliberately broken') })]);
    expect(registry.types()).toContain('Slow');
  });

  it('describes params as JSON Schema with defaults, ranges, enums and descriptions', () => {
    const info = h.registry.describe();
    const num = info.find((n) => n.type === 'Number')!;
    expect(num.params).toMatchObject({ type: 'object', properties: { value: { type: 'number', default: 0, minimum: -1e9, maximum: 1e9, description: 'the number' } } });
    const fail = info.find((n) => n.type === 'Fail')!;
    expect(fail.params).toMatchObject({ properties: { mode: { enum: ['error', 'param', 'signature'], default: 'error' } } });
    expect(info.find((n) => n.type === 'Sum')!.inputs.values).toMatchObject({ type: 'NUMBER', multiple: true });
  });
});

describe('user packs in <data>/nodes', () => {
  it('loads <data>/nodes/<pack>/index.ts', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const data = mkdtempSync(join(tmpdir(), 'cadflow-userpack-'));
    try {
      mkdirSync(join(data, 'nodes', 'mine'), { recursive: true });
      writeFileSync(join(data, 'nodes', 'mine', 'index.ts'), `
        import { defineNode, defineNodePack, z } from ${JSON.stringify(join(REPO_ROOT, 'nodes/sdk/index.ts'))};
        const hello = defineNode({ type: 'Hello', typeVersion: 1, category: 'user', inputs: {}, outputs: { text: { type: 'STRING' } },
          params: z.object({}), async execute() { return { text: 'hi' }; } });
        export default defineNodePack({ name: 'mine', nodes: [hello] });
      `);
      const registry = await loadRegistry({ builtin: false, dataDir: data });
      expect(registry.packErrors).toEqual([]);
      expect(registry.types()).toEqual(['Hello']);
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });
});
