// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useGraphStore } from './graph.ts';
import { useRegistryStore } from './registry.ts';
import { DRAFT_KEY, nameError, useWorkflowsStore } from './workflows.ts';

const registryAnswer = {
  nodes: [{
    type: 'Number', typeVersion: 1, category: 'test', displayName: 'Number', pack: 'test', cacheable: true, inputs: {},
    outputs: { value: { type: 'NUMBER' } }, params: { type: 'object', properties: { value: { type: 'number' } } },
  }],
  packs: [], packErrors: [],
};
const doc = (value: number, name?: string) => ({
  format: 'cadflow.workflow', version: 1, ...(name ? { name } : {}), meta: {}, nodes: { a: { type: 'Number', params: { value } } },
});

/** A small fake of the server's workflow endpoints: saved revisions in memory, one shipped workflow. */
function fakeServer() {
  const saved = new Map<string, unknown[]>();
  const calls: string[] = [];
  const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });
  const handler = vi.fn(async (url: string, init: RequestInit = {}) => {
    const method = init.method ?? 'GET';
    calls.push(`${method} ${url}`);
    const u = new URL(url, 'http://x');
    if (u.pathname === '/api/workflows') {
      const list = [{ name: 'shipped-one', rev: 1, updatedAt: 't', shipped: true },
        ...[...saved].filter(([, revs]) => revs.at(-1) !== null).map(([name, revs]) => ({ name, rev: revs.length, updatedAt: 't', shipped: false }))];
      return json(200, { workflows: list });
    }
    const name = decodeURIComponent(u.pathname.slice('/api/workflows/'.length));
    if (name === 'shipped-one') {
      return method === 'GET' ? json(200, { name, rev: 1, revisions: 1, shipped: true, workflow: doc(5, name) }) : json(409, { error: 'read-only' });
    }
    const revs = saved.get(name) ?? [];
    if (method === 'PUT') {
      saved.set(name, [...revs, JSON.parse(init.body as string)]);
      return json(200, { name, rev: revs.length + 1 });
    }
    if (method === 'DELETE') {
      saved.set(name, [...revs, null]);
      return json(200, { name, rev: revs.length + 1, deleted: true });
    }
    const rev = u.searchParams.get('rev');
    const body = rev ? revs[Number(rev) - 1] : revs.at(-1);
    if (!body) return json(404, { error: 'no such workflow' });
    return json(200, { name, rev: rev ? Number(rev) : revs.length, revisions: revs.length, shipped: false, workflow: body });
  });
  return { saved, calls, handler };
}

describe('workflows store', () => {
  let server: ReturnType<typeof fakeServer>;
  beforeEach(() => {
    setActivePinia(createPinia());
    useRegistryStore().setFrom(registryAnswer);
    server = fakeServer();
    vi.stubGlobal('fetch', server.handler);
    localStorage.clear();
  });
  afterEach(() => vi.unstubAllGlobals());

  it('opens a shipped workflow read-only; save refuses it and save-as copies it under a new name', async () => {
    const w = useWorkflowsStore();
    const g = useGraphStore();
    await w.refresh();
    await w.open('shipped-one');
    expect(g.name).toBe('shipped-one');
    expect(g.readOnly).toBe(true);
    expect(g.nodes.a.params.value).toBe(5);
    await expect(w.save()).rejects.toThrow(/save as/);
    await expect(w.saveAs('shipped-one')).rejects.toThrow(/shipped/);
    g.setParam('a', 'value', 6);
    expect(g.dirty).toBe(true);
    expect(await w.saveAs('mine')).toBe(1);
    expect(g).toMatchObject({ name: 'mine', readOnly: false, dirty: false });
    expect(server.saved.get('mine')![0]).toMatchObject({ name: 'mine', nodes: { a: { params: { value: 6 } } } });
    expect(w.list.map((x) => [x.name, x.shipped])).toEqual([['shipped-one', true], ['mine', false]]);
  });

  it('save adds revisions; an older revision opens; rename moves it; delete removes it', async () => {
    const w = useWorkflowsStore();
    const g = useGraphStore();
    w.openDocument(doc(1), null, false);
    await w.saveAs('work');
    g.setParam('a', 'value', 2);
    expect(await w.save()).toBe(2);
    expect(w.revisions('work')).toEqual([2, 1]);
    await w.open('work', 1);
    expect(g.nodes.a.params.value).toBe(1);
    await w.rename('work', 'renamed');
    expect(g.name).toBe('renamed');
    expect(w.list.map((x) => x.name)).toEqual(['shipped-one', 'renamed']);
    expect(server.saved.get('renamed')![0]).toMatchObject({ nodes: { a: { params: { value: 2 } } } });
    await expect(w.rename('shipped-one', 'x')).rejects.toThrow(/shipped/);
    await w.remove('renamed');
    expect(g.name).toBeNull();
    expect(w.list.map((x) => x.name)).toEqual(['shipped-one']);
    await expect(w.saveAs('../etc')).rejects.toThrow(/names are/);
    expect(nameError('ok-name_1.v2')).toBeNull();
  });

  it('import opens a file unsaved; export writes the graph with its name; bad JSON is a clear error', () => {
    const w = useWorkflowsStore();
    const g = useGraphStore();
    w.importJson(JSON.stringify(doc(9, 'from-file')));
    expect(g.name).toBeNull();
    expect(g.nodes.a.params.value).toBe(9);
    expect(() => w.importJson('{ nope')).toThrow(/not JSON/);
    expect(() => w.importJson('{"format":"other"}')).toThrow();
    g.name = 'exported';
    expect(JSON.parse(w.exportJson())).toMatchObject({ format: 'cadflow.workflow', name: 'exported', nodes: { a: { type: 'Number' } } });
  });

  it('the draft restores the graph, its name and its unsaved edits (still dirty, the edit one undo away)', async () => {
    const w = useWorkflowsStore();
    const g = useGraphStore();
    w.openDocument(doc(1), null, false);
    await w.saveAs('drafty');
    g.setParam('a', 'value', 3);
    w.saveDraft();
    expect(JSON.parse(localStorage.getItem(DRAFT_KEY)!)).toMatchObject({ name: 'drafty', readOnly: false });

    setActivePinia(createPinia()); // a reload
    useRegistryStore().setFrom(registryAnswer);
    const w2 = useWorkflowsStore();
    const g2 = useGraphStore();
    expect(w2.restoreDraft()).toBe(true);
    expect(g2).toMatchObject({ name: 'drafty', dirty: true });
    expect(g2.nodes.a.params.value).toBe(3);
    g2.undo();
    expect(g2.nodes.a.params.value).toBe(1);
    expect(g2.dirty).toBe(false);

    localStorage.setItem(DRAFT_KEY, '{broken');
    expect(w2.restoreDraft()).toBe(false);
    expect(localStorage.getItem(DRAFT_KEY)).toBeNull();
  });
});
