// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { ServerEvents, StateSchema, type ServerEventName } from '@server/events.ts';
import type { AnyServerEvent } from '../api/socket.ts';
import { nodesToRun, useExecutionStore } from './execution.ts';
import { useGraphStore } from './graph.ts';
import { useRegistryStore } from './registry.ts';

const node = (type: string, inputs: Record<string, unknown>, outputs: Record<string, unknown>) => ({
  type, typeVersion: 1, category: 'test', displayName: type, pack: 'test', cacheable: true, inputs, outputs,
  params: { type: 'object', properties: { steps: { type: 'integer', minimum: 1, maximum: 100 } } },
});
const registryAnswer = {
  nodes: [node('LoadModel', {}, { model: { type: 'MODEL' } }), node('Sample', { model: { type: 'MODEL' } }, { images: { type: 'IMAGES' } }),
    node('Other', {}, { value: { type: 'NUMBER' } })],
  packs: [], packErrors: [],
};
const workflow = {
  format: 'cadflow.workflow', version: 1, name: 'pair', meta: {},
  nodes: { load: { type: 'LoadModel', params: {} }, sample: { type: 'Sample', params: { steps: 4 }, inputs: { model: ['load', 'model'] } }, other: { type: 'Other' } },
};

/** Parses a payload with the server's schema first, as the socket client does. */
function ev<E extends ServerEventName>(event: E, payload: unknown): AnyServerEvent {
  return { event, payload: ServerEvents[event].parse(payload) } as AnyServerEvent;
}
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('execution store', () => {
  let created: string[];
  let revoked: string[];
  beforeEach(() => {
    setActivePinia(createPinia());
    useRegistryStore().setFrom(registryAnswer);
    useGraphStore().load(workflow, { name: 'saved-pair' });
    created = [];
    revoked = [];
    let n = 0;
    vi.spyOn(URL, 'createObjectURL').mockImplementation(() => {
      const url = `blob:test/${++n}`;
      created.push(url);
      return url;
    });
    vi.spyOn(URL, 'revokeObjectURL').mockImplementation((url: string) => void revoked.push(url));
  });
  afterEach(() => vi.restoreAllMocks());

  it('nodesToRun: all nodes, or the targets and what feeds them', () => {
    const wf = useGraphStore().toWorkflow();
    expect(nodesToRun(wf).sort()).toEqual(['load', 'other', 'sample']);
    expect(nodesToRun(wf, ['sample']).sort()).toEqual(['load', 'sample']);
  });

  it('run() posts the open workflow with targets, marks the nodes to run queued, and follows the run events', async () => {
    const fetchMock = vi.fn(async () => jsonResponse(202, { runId: 'r1' }));
    vi.stubGlobal('fetch', fetchMock);
    const x = useExecutionStore();
    expect(await x.run(['sample'])).toBe('r1');
    const body = JSON.parse((fetchMock.mock.calls[0] as unknown as [string, RequestInit])[1].body as string);
    expect(body.targets).toEqual(['sample']);
    expect(body.workflow.nodes.sample.params.steps).toBe(4);
    expect(body.workflow.name).toBe('saved-pair'); // the graph's name, not the file's
    expect(x.nodes.load.state).toBe('queued');
    expect(x.nodes.sample.state).toBe('queued');
    expect(x.nodes.other).toBeUndefined();

    x.apply(ev('run:start', { runId: 'r1' }));
    expect(x.nodes.sample.state).toBe('queued'); // own run: marks kept
    x.apply(ev('node:cached', { runId: 'r1', nodeId: 'load' }));
    x.apply(ev('node:output', { runId: 'r1', nodeId: 'load', summary: { model: { name: 'm' } }, artifacts: [] }));
    x.apply(ev('node:start', { runId: 'r1', nodeId: 'sample' }));
    x.apply(ev('node:progress', { runId: 'r1', nodeId: 'sample', value: 2, max: 4, label: 'step' }));
    expect(x.nodes.load.state).toBe('cached');
    expect(x.nodes.sample).toMatchObject({ state: 'running', progress: { value: 2, max: 4, label: 'step' } });
    expect(x.title).toBe('▶ sample 50% · step');

    x.apply(ev('node:preview', { runId: 'r1', nodeId: 'sample', step: 1, mime: 'image/png', label: 'x0 at step 1', bytes: png }));
    x.apply(ev('node:preview', { runId: 'r1', nodeId: 'sample', step: 2, mime: 'image/png', label: 'x0 at step 2', bytes: png }));
    x.apply(ev('node:preview', { runId: 'r1', nodeId: 'sample', step: 3, mime: 'image/png', label: 'x0 at step 3', bytes: png }));
    // the latest preview; the URLs of those it replaced are revoked
    expect(x.nodes.sample.previews).toEqual([{ step: 3, url: 'blob:test/3', label: 'x0 at step 3' }]);
    expect(revoked).toEqual(['blob:test/1', 'blob:test/2']);

    x.apply(ev('node:log', { runId: 'r1', nodeId: 'sample', message: 'hello' }));
    x.apply(ev('node:output', { runId: 'r1', nodeId: 'sample', summary: { images: { count: 4 } }, artifacts: [{ id: 'a'.repeat(64), name: 'g.png', mime: 'image/png', bytes: 10 }] }));
    x.apply(ev('run:done', { runId: 'r1' }));
    expect(x.nodes.sample).toMatchObject({ state: 'done', logs: ['hello'], summary: { images: { count: 4 } } });
    expect(x.nodes.sample.ms).toBeTypeOf('number');
    expect(x.nodes.sample.progress).toBeUndefined();
    expect(x.runStatus).toBe('done');
    expect(x.title).toBeNull();
    expect(x.consoleLines.some((l) => l.message === 'hello' && l.nodeId === 'sample')).toBe(true);

    // a new run clears the old one's previews (URLs revoked)
    x.apply(ev('run:start', { runId: 'r2' }));
    expect(revoked).toContain('blob:test/3');
    expect(x.nodes).toEqual({});
  });

  it('a refused run puts the server errors on the graph store', async () => {
    const errors = [{ nodeId: 'sample', kind: 'bad_param', param: 'steps', message: 'steps must be ≤ 100' }];
    vi.stubGlobal('fetch', vi.fn(async () => jsonResponse(400, { errors })));
    const x = useExecutionStore();
    x.showRecord({
      runId: 'before', status: 'done', name: 'pair', createdAt: '', startedAt: null, finishedAt: null, workflow, targets: null, env: null, error: null,
      nodes: { load: { status: 'done', ms: 5, cached: false, outputs: { model: {} } } },
    });
    expect(await x.run()).toBeNull();
    expect(useGraphStore().serverErrors).toEqual(errors);
    // the previous run's results are left as they were
    expect(x.nodes.load).toMatchObject({ state: 'done', summary: { model: {} } });
    expect(x.nodes.sample).toBeUndefined();
    expect(x.consoleLines.at(-1)).toMatchObject({ level: 'error', message: 'sample.steps: steps must be ≤ 100' });
  });

  it('an error names its node; unreached nodes go back to idle; cancel posts to the running run', async () => {
    const fetchMock = vi.fn(async () => jsonResponse(202, { runId: 'r3' }));
    vi.stubGlobal('fetch', fetchMock);
    const x = useExecutionStore();
    await x.run();
    x.apply(ev('run:start', { runId: 'r3' }));
    x.apply(ev('node:start', { runId: 'r3', nodeId: 'load' }));
    fetchMock.mockImplementationOnce(async () => jsonResponse(200, { runId: 'r3', status: 'cancelling' }));
    await x.cancel();
    expect((fetchMock.mock.calls[1] as unknown as [string])[0]).toBe('/api/runs/r3/cancel');
    x.apply(ev('run:error', { runId: 'r3', nodeId: 'load', kind: 'node_error', message: 'boom' }));
    expect(x.nodes.load).toMatchObject({ state: 'error', error: 'boom' });
    expect(x.nodes.sample.state).toBe('idle');
    expect(x.runStatus).toBe('error');
    // another run's events do not touch the run on show
    x.apply(ev('node:start', { runId: 'elsewhere', nodeId: 'sample' }));
    expect(x.nodes.sample.state).toBe('idle');
  });

  it('the state event restores a run in progress (statuses, progress, latest previews)', () => {
    const x = useExecutionStore();
    x.applyState(StateSchema.parse({
      queue: ['q1'],
      current: {
        runId: 'live', nodes: { load: { status: 'cached', summary: { model: {} } }, sample: { status: 'running', progress: { value: 3, max: 8 } } },
        previews: { sample: { step: 3, mime: 'image/png', bytes: png } },
      },
    }));
    expect(x.runId).toBe('live');
    expect(x.running).toBe('live');
    expect(x.queue).toEqual(['q1']);
    expect(x.nodes.load.state).toBe('cached');
    expect(x.nodes.sample).toMatchObject({ state: 'running', progress: { value: 3, max: 8 }, previews: [{ step: 3, url: 'blob:test/1' }] });
    expect(x.title).toBe('▶ sample 38%');
  });

  it('shows a finished run record (history) with each node’s outputs and time', () => {
    const x = useExecutionStore();
    x.showRecord({
      runId: 'old', status: 'error', name: 'pair', createdAt: '', startedAt: null, finishedAt: null, workflow: workflow, targets: null, env: null,
      error: { nodeId: 'sample', kind: 'node_error', message: 'failed' },
      nodes: { load: { status: 'done', ms: 12.4, cached: false, outputs: { model: { name: 'm' } } }, other: { status: 'done', ms: 0, cached: true, outputs: { value: 1 } } },
    });
    expect(x.nodes.load).toMatchObject({ state: 'done', ms: 12, summary: { model: { name: 'm' } } });
    expect(x.nodes.other.state).toBe('cached');
    expect(x.nodes.sample).toMatchObject({ state: 'error', error: 'failed' });
  });
});
