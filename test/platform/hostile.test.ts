// 1,000 malformed or hostile requests: every one gets a 4xx, and the server stays healthy afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, wf, type TestServer } from './helpers.ts';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

interface Req { method: string; path: string; body?: string; type?: string }

/** Deterministic pseudo-random generator, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function hostileRequests(n: number): Req[] {
  const r = rng(1234);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const json = (v: unknown) => JSON.stringify(v);
  const deep = (d: number) => '['.repeat(d) + ']'.repeat(d);
  const deepObj = (d: number) => '{"a":'.repeat(d) + '1' + '}'.repeat(d);
  const garbage = () => Array.from({ length: 1 + Math.floor(r() * 40) }, () => String.fromCharCode(32 + Math.floor(r() * 95))).join('');
  const makers: (() => Req)[] = [
    () => ({ method: 'POST', path: '/api/runs', body: `{"workflow": ${garbage()}` }),
    () => ({ method: 'POST', path: '/api/runs', body: garbage() }),
    () => ({ method: 'POST', path: '/api/runs', body: deep(100 + Math.floor(r() * 5000)) }),
    () => ({ method: 'POST', path: '/api/runs', body: `{"workflow":${deepObj(200 + Math.floor(r() * 2000))}}` }),
    () => ({ method: 'PUT', path: '/api/workflows/deep', body: deepObj(100 + Math.floor(r() * 100)) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: pick([5, null, [], 'wf', true, {}]) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number' } }), targets: pick(['a', 5, [1], { x: 1 }]) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number' } }), front: pick(['yes', 1, null]) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: { format: 'cadflow.workflow', version: 1, nodes: pick(['x', 3, [1, 2], { a: 5 }, { a: { type: 7 } }]) } }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number', params: { value: pick(['1', 'NaN', 1e300, [], {}, null, -1e12]) } } }) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Add', inputs: { a: pick([['a', 'sum'], ['../x', 'y'], [1, 2], 'a.sum']) } } }) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: '{"workflow":{"format":"cadflow.workflow","version":1,"nodes":{"__proto__":{"type":"Number"}}}}' }),
    () => ({ method: 'POST', path: '/api/runs', body: '{"__proto__":{"polluted":true},"workflow":1}' }),
    // names of Object.prototype members as targets, link sources and outputs (issue 28: these were 500s)
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number' } }), targets: [pick(['__proto__', 'constructor', 'hasOwnProperty', 'toString'])] }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number' }, s: { type: 'Add', inputs: { a: [pick(['constructor', '__proto__', 'toString', 'a']), pick(['constructor', 'valueOf'])] } } }) }) }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: wf({ a: { type: 'Number' } }) }), type: pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) }),
    () => ({ method: 'GET', path: `/api/artifacts/${pick(['..%2F..%2Fcadflow.db', '../../etc/passwd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', 'a'.repeat(64), '..', `${'0'.repeat(63)}/`, '%00'])}` }),
    () => ({ method: 'GET', path: `/api/workflows/${pick(['..%2F..%2Fcadflow.db', '.hidden', '%2e%2e', 'a%2Fb', '-x', 'x'.repeat(300), '%E0%A4%A'])}` }),
    () => ({ method: 'PUT', path: `/api/workflows/${pick(['..%2Fescape', '.env', '%00nul'])}`, body: json(wf({})) }),
    () => ({ method: 'GET', path: `/api/runs/${pick(['..%2F..%2Fetc', 'x'.repeat(200), '%E0%A4%A', 'no-such-run', "1'%20OR%201=1"])}` }),
    () => ({ method: 'POST', path: `/api/runs/${pick(['..%2Fx', 'nope', "'; DROP TABLE runs; --"])}/cancel` }),
    () => ({ method: pick(['DELETE', 'PATCH', 'PUT']), path: '/api/runs' }),
    () => ({ method: 'GET', path: `/api/${pick(['nothing', 'runs/x/y/z', '../../etc/passwd', 'nodes/..%2F..'])}` }),
    () => ({ method: 'PUT', path: '/api/workflows/ok', body: json(pick([[], 'str', { format: 'cadflow.workflow', version: 99, nodes: {} }, { nodes: 5 }])) }),
  ];
  // bodies over the 2 MB limit: one request in 25 (they cost the most to send)
  const hugeText = 'x'.repeat(2.2 * 1024 * 1024);
  const huge: (() => Req)[] = [
    () => ({ method: 'POST', path: '/api/runs', body: hugeText }),
    () => ({ method: 'POST', path: '/api/runs', body: json({ workflow: hugeText }) }),
    () => ({ method: 'PUT', path: '/api/workflows/big', body: json({ format: 'cadflow.workflow', version: 1, nodes: {}, meta: { blob: hugeText } }) }),
  ];
  return Array.from({ length: n }, (_, i) => (i % 25 === 0 ? huge[(i / 25) % huge.length] : makers[i % makers.length])());
}

describe('hostile requests', () => {
  it('answers 1,000 malformed requests with 4xx and stays healthy', async () => {
    const requests = hostileRequests(1000);
    const statuses: { req: Req; status: number; error?: string }[] = [];
    for (let i = 0; i < requests.length; i += 25) {
      const batch = requests.slice(i, i + 25);
      statuses.push(...await Promise.all(batch.map(async (req) => {
        try {
          const res = await fetch(`${t.url}${req.path}`, {
            method: req.method, body: req.body, headers: req.body ? { 'content-type': req.type ?? 'application/json' } : {},
          });
          await res.arrayBuffer();
          return { req, status: res.status };
        } catch (err) {
          return { req, status: -1, error: String((err as Error).cause ?? err) };
        }
      })));
    }
    const bad = statuses.filter((s) => s.status < 400 || s.status >= 500);
    expect(bad.map((b) => `${b.status} ${b.error ?? ''} ${b.req.method} ${b.req.path} ${b.req.body?.slice(0, 80)}`)).toEqual([]);
    expect(statuses).toHaveLength(1000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // still healthy: it answers and runs a real workflow
    expect((await t.api('/api/health')).body.ok).toBe(true);
    const run = await t.api('/api/runs', { method: 'POST', json: { workflow: wf({ a: { type: 'Number', params: { value: 9 } } }) } });
    expect(run.status).toBe(202);
    await t.server.manager.idle();
    expect((await t.api(`/api/runs/${run.body.runId}`)).body).toMatchObject({ status: 'done', nodes: { a: { outputs: { value: 9 } } } });
    expect((await t.api('/api/runs')).body.runs).toHaveLength(1);
  }, 400_000); // ~10 s on an idle machine; minutes when the 2 cores are shared with training runs
});
