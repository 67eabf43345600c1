// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useExecutionStore } from './execution.ts';
import { useGraphStore } from './graph.ts';
import { duration, formatDuration, useHistoryStore } from './history.ts';
import { useRegistryStore } from './registry.ts';
import { useWorkflowsStore } from './workflows.ts';

const registryAnswer = {
  nodes: [{
    type: 'Number', typeVersion: 1, category: 'test', displayName: 'Number', pack: 'test', cacheable: true, inputs: {},
    outputs: { value: { type: 'NUMBER' } }, params: { type: 'object', properties: { value: { type: 'number' } } },
  }],
  packs: [], packErrors: [],
};
const row = { runId: 'r1', status: 'done', name: 'shipped-one', createdAt: '2026-01-01T00:00:00.000Z', startedAt: '2026-01-01T00:00:01.000Z', finishedAt: '2026-01-01T00:00:03.500Z', error: null };
const record = {
  ...row, targets: null, env: null,
  workflow: { format: 'cadflow.workflow', version: 1, name: 'shipped-one', meta: {}, nodes: { a: { type: 'Number', params: { value: 4 } } } },
  nodes: { a: { status: 'done', ms: 3, cached: false, outputs: { value: 4 } } },
};

describe('history store', () => {
  beforeEach(() => {
    setActivePinia(createPinia());
    useRegistryStore().setFrom(registryAnswer);
    vi.stubGlobal('fetch', vi.fn(async (url: string) => {
      if (url.startsWith('/api/runs?')) return new Response(JSON.stringify({ runs: [row], queue: [], running: null }));
      if (url === '/api/runs/r1') return new Response(JSON.stringify(record));
      if (url === '/api/workflows') return new Response(JSON.stringify({ workflows: [{ name: 'shipped-one', rev: 1, updatedAt: 't', shipped: true }] }));
      return new Response(JSON.stringify({ error: 'no' }), { status: 404 });
    }));
  });
  afterEach(() => vi.unstubAllGlobals());

  it('lists past runs with their durations', async () => {
    const h = useHistoryStore();
    await h.refresh();
    expect(h.runs).toHaveLength(1);
    expect(duration(h.runs[0])).toBe(2500);
    expect(formatDuration(duration(h.runs[0]))).toBe('2.5 s');
    expect(formatDuration(duration({ startedAt: '2026-01-01T00:00:00Z', finishedAt: null }))).toBe('–');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });

  it('reopens a run: its graph (read-only when it was a shipped workflow) and its outputs', async () => {
    await useWorkflowsStore().refresh();
    await useHistoryStore().reopen('r1');
    const g = useGraphStore();
    expect(g).toMatchObject({ name: 'shipped-one', readOnly: true, dirty: false });
    expect(g.nodes.a.params.value).toBe(4);
    const x = useExecutionStore();
    expect(x.runId).toBe('r1');
    expect(x.nodes.a).toMatchObject({ state: 'done', summary: { value: 4 }, ms: 3 });
  });

  it('refuses a malformed answer instead of showing garbage', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ runs: [{ runId: 1 }], queue: [], running: null }))));
    await expect(useHistoryStore().refresh()).rejects.toThrow(/unexpected answer/);
  });
});
