// What the server is doing with runs: per-node live state of the run on show (badges, progress, previews, logs,
// outputs), the queue, and the console. Fed by socket events (parsed in api/socket.ts); `run` and `cancel` call REST.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { LiveState } from '@server/events.ts';
import type { Workflow } from '@server/engine/schema.ts';
import {
  CancelResponseSchema, RunRecordSchema, RunsResponseSchema, SubmitResponseSchema, ValidationErrorsSchema, type RunRecordWire,
} from '@server/wire.ts';
import { api, ApiError } from '../api/client.ts';
import type { AnyServerEvent } from '../api/socket.ts';
import { linksOf, useGraphStore } from './graph.ts';

export type NodeState = 'idle' | 'queued' | 'running' | 'cached' | 'done' | 'error';
export interface Preview { step: number; url: string; label?: string }
export interface ArtifactRef { id: string; name: string; mime: string; bytes: number }
export interface NodeLive {
  state: NodeState;
  progress?: { value: number; max: number; label?: string };
  ms?: number;
  error?: string;
  previews: Preview[];
  logs: string[];
  summary?: Record<string, unknown>;
  artifacts?: ArtifactRef[];
}
export interface ConsoleLine { at: number; runId: string | null; nodeId: string | null; level: 'info' | 'error'; message: string }
export type RunOutcome = 'queued' | 'running' | 'done' | 'error' | 'cancelled' | 'interrupted';

const CONSOLE_LIMIT = 2000;
const NODE_LOG_LIMIT = 500;

/** The nodes a run of `targets` executes: the targets and everything upstream (all nodes without targets). */
export function nodesToRun(wf: Workflow, targets?: readonly string[]): string[] {
  if (!targets?.length) return Object.keys(wf.nodes);
  const seen = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id) || !Object.hasOwn(wf.nodes, id)) continue;
    seen.add(id);
    for (const v of Object.values(wf.nodes[id].inputs)) for (const [src] of linksOf(v)) stack.push(src);
  }
  return [...seen];
}

const fresh = (state: NodeState = 'idle'): NodeLive => ({ state, previews: [], logs: [] });

