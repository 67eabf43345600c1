// What the editor reads from the server, parsed with the same zod schemas the editor uses (server/wire.ts):
// the models for the picker, shipped workflows beside saved ones (read-only), runs and run records.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ModelsResponseSchema, NodesResponseSchema, RunRecordSchema, RunsResponseSchema, WorkflowResponseSchema, WorkflowSavedSchema,
  WorkflowsResponseSchema,
} from '../../server/wire.ts';
import { MODELS_DIR } from '../../server/engine/registry.ts';
import { startTestServer, wf, type TestServer } from './helpers.ts';

let t: TestServer;
const shippedDir = mkdtempSync(join(tmpdir(), 'cadflow-shipped-'));
beforeAll(async () => {
  writeFileSync(join(shippedDir, 'one-number.json'), JSON.stringify(wf({ a: { type: 'Number', params: { value: 7 } } }, 'one-number')));
  t = await startTestServer({ workflowsDir: shippedDir });
  // a model the user dropped into <data>/models, and a half-copied folder the list must skip
  cpSync(join(MODELS_DIR, 'shapes-micro'), join(t.dataDir, 'models', 'my-micro'), { recursive: true });
  mkdirSync(join(t.dataDir, 'models', 'half'), { recursive: true });
  writeFileSync(join(t.dataDir, 'models', 'half', 'config.json'), '{}');
});
afterAll(async () => {
  await t.close();
  rmSync(shippedDir, { recursive: true, force: true });
});

describe('editor API', () => {
  it('GET /api/models lists bundled models and those under <data>/models with a config summary', async () => {
    const res = await t.api('/api/models');
    expect(res.status).toBe(200);
    const { models, dataDir } = ModelsResponseSchema.parse(res.body);
    expect(dataDir).toBe(join(t.dataDir, 'models'));
    const micro = models.find((m) => m.value === 'shapes-micro');
    expect(micro).toMatchObject({ source: 'bundled', kind: 'diffusion', summary: { image_size: 32, block_out_channels: [16, 24, 32] } });
    expect(micro!.bytes).toBeGreaterThan(1000);
    expect(models.find((m) => m.name === 'shapes-judge')).toMatchObject({ kind: 'shapes-judge', source: 'bundled' });
    expect(models.find((m) => m.name === 'my-micro')).toMatchObject({ source: 'data', value: join(t.dataDir, 'models', 'my-micro'), kind: 'diffusion' });
    expect(models.some((m) => m.name === 'half')).toBe(false);
  });

  it('lists shipped workflows beside saved ones; a shipped one opens read-only and cannot be overwritten or deleted', async () => {
    expect(WorkflowSavedSchema.parse((await t.api('/api/workflows/mine', { method: 'PUT', json: wf({ b: { type: 'Number' } }, 'mine') })).body).rev).toBe(1);
    const list = WorkflowsResponseSchema.parse((await t.api('/api/workflows')).body).workflows;
    expect(list.map((w) => [w.name, w.shipped])).toEqual([['one-number', true], ['mine', false]]);
    const shipped = WorkflowResponseSchema.parse((await t.api('/api/workflows/one-number')).body);
    expect(shipped).toMatchObject({ name: 'one-number', shipped: true, rev: 1, workflow: { nodes: { a: { params: { value: 7 } } } } });
    const put = await t.api('/api/workflows/one-number', { method: 'PUT', json: wf({}, 'one-number') });
    expect(put.status).toBe(409);
    expect(put.body.error).toContain('read-only');
    expect((await t.api('/api/workflows/one-number', { method: 'DELETE' })).status).toBe(409);
    // "save as" copies it under a new name, which is a saved workflow with revisions
    expect((await t.api('/api/workflows/one-number-copy', { method: 'PUT', json: shipped.workflow })).status).toBe(200);
    expect(WorkflowResponseSchema.parse((await t.api('/api/workflows/one-number-copy')).body)).toMatchObject({ shipped: false, revisions: 1 });
    expect(WorkflowResponseSchema.parse((await t.api('/api/workflows/mine')).body).shipped).toBe(false);
  });

  it('runs, run records and node types parse with the wire schemas', async () => {
    const sub = await t.api('/api/runs', { method: 'POST', json: { workflow: wf({ a: { type: 'Number', params: { value: 2 } } }, 'parsed') } });
    expect(sub.status).toBe(202);
    await t.server.manager.idle();
    const runs = RunsResponseSchema.parse((await t.api('/api/runs')).body);
    expect(runs.runs[0]).toMatchObject({ runId: sub.body.runId, status: 'done', name: 'parsed' });
    const rec = RunRecordSchema.parse((await t.api(`/api/runs/${sub.body.runId}`)).body);
    expect(rec.nodes.a).toMatchObject({ status: 'done', outputs: { value: 2 } });
    expect(NodesResponseSchema.parse((await t.api('/api/nodes')).body).nodes.length).toBe(t.server.registry.types().length);
  });

  it('with a token, the editor page loads without it (to ask for it) while the API refuses', async () => {
    const guarded = await startTestServer({ token: 'sesame' });
    try {
      const page = await fetch(`${guarded.url}/`, { redirect: 'manual' });
      // with a build: the editor's page; without one (a fresh clone before prestart): a redirect to /status
      expect([200, 302]).toContain(page.status);
      if (page.status === 200) expect(await page.text()).toContain('<div id="app">');
      expect((await fetch(`${guarded.url}/api/nodes`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/status`)).status).toBe(401);
      expect((await fetch(`${guarded.url}/api/nodes?token=sesame`)).status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});
