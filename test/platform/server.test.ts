// The server end to end: real HTTP on an ephemeral port, real socket.io clients, a real SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ServerEvents, StateSchema } from '../../server/events.ts';
import { WorkflowsResponseSchema } from '../../server/wire.ts';
import { BROKENPACK, Client, startTestServer, TESTPACK, wf, type TestServer } from './helpers.ts';

const slow = (steps: number, ms: number, tag = '') => wf({ n: { type: 'Number', params: { value: 1 } }, slow: { type: 'Slow', params: { steps, ms, tag }, inputs: { value: ['n', 'value'] } } });

let t: TestServer;
let client: Client;
beforeAll(async () => {
  t = await startTestServer({ packDirs: [TESTPACK, BROKENPACK] });
  client = await Client.connect(t.url);
});
afterAll(async () => {
  client.close();
  await t.close();
});

async function submit(workflow: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.api('/api/runs', { method: 'POST', json: { workflow, ...extra } });
  expect(res.status).toBe(202);
  return res.body.runId;
}

describe('REST', () => {
  it('GET /api/nodes lists node types with JSON-Schema params and reports broken packs', async () => {
    const res = await t.api('/api/nodes');
    expect(res.status).toBe(200);
    const types = res.body.nodes.map((n: { type: string }) => n.type);
    expect(types).toEqual(expect.arrayContaining(['Number', 'Add', 'Slow', 'Fail', 'NoiseImages']));
    expect(res.body.nodes.find((n: { type: string }) => n.type === 'Slow').params.properties.steps).toMatchObject({ type: 'integer', default: 5 });
    expect(res.body.packErrors).toEqual([expect.objectContaining({ pack: 'brokenpack' })]);
  });

  it('POST /api/runs returns 400 with every validation error', async () => {
    const res = await t.api('/api/runs', { method: 'POST', json: { workflow: wf({ a: { type: 'Add' }, b: { type: 'Nope' } }) } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { kind: string }) => e.kind).sort()).toEqual(['missing_input', 'unknown_type']);
  });

  it('runs a workflow: events in order, history with per-node records and the env', async () => {
    const runId = await submit(wf({ a: { type: 'Number', params: { value: 2 } }, s: { type: 'Add', params: { offset: 1 }, inputs: { a: ['a', 'value'] } } }, 'adder'));
    await client.waitFor('run:done', (p) => p.runId === runId);
    const seq = client.of(runId).map((e) => `${e.event}${e.payload.nodeId ? `:${e.payload.nodeId}` : ''}`);
    expect(seq).toEqual(['run:queued', 'run:start', 'node:start:a', 'node:output:a', 'node:start:s', 'node:output:s', 'run:done']);
    for (const e of client.of(runId)) expect(ServerEvents[e.event as keyof typeof ServerEvents].safeParse(e.payload).success).toBe(true);
    expect(client.of(runId).find((e) => e.event === 'node:output' && e.payload.nodeId === 's')!.payload.summary).toEqual({ sum: 3 });
    const run = await t.api(`/api/runs/${runId}`);
    expect(run.body).toMatchObject({ runId, status: 'done', name: 'adder', nodes: { a: { status: 'done', cached: false, outputs: { value: 2 } }, s: { outputs: { sum: 3 } } } });
    expect(run.body.env.backend.backend).toBeTruthy();
    expect(run.body.workflow.nodes.s.type).toBe('Add');
    const list = await t.api('/api/runs');
    expect(list.body.runs.some((r: { runId: string }) => r.runId === runId)).toBe(true);
    expect(existsSync(join(t.dataDir, 'cadflow.db'))).toBe(true);
    // the same graph again: served from the cache
    const again = await submit(wf({ a: { type: 'Number', params: { value: 2 } }, s: { type: 'Add', params: { offset: 1 }, inputs: { a: ['a', 'value'] } } }));
    await client.waitFor('run:done', (p) => p.runId === again);
    expect(client.of(again).filter((e) => e.event === 'node:cached').map((e) => e.payload.nodeId)).toEqual(['a', 's']);
    expect((await t.api(`/api/runs/${again}`)).body.nodes.s).toMatchObject({ cached: true, outputs: { sum: 3 } });
  });

  it('a throwing node ends the run with run:error naming the node', async () => {
    const runId = await submit(wf({ f: { type: 'Fail', params: { message: 'exploded' } } }));
    const err = await client.waitFor('run:error', (p) => p.runId === runId);
    expect(err).toMatchObject({ nodeId: 'f', kind: 'node_error' });
    expect(err.message).toContain('exploded');
    expect((await t.api(`/api/runs/${runId}`)).body).toMatchObject({ status: 'error', error: { nodeId: 'f' }, nodes: { f: { status: 'error' } } });
  });

  it('serves artifacts by content id, and refuses bad ids', async () => {
    const runId = await submit(wf({ noise: { type: 'NoiseImages', params: { seed: 5 } }, p: { type: 'Pass', inputs: { images: ['noise', 'images'] } } }));
    const out = await client.waitFor('node:output', (p) => p.runId === runId && p.nodeId === 'p');
    const ref = out.artifacts[0];
    expect(ref).toMatchObject({ name: 'note.txt', mime: 'text/plain', bytes: 6 });
    const res = await fetch(`${t.url}/api/artifacts/${ref.id}`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(await res.text()).toBe('passed');
    expect((await t.api('/api/artifacts/..%2F..%2Fcadflow.db')).status).toBe(400);
    expect((await t.api(`/api/artifacts/${'0'.repeat(64)}`)).status).toBe(404);
  });

  it('keeps workflow revisions: PUT adds one, GET returns latest or ?rev, DELETE hides it', async () => {
    const w1 = wf({ a: { type: 'Number', params: { value: 1 } } }, 'saved');
    const w2 = wf({ a: { type: 'Number', params: { value: 2 } } }, 'saved');
    expect((await t.api('/api/workflows/saved', { method: 'PUT', json: w1 })).body).toEqual({ name: 'saved', rev: 1 });
    expect((await t.api('/api/workflows/saved', { method: 'PUT', json: w2 })).body).toEqual({ name: 'saved', rev: 2 });
    expect((await t.api('/api/workflows/saved')).body).toMatchObject({ rev: 2, revisions: 2, workflow: { nodes: { a: { params: { value: 2 } } } } });
    expect((await t.api('/api/workflows/saved?rev=1')).body.workflow.nodes.a.params.value).toBe(1);
    const saved = WorkflowsResponseSchema.parse((await t.api('/api/workflows')).body).workflows.filter((w) => !w.shipped);
    expect(saved).toEqual([expect.objectContaining({ name: 'saved', rev: 2 })]);
    expect((await t.api('/api/workflows/saved', { method: 'PUT', json: { format: 'x' } })).status).toBe(400);
    expect((await t.api('/api/workflows/saved', { method: 'DELETE' })).status).toBe(200);
    expect((await t.api('/api/workflows/saved')).status).toBe(404);
    expect((await t.api('/api/workflows/saved?rev=2')).status).toBe(200);
    expect((await t.api('/api/workflows/.hidden', { method: 'PUT', json: w1 })).status).toBe(400);
  });

  it('the status page shows the backend, node types, pack errors and runs', async () => {
    const res = await t.api('/status');
    expect(res.status).toBe(200);
    expect(res.body).toContain('Backend: <b>');
    expect(res.body).toContain('NoiseImages');
    expect(res.body).toContain('brokenpack');
    expect(res.body).toContain('Recent runs');
  });
});