export const useExecutionStore = defineStore('execution', () => {
  const graph = useGraphStore();
  /** The run whose state the canvas shows (the latest one started, or one reopened from the history). */
  const runId = ref<string | null>(null);
  const runStatus = ref<RunOutcome | null>(null);
  const runError = ref<string | null>(null);
  const nodes = ref<Record<string, NodeLive>>(Object.create(null));
  const queue = ref<string[]>([]);
  /** The server's running run (any tab's). */
  const running = ref<string | null>(null);
  const connected = ref(false);
  const connectionError = ref<string | null>(null);
  const consoleLines = ref<ConsoleLine[]>([]);
  /** Runs this tab submitted, with the nodes each will execute (marked queued until they start). */
  const own = new Map<string, string[]>();
  const startedAt = new Map<string, number>();
  /** The nodes of the run being submitted while nothing else runs (shown queued before the server answers). */
  let submitting: string[] | null = null;

  function live(nodeId: string): NodeLive {
    // a new entry replaces the map: readers test entries with Object.hasOwn, which Vue's reactivity does not track
    if (!Object.hasOwn(nodes.value, nodeId)) nodes.value = Object.assign(Object.create(null), nodes.value, { [nodeId]: fresh() });
    return nodes.value[nodeId];
  }

  function revokePreviews(n: NodeLive): void {
    for (const p of n.previews) URL.revokeObjectURL(p.url);
  }

  /** Clears the live state (revoking its preview URLs) and shows run `id`, with `queuedIds` marked queued. */
  function reset(id: string | null, queuedIds: readonly string[] = []): void {
    for (const n of Object.values(nodes.value)) revokePreviews(n);
    const next: Record<string, NodeLive> = Object.create(null);
    for (const nodeId of queuedIds) next[nodeId] = fresh('queued');
    nodes.value = next;
    runId.value = id;
    runError.value = null;
    startedAt.clear();
  }

  function log(message: string, nodeId: string | null = null, level: ConsoleLine['level'] = 'info', run: string | null = runId.value): void {
    consoleLines.value.push({ at: Date.now(), runId: run, nodeId, level, message });
    if (consoleLines.value.length > CONSOLE_LIMIT) consoleLines.value.splice(0, consoleLines.value.length - CONSOLE_LIMIT);
  }

  /** A node shows its latest preview (a Sample's x0 grid at the latest step); the one it replaces has its URL revoked. */
  function addPreview(n: NodeLive, step: number, mime: string, bytes: Uint8Array, label?: string): void {
    revokePreviews(n);
    n.previews = [{ step, url: URL.createObjectURL(new Blob([bytes as BlobPart], { type: mime })), label }];
  }

  function settle(state: NodeState): void {
    for (const n of Object.values(nodes.value)) if (n.state === 'queued' || n.state === 'running') n.state = state;
  }

  function apply(e: AnyServerEvent): void {
    const p = e.payload;
    switch (e.event) {
      case 'run:queued':
        if (!queue.value.includes(p.runId)) queue.value.push(p.runId);
        return;
      case 'run:start':
        queue.value = queue.value.filter((id) => id !== p.runId);
        running.value = p.runId;
        // the canvas shows the run that starts (this tab's runs with their nodes marked queued; the run being
        // submitted starts before its POST answers)
        if (runId.value !== p.runId) reset(p.runId, own.get(p.runId) ?? submitting ?? []);
        runStatus.value = 'running';
        log('run started', null, 'info', p.runId);
        return;
      case 'run:done':
      case 'run:cancelled':
      case 'run:interrupted':
      case 'run:error': {
        queue.value = queue.value.filter((id) => id !== p.runId);
        if (running.value === p.runId) running.value = null;
        own.delete(p.runId);
        const outcome = e.event.slice(4) as RunOutcome;
        if (e.event === 'run:error') {
          log(`${e.payload.nodeId ? `${e.payload.nodeId}: ` : ''}${e.payload.message}`, e.payload.nodeId, 'error', p.runId);
        } else log(`run ${outcome}`, null, 'info', p.runId);
        if (p.runId !== runId.value) return;
        runStatus.value = outcome;
        if (e.event === 'run:error') {
          if (e.payload.nodeId) Object.assign(live(e.payload.nodeId), { state: 'error', error: e.payload.message, progress: undefined });
          else runError.value = e.payload.message;
        }
        // nodes the run did not reach (cancelled, failed elsewhere, or not needed) are idle again
        settle('idle');
        return;
      }
    }
    if (p.runId !== runId.value) return;
    const n = live(e.payload.nodeId);
    switch (e.event) {
      case 'node:start':
        Object.assign(n, { state: 'running', progress: undefined, error: undefined, ms: undefined });
        startedAt.set(e.payload.nodeId, performance.now());
        return;
      case 'node:cached':
        Object.assign(n, { state: 'cached', progress: undefined, ms: undefined });
        return;
      case 'node:progress':
        n.progress = { value: e.payload.value, max: e.payload.max, label: e.payload.label };
        return;
      case 'node:preview':
        addPreview(n, e.payload.step, e.payload.mime, e.payload.bytes, e.payload.label);
        return;
      case 'node:log':
        n.logs.push(e.payload.message);
        if (n.logs.length > NODE_LOG_LIMIT) n.logs.shift();
        log(e.payload.message, e.payload.nodeId);
        return;
      case 'node:output': {
        const t0 = startedAt.get(e.payload.nodeId);
        if (n.state !== 'cached') {
          n.state = 'done';
          if (t0 !== undefined) n.ms = Math.round(performance.now() - t0);
        }
        n.progress = undefined;
        n.summary = e.payload.summary;
        n.artifacts = e.payload.artifacts;
      }
    }
  }

  /** The `state` event on (re)connect: the queue and the running run's node states, progress and latest previews. */
  function applyState(s: LiveState): void {
    queue.value = [...s.queue];
    running.value = s.current?.runId ?? null;
    if (!s.current) return;
    reset(s.current.runId);
    runStatus.value = 'running';
    const map = { running: 'running', done: 'done', cached: 'cached', error: 'error', cancelled: 'idle' } as const;
    for (const [nodeId, ln] of Object.entries(s.current.nodes)) {
      Object.assign(live(nodeId), { state: map[ln.status], progress: ln.progress, summary: ln.summary, artifacts: ln.artifacts });
      if (ln.status === 'running') startedAt.set(nodeId, performance.now());
    }
    for (const [nodeId, pv] of Object.entries(s.current.previews)) addPreview(live(nodeId), pv.step, pv.mime, pv.bytes, pv.label);
  }

  /** Shows a finished run's outputs (the history panel reopens a run). */
  function showRecord(rec: RunRecordWire): void {
    reset(rec.runId);
    runStatus.value = rec.status;
    runError.value = rec.error && !rec.error.nodeId ? rec.error.message : null;
    for (const [nodeId, r] of Object.entries(rec.nodes)) {
      Object.assign(live(nodeId), {
        state: r.status === 'error' ? 'error' : r.status === 'cancelled' ? 'idle' : r.cached ? 'cached' : 'done',
        ms: r.cached ? undefined : Math.round(r.ms), summary: r.outputs, artifacts: r.artifacts, error: r.error,
      });
    }
    if (rec.error?.nodeId) Object.assign(live(rec.error.nodeId), { state: 'error', error: rec.error.message });
  }

  async function loadRun(id: string): Promise<RunRecordWire> {
    const rec = await api(`/api/runs/${encodeURIComponent(id)}`, RunRecordSchema);
    showRecord(rec);
    return rec;
  }

  /** Queues the open workflow (up to `targets` when given); a refused graph's errors go to the graph store. */
  async function run(targets?: string[]): Promise<string | null> {
    graph.randomizeSeeds();
    const wf = graph.toWorkflow();
    if (graph.name) wf.name = graph.name; // the history names a run after the workflow it was run from
    const toRun = nodesToRun(wf, targets);
    submitting = running.value === null ? toRun : null;
    // the nodes show queued at once; the previous run's results stay until this one starts (or is refused)
    const before = submitting ? new Map(toRun.map((id) => [id, Object.hasOwn(nodes.value, id) ? nodes.value[id].state : null])) : null;
    for (const id of submitting ?? []) live(id).state = 'queued';
    try {
      const res = await api('/api/runs', SubmitResponseSchema, { method: 'POST', json: { workflow: wf, ...(targets?.length ? { targets } : {}) } });
      graph.setServerErrors([]);
      own.set(res.runId, toRun);
      if (runId.value !== res.runId && running.value !== res.runId && !queue.value.includes(res.runId)) queue.value.push(res.runId);
      log(`queued run ${res.runId.slice(0, 8)} (${wf.name ?? 'untitled'})`, null, 'info', res.runId);
      return res.runId;
    } catch (err) {
      for (const [id, state] of before ?? []) {
        if (state === null) delete nodes.value[id];
        else if (nodes.value[id].state === 'queued') nodes.value[id].state = state;
      }
      const errors = err instanceof ApiError && err.status === 400 ? ValidationErrorsSchema.safeParse(err.body) : null;
      if (errors?.success) {
        graph.setServerErrors(errors.data.errors);
        for (const ve of errors.data.errors) log(`${ve.nodeId ? `${ve.nodeId}${ve.param ? `.${ve.param}` : ''}: ` : ''}${ve.message}`, ve.nodeId ?? null, 'error', null);
        return null;
      }
      log(err instanceof Error ? err.message : String(err), null, 'error', null);
      throw err;
    } finally {
      submitting = null;
    }
  }

  /** Cancels a run (default: the running one, else the one on show). */
  async function cancel(id: string | null = running.value ?? runId.value): Promise<void> {
    if (!id) return;
    await api(`/api/runs/${encodeURIComponent(id)}/cancel`, CancelResponseSchema, { method: 'POST' });
  }

  /** The queue and running run from REST (before the socket's `state` arrives, or after it reconnects). */
  async function refreshQueue(): Promise<void> {
    const r = await api('/api/runs?limit=1', RunsResponseSchema);
    queue.value = r.queue;
    running.value = r.running;
  }

  function setConnected(ok: boolean, reason?: string): void {
    connected.value = ok;
    connectionError.value = ok ? null : reason ?? null;
  }

  const busy = computed(() => running.value !== null || queue.value.length > 0);
  /** For the browser tab: the running node and its progress. */
  const title = computed(() => {
    const entry = Object.entries(nodes.value).find(([, n]) => n.state === 'running');
    if (!entry) return null;
    const [id, n] = entry;
    const pct = n.progress && n.progress.max > 0 ? ` ${Math.round((100 * n.progress.value) / n.progress.max)}%` : '';
    return `▶ ${id}${pct}${n.progress?.label ? ` · ${n.progress.label}` : ''}`;
  });

  return {
    runId, runStatus, runError, nodes, queue, running, connected, connectionError, consoleLines, busy, title,
    apply, applyState, showRecord, loadRun, run, cancel, refreshQueue, setConnected, log, reset,
  };
});
