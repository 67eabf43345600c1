// Issue 28, the server side: what a hostile probe found. Names from the prototype chain, an empty token, an
// unbounded error list, and LoadModel paths from requests outside the model roots. CLI cases: cli.test.ts.
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODELS_DIR } from '../../server/engine/registry.ts';
import { Client, startTestServer, wf, type TestServer } from './helpers.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

type Err = { nodeId: string | null; kind: string; param?: string; message: string };
const post = (body: unknown) => t.api('/api/runs', { method: 'POST', json: body });
/** A raw JSON text, so "__proto__" arrives as an own key the way a hostile client sends it. */
const postRaw = (text: string) => t.api('/api/runs', { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
const kinds = (errors: Err[]) => errors.map((e) => `${e.nodeId}:${e.kind}`);

describe('names from the prototype chain (defect 1)', () => {
  it('answers 400 naming the error, never 500, for targets, links and v0 links that name Object.prototype members', async () => {
    const nodes = { a: { type: 'Number', params: { value: 1 } } };
    for (const target of ['__proto__', 'constructor', 'hasOwnProperty', 'toString']) {
      const res = await post({ workflow: wf(nodes), targets: [target] });
      expect(res.status, `target ${target}`).toBe(400);
      expect(kinds(res.body.errors)).toEqual([`${target}:unknown_target`]);
    }
    const link = (inputs: Record<string, unknown>) => post({ workflow: wf({ ...nodes, s: { type: 'Add', inputs } }) });
    expect((await link({ a: ['constructor', 'value'] })).body.errors).toEqual([expect.objectContaining({ nodeId: 's', kind: 'dangling_link' })]);
    expect((await link({ a: ['a', 'constructor'] })).body.errors).toEqual([expect.objectContaining({ nodeId: 's', kind: 'unknown_output' })]);
    expect(kinds((await link({ a: ['a', 'value'], toString: ['a', 'value'] })).body.errors)).toEqual(['s:unknown_input']);

    // a v0 file (nodes as a list, links apart) whose links point at "toString": saved without them, not a 500
    const v0 = { name: 'v0', nodes: [{ id: 'a', type: 'Number' }], links: [{ from: ['a', 'value'], to: ['toString', 'a'] }, { from: ['a', 'value'], to: ['a', 'hasOwnProperty'] }] };
    const put = await t.api('/api/workflows/r', { method: 'PUT', json: v0 });
    expect(put.status).toBe(200);
    expect(Object.keys((await t.api('/api/workflows/r')).body.workflow.nodes)).toEqual(['a']);
    expect(({} as Record<string, unknown>).params).toBeUndefined();
    expect((await post({ workflow: wf(nodes) })).status).toBe(202);
  });

  it('refuses __proto__, constructor and prototype as node ids and param names with bad_workflow', async () => {
    const body = (nodes: string) => `{"workflow":{"format":"cadflow.workflow","version":1,"nodes":${nodes}}}`;
    for (const id of ['__proto__', 'constructor', 'prototype']) {
      const res = await postRaw(body(`{"a":{"type":"Number"},"${id}":{"type":"Number"}}`));
      expect(res.status, `node id ${id}`).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ nodeId: id, kind: 'bad_workflow', message: expect.stringMatching(/reserved/) })]);
      const param = await postRaw(body(`{"a":{"type":"Number","params":{"${id}":{"value":5}}}}`));
      expect(param.status, `param ${id}`).toBe(400);
      expect(param.body.errors).toEqual([{ nodeId: 'a', kind: 'bad_workflow', message: `nodes.a.params.${id}: ${id} is reserved and cannot be a parameter name` }]);
    }
    const v0 = await t.api('/api/workflows/r0', { method: 'PUT', body: '{"nodes":[{"id":"__proto__","type":"Number"}]}', headers: { 'content-type': 'application/json' } });
    expect(v0.status).toBe(400);
    expect(kinds(v0.body.errors)).toEqual(['__proto__:bad_workflow']);
  });
});

describe('an empty access token (defect 2)', () => {
  it('is refused at start on any host: REST and sockets are never served without one', async () => {
    for (const host of ['0.0.0.0', '127.0.0.1']) {
      for (const token of ['', '  ']) {
        const outcome = await startTestServer({ host, token }).then(async (open) => {
          // what an empty token used to mean, recorded so a failure says what was open
          const rest = (await fetch(`http://127.0.0.1:${open.server.port}/api/runs`)).status;
          const socket = await Client.connect(`http://127.0.0.1:${open.server.port}`).then((c) => { c.close(); return 'connected'; }, () => 'refused');
          await open.close();
          return `started: REST ${rest}, socket ${socket}`;
        }, (err: Error) => err.message);
        expect(outcome, `host ${host}, token ${JSON.stringify(token)}`).toMatch(/access token .* is empty/);
      }
    }
  });
});