describe('live streaming', () => {
  it('previews arrive in order with their tags as binary PNGs', async () => {
    const runId = await submit(slow(8, 5, 'previews'));
    await client.waitFor('run:done', (p) => p.runId === runId);
    const previews = client.of(runId).filter((e) => e.event === 'node:preview').map((e) => e.payload);
    expect(previews.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(previews.map((p) => p.label)).toEqual(previews.map((p) => `step ${p.step}`));
    for (const p of previews) {
      expect(p).toMatchObject({ nodeId: 'slow', mime: 'image/png' });
      expect(Buffer.isBuffer(p.bytes)).toBe(true);
      expect([...p.bytes.subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    }
    const progress = client.of(runId).filter((e) => e.event === 'node:progress').map((e) => e.payload.value);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('a second client joining mid-run gets the current state, then the rest of the events', async () => {
    const runId = await submit(slow(30, 40, 'late'));
    await client.waitFor('node:progress', (p) => p.runId === runId && p.value >= 3);
    const late = await Client.connect(t.url);
    try {
      const state = await late.waitFor('state');
      expect(StateSchema.safeParse(state).success).toBe(true);
      expect(state.current.runId).toBe(runId);
      expect(['done', 'cached']).toContain(state.current.nodes.n.status);
      expect(state.current.nodes.slow.status).toBe('running');
      expect(state.current.nodes.slow.progress.value).toBeGreaterThanOrEqual(3);
      expect(state.current.previews.slow.step).toBeGreaterThanOrEqual(3);
      expect(Buffer.isBuffer(state.current.previews.slow.bytes)).toBe(true);
      await late.waitFor('run:done', (p) => p.runId === runId);
      const steps = late.of(runId).filter((e) => e.event === 'node:progress').map((e) => e.payload.value);
      expect(steps.at(-1)).toBe(30);
      expect(steps).toEqual([...steps].sort((a, b) => a - b));
    } finally {
      late.close();
    }
  });

  it('a client that disconnects mid-run loses nothing: the run finishes and its record is complete', async () => {
    const leaving = await Client.connect(t.url);
    const res = await t.api('/api/runs', { method: 'POST', json: { workflow: slow(20, 30, 'leaver') } });
    const runId = res.body.runId;
    await leaving.waitFor('node:progress', (p) => p.runId === runId && p.value >= 2);
    leaving.close();
    await client.waitFor('run:done', (p) => p.runId === runId);
    const record = await t.api(`/api/runs/${runId}`);
    expect(record.body).toMatchObject({ status: 'done', nodes: { slow: { status: 'done' } } });
    expect((await t.api('/api/health')).status).toBe(200);
  });
});

describe('queue', () => {
  it('cancels the running run mid-node and a queued run before it starts; front-insert jumps the queue', async () => {
    await t.server.manager.idle();
    const first = await submit(slow(200, 20, 'q1'));
    const second = await submit(slow(2, 1, 'q2'));
    const third = await submit(slow(2, 1, 'q3'));
    const front = await submit(slow(2, 1, 'q4'), { front: true });
    expect((await t.api('/api/runs')).body.queue.slice(0, 3)).toEqual([front, second, third]);
    await client.waitFor('node:progress', (p) => p.runId === first && p.value >= 2);
    expect((await t.api(`/api/runs/${third}/cancel`, { method: 'POST' })).body).toEqual({ runId: third, status: 'cancelled' });
    expect((await t.api(`/api/runs/${first}/cancel`, { method: 'POST' })).body).toEqual({ runId: first, status: 'cancelling' });
    await client.waitFor('run:cancelled', (p) => p.runId === first);
    await client.waitFor('run:done', (p) => p.runId === second);
    const firstRun = (await t.api(`/api/runs/${first}`)).body;
    expect(firstRun.status).toBe('cancelled');
    expect(firstRun.nodes.slow.status).toBe('cancelled');
    const steps = client.of(first).filter((e) => e.event === 'node:progress').length;
    expect(steps).toBeLessThan(200);
    expect((await t.api(`/api/runs/${third}`)).body.status).toBe('cancelled');
    expect(client.of(third).some((e) => e.event === 'run:start')).toBe(false);
    const starts = client.events.filter((e) => e.event === 'run:start').map((e) => e.payload.runId);
    expect(starts.indexOf(front)).toBeLessThan(starts.indexOf(second));
    expect((await t.api(`/api/runs/${third}/cancel`, { method: 'POST' })).status).toBe(409);
    expect((await t.api(`/api/runs/no-such-run/cancel`, { method: 'POST' })).status).toBe(404);
  });
});

describe('warm-up', () => {
  it('runs the warm-up workflow before serving, outside the history, and later runs reuse its cached outputs', async () => {
    const logs: string[] = [];
    const warm = await startTestServer({ warmup: wf({ n: { type: 'Number', params: { value: 41 } } }), log: (l) => logs.push(l) });
    const c = await Client.connect(warm.url);
    try {
      expect(logs.some((l) => l.startsWith('cadflow: preloaded'))).toBe(true);
      expect((await warm.api('/api/runs')).body.runs).toHaveLength(0);
      const res = await warm.api('/api/runs', { method: 'POST', json: { workflow: wf({ other: { type: 'Number', params: { value: 41 } } }) } });
      await c.waitFor('run:done', (p) => p.runId === res.body.runId);
      expect(c.of(res.body.runId).some((e) => e.event === 'node:cached' && e.payload.nodeId === 'other')).toBe(true);
    } finally {
      c.close();
      await warm.close();
    }
  });

  it('a failing warm-up is reported and the server still serves', async () => {
    const logs: string[] = [];
    const warm = await startTestServer({ warmup: wf({ f: { type: 'Fail', params: { message: 'no model here' } } }), log: (l) => logs.push(l) });
    try {
      expect(logs.find((l) => l.startsWith('cadflow: preload failed'))).toMatch(/no model here/);
      expect((await warm.api('/api/health')).status).toBe(200);
    } finally {
      await warm.close();
    }
  });
});

describe('access token', () => {
  it('with a token, REST and sockets without it are refused', async () => {
    const guarded = await startTestServer({ token: 'sesame-0123456789' });
    try {
      expect((await fetch(`${guarded.url}/api/nodes`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/status`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/api/nodes`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await guarded.api('/api/nodes')).status).toBe(200);
      expect((await fetch(`${guarded.url}/?token=sesame-0123456789`)).status).toBe(200);
      await expect(Client.connect(guarded.url)).rejects.toThrow(/token/);
      const ok = await Client.connect(guarded.url, 'sesame-0123456789');
      expect(await ok.waitFor('state')).toMatchObject({ queue: [] });
      ok.close();
    } finally {
      await guarded.close();
    }
  });

  it('a non-loopback host gets a generated token', async () => {
    const open = await startTestServer({ host: '0.0.0.0' });
    try {
      expect(open.server.token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
      expect((await fetch(`http://127.0.0.1:${open.server.port}/api/health`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${open.server.port}/api/health`, { headers: { authorization: `Bearer ${open.server.token}` } })).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe('loopback guard', () => {
  it('refuses requests for another host name (DNS rebinding) and sockets from foreign pages', async () => {
    const { request } = await import('node:http');
    const status = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: t.server.port, path: '/api/health', headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(await status({ host: 'evil.example:80' })).toBe(403);
    expect(await status({ host: `localhost:${t.server.port}` })).toBe(200);
    const { io } = await import('socket.io-client');
    const foreign = io(t.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { origin: 'http://evil.example' } });
    await expect(new Promise((resolve, reject) => {
      foreign.once('connect', () => resolve('connected'));
      foreign.once('connect_error', reject);
    })).rejects.toBeDefined();
    foreign.close();
    const own = io(t.url, { transports: ['websocket'], forceNew: true, reconnection: false, extraHeaders: { origin: t.url } });
    await expect(new Promise((resolve, reject) => {
      own.once('connect', () => resolve('connected'));
      own.once('connect_error', reject);
    })).resolves.toBe('connected');
    own.close();
  });
});
