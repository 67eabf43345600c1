// Server workflows (saved with revisions, shipped read-only), import/export, and the autosaved draft in localStorage.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { parseWorkflow, type Workflow } from '@server/engine/schema.ts';
import { WorkflowResponseSchema, WorkflowSavedSchema, WorkflowsResponseSchema, type WorkflowEntry } from '@server/wire.ts';
import { api } from '../api/client.ts';
import { useGraphStore } from './graph.ts';

export const DRAFT_KEY = 'cadflow.draft';
export const WORKFLOW_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** What the draft keeps: the open graph, where it came from, and its last saved state (so `dirty` survives a reload). */
interface Draft {
  workflow: unknown;
  name: string | null;
  readOnly: boolean;
  base: unknown;
}

export function nameError(name: string): string | null {
  return WORKFLOW_NAME.test(name) ? null : 'names are 1-100 of A-Z a-z 0-9 _ . -, not starting with . or -';
}

export const useWorkflowsStore = defineStore('workflows', () => {
  const graph = useGraphStore();
  const list = ref<WorkflowEntry[]>([]);
  /** The open graph as last loaded or saved (what `dirty` compares with), kept for the draft. */
  let base: unknown = graph.toWorkflow();

  const shippedNames = computed(() => new Set(list.value.filter((w) => w.shipped).map((w) => w.name)));
  const isShipped = (name: string | null) => name !== null && shippedNames.value.has(name);

  async function refresh(): Promise<void> {
    list.value = (await api('/api/workflows', WorkflowsResponseSchema)).workflows;
  }

  /** Opens a workflow document as the graph (every way of opening one goes through here, so the draft knows its base). */
  function openDocument(raw: unknown, name: string | null, readOnly: boolean): void {
    graph.load(raw, { name, readOnly });
    base = graph.toWorkflow();
  }

  /** Opens a server workflow (a shipped one read-only), or one of its revisions. */
  async function open(name: string, rev?: number): Promise<void> {
    const q = rev === undefined ? '' : `?rev=${rev}`;
    const res = await api(`/api/workflows/${encodeURIComponent(name)}${q}`, WorkflowResponseSchema);
    openDocument(res.workflow, res.name, res.shipped);
  }

  async function put(name: string, wf: Workflow): Promise<number> {
    const err = nameError(name);
    if (err) throw new Error(err);
    return (await api(`/api/workflows/${encodeURIComponent(name)}`, WorkflowSavedSchema, { method: 'PUT', json: { ...wf, name } })).rev;
  }

  /** Saves the open graph under its name as a new revision; a new or shipped graph needs `saveAs`. */
  async function save(): Promise<number> {
    if (!graph.name || graph.readOnly) throw new Error('choose a name: this workflow has none or is read-only (save as)');
    const rev = await put(graph.name, graph.toWorkflow());
    graph.markClean();
    base = graph.toWorkflow();
    await refresh();
    return rev;
  }

  /** Saves a copy under `name` and makes it the open workflow. */
  async function saveAs(name: string): Promise<number> {
    if (isShipped(name)) throw new Error(`${name} is a shipped workflow: choose another name`);
    const rev = await put(name, graph.toWorkflow());
    graph.name = name;
    graph.readOnly = false;
    graph.markClean();
    base = graph.toWorkflow();
    await refresh();
    return rev;
  }

  /** Renames a saved workflow: its latest revision is saved under the new name and the old name deleted. */
  async function rename(from: string, to: string): Promise<void> {
    if (isShipped(from)) throw new Error(`${from} is a shipped workflow and cannot be renamed`);
    if (list.value.some((w) => w.name === to)) throw new Error(`a workflow named ${to} exists`);
    const res = await api(`/api/workflows/${encodeURIComponent(from)}`, WorkflowResponseSchema);
    const parsed = parseWorkflow(res.workflow);
    if (!parsed.ok) throw new Error(`${from} is not a valid workflow: ${parsed.errors[0]?.message}`);
    await put(to, parsed.workflow);
    await api(`/api/workflows/${encodeURIComponent(from)}`, WorkflowSavedSchema, { method: 'DELETE' });
    if (graph.name === from) graph.name = to;
    await refresh();
  }

  async function remove(name: string): Promise<void> {
    await api(`/api/workflows/${encodeURIComponent(name)}`, WorkflowSavedSchema, { method: 'DELETE' });
    if (graph.name === name) graph.name = null;
    await refresh();
  }

  /** The revisions of a saved workflow, newest first (deleted ones are skipped by the server's 404). */
  function revisions(name: string): number[] {
    const w = list.value.find((x) => x.name === name);
    if (!w || w.shipped) return [];
    return Array.from({ length: w.rev }, (_, i) => w.rev - i);
  }

  /** Opens a workflow file's text (import, or a file dropped on the canvas); it opens unsaved, without a name. */
  function importJson(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new Error(`not JSON: ${(err as Error).message}`);
    }
    openDocument(raw, null, false);
  }

  function exportJson(): string {
    const wf = graph.toWorkflow();
    return `${JSON.stringify(graph.name ? { ...wf, name: graph.name } : wf, null, 2)}\n`;
  }

  function newWorkflow(): void {
    openDocument({ format: 'cadflow.workflow', version: 1, nodes: {}, meta: {} }, null, false);
  }

  // ---- the autosaved draft ----

  function saveDraft(storage: Storage = localStorage): void {
    const draft: Draft = { workflow: graph.toWorkflow(), name: graph.name, readOnly: graph.readOnly, base: graph.dirty ? base : null };
    storage.setItem(DRAFT_KEY, JSON.stringify(draft));
  }

  /** Restores the draft; the edits since the last save stay one undo step away from it and the graph stays dirty. */
  function restoreDraft(storage: Storage = localStorage): boolean {
    const text = storage.getItem(DRAFT_KEY);
    if (!text) return false;
    try {
      const d = JSON.parse(text) as Draft;
      const name = typeof d.name === 'string' ? d.name : null;
      if (d.base === null || d.base === undefined) {
        openDocument(d.workflow, name, d.readOnly === true);
        return true;
      }
      openDocument(d.base, name, d.readOnly === true);
      const edited = parseWorkflow(d.workflow);
      if (!edited.ok) return true;
      graph.batch(() => {
        graph.workflow = { ...edited.workflow, nodes: Object.assign(Object.create(null), edited.workflow.nodes) };
      });
      return true;
    } catch {
      storage.removeItem(DRAFT_KEY); // a draft this editor cannot read is dropped rather than blocking the start
      return false;
    }
  }

  return {
    list, shippedNames, isShipped, refresh, open, openDocument, save, saveAs, rename, remove, revisions, importJson, exportJson,
    newWorkflow, saveDraft, restoreDraft,
  };
});