describe('the validation error list (defect 5)', () => {
  it('lists at most 100 errors and says how many were left out, for graph and file errors alike', async () => {
    const params = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`p${i}`, i]));
    const res = await post({ workflow: wf({ a: { type: 'Number', params } }) });
    expect(res.status).toBe(400);
    expect(res.body.errors).toHaveLength(101);
    expect(res.body.errors[99]).toMatchObject({ nodeId: 'a', kind: 'bad_param', param: 'p99' });
    expect(res.body.errors[100]).toEqual({ nodeId: null, kind: 'too_many_errors', message: '4900 more error(s) left out: only the first 100 are listed' });
    expect(JSON.stringify(res.body).length).toBeLessThan(20_000);

    const nodes = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`n${i}`, { type: 7 }]));
    const file = await post({ workflow: { format: 'cadflow.workflow', version: 1, nodes } });
    expect(file.body.errors).toHaveLength(101);
    expect(file.body.errors[100]).toEqual({ nodeId: null, kind: 'too_many_errors', message: '200 more error(s) left out: only the first 100 are listed' });
  });
});

describe('LoadModel paths from requests', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cadflow-roots-'));
  const data = join(tmp, 'data');
  const extra = join(tmp, 'extra');
  const outside = join(tmp, 'outside');
  let s: TestServer;
  beforeAll(async () => {
    for (const dir of [join(data, 'models', 'mine'), join(extra, 'theirs'), join(outside, 'micro')]) {
      mkdirSync(dir, { recursive: true });
      cpSync(join(MODELS_DIR, 'shapes-micro'), dir, { recursive: true });
    }
    s = await startTestServer({ dataDir: data, builtinPacks: true, packDirs: [], modelDirs: [extra] });
  });
  afterAll(async () => {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function load(model: string): Promise<{ status: string; error?: Err }> {
    const res = await s.api('/api/runs', { method: 'POST', json: { workflow: wf({ load: { type: 'LoadModel', params: { model } } }) } });
    expect(res.status).toBe(202);
    await s.server.manager.idle();
    return (await s.api(`/api/runs/${res.body.runId}`)).body;
  }

  it('refuses folders outside the model roots with one answer, whether they exist, hold a model or not', async () => {
    const probes = ['/etc', '../../etc', '/no/such/folder', join(outside, 'micro'), relative(process.cwd(), join(outside, 'micro')), join(MODELS_DIR, '..', 'test')];
    for (const model of probes) {
      const run = await load(model);
      expect(run.status, model).toBe('error');
      expect(run.error).toMatchObject({ nodeId: 'load', kind: 'bad_param', param: 'model' });
      expect(run.error!.message.replace(JSON.stringify(model), '<path>')).toBe(
        'load (LoadModel) param model: <path> is outside the model folders this server may read (the bundled models, <data>/models and any serve --models folder)',
      );
    }
  });

  it('loads bundled names and folders under models/, <data>/models and modelDirs', async () => {
    for (const model of ['shapes-micro', join(MODELS_DIR, 'shapes-micro'), join(data, 'models', 'mine'), join(extra, 'theirs')]) {
      expect((await load(model)).status, model).toBe('done');
    }
    const missing = await load(join(data, 'models', 'nothing-here'));
    expect(missing.error?.message).toMatch(/does not exist/);
  });

  it('holds for the judge and the shapes-CLIP folders too', async () => {
    const images = {
      load: { type: 'LoadModel', params: { model: 'shapes-micro' } },
      p: { type: 'Prompts', params: { prompts: ['a red circle'] } },
      s: { type: 'Sample', params: { steps: 1, previewEvery: 0 }, inputs: { model: ['load', 'model'], prompts: ['p', 'prompts'] } },
    };
    for (const [type, param] of [['Classify', 'judge'], ['ClipScore', 'clip']] as const) {
      const node = { type, params: { [param]: '/etc' }, inputs: { images: ['s', 'images'] } };
      const res = await s.api('/api/runs', { method: 'POST', json: { workflow: wf({ ...images, n: node }) } });
      expect(res.status).toBe(202);
      await s.server.manager.idle();
      const run = (await s.api(`/api/runs/${res.body.runId}`)).body as { status: string; error?: Err };
      expect(run.error, type).toMatchObject({ nodeId: 'n', kind: 'bad_param', param });
      expect(run.error!.message).toContain('outside the model folders');
    }
  });
});
