// Past runs (GET /api/runs): status, started, duration, workflow; reopening one loads its graph and its outputs.
import { defineStore } from 'pinia';
import { ref } from 'vue';
import { RunsResponseSchema, type RunRowWire } from '@server/wire.ts';
import { api } from '../api/client.ts';
import { useExecutionStore } from './execution.ts';
import { useWorkflowsStore } from './workflows.ts';

/** Milliseconds from start to finish, or null while a run has not both. */
export function duration(r: Pick<RunRowWire, 'startedAt' | 'finishedAt'>): number | null {
  if (!r.startedAt || !r.finishedAt) return null;
  return Date.parse(r.finishedAt) - Date.parse(r.startedAt);
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const useHistoryStore = defineStore('history', () => {
  const runs = ref<RunRowWire[]>([]);
  const loading = ref(false);

  async function refresh(limit = 100): Promise<void> {
    loading.value = true;
    try {
      runs.value = (await api(`/api/runs?limit=${limit}`, RunsResponseSchema)).runs;
    } finally {
      loading.value = false;
    }
  }

  /** Opens a past run's graph (as it ran) and shows its outputs on it. */
  async function reopen(runId: string): Promise<void> {
    const execution = useExecutionStore();
    const workflows = useWorkflowsStore();
    const rec = await execution.loadRun(runId);
    // a shipped workflow's run opens read-only, like the workflow itself
    workflows.openDocument(rec.workflow, rec.name, workflows.isShipped(rec.name));
  }

  return { runs, loading, refresh, reopen };
});
