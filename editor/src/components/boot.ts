// Starting the editor: token, registry, socket, then the first graph (?workflow=, the autosaved draft, or
// erase-concept for a newcomer). Also the window hooks a browser test or a bench reads.
import { ref } from 'vue';
import type { Socket } from 'socket.io-client';
import { ApiError, initToken } from '../api/client.ts';
import { connectSocket } from '../api/socket.ts';
import { useExecutionStore } from '../stores/execution.ts';
import { useHistoryStore } from '../stores/history.ts';
import { useRegistryStore } from '../stores/registry.ts';
import { useWorkflowsStore } from '../stores/workflows.ts';

export const FIRST_WORKFLOW = 'erase-concept';

export type BootState = 'loading' | 'token' | 'ready' | 'failed';

declare global {
  interface Window {
    /** performance.now() when the canvas first showed the opened workflow (the bench and the browser tests read it). */
    __cadflowReady?: number;
  }
}

export function useBoot() {
  const state = ref<BootState>('loading');
  /** Why the editor could not start, or could not open the workflow asked for (shown once it runs). */
  const message = ref<string | null>(null);
  /** A one-line hint for a newcomer's first screen. */
  const hint = ref<string | null>(null);
  let socket: Socket | null = null;

  async function start(): Promise<void> {
    initToken();
    const registry = useRegistryStore();
    const execution = useExecutionStore();
    const workflows = useWorkflowsStore();
    const history = useHistoryStore();
    state.value = 'loading';
    message.value = null;
    // the first graph, the workflow list and the history load beside the registry (the first screen waits on two)
    const first = openFirst();
    void history.refresh().catch((err) => execution.log(String(err), null, 'error'));
    void workflows.refresh().catch((err) => execution.log(String(err), null, 'error'));
    try {
      await registry.load();
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) {
        state.value = 'token';
      } else {
        state.value = 'failed';
        message.value = err instanceof Error ? err.message : String(err);
      }
      return;
    }
    socket?.close();
    socket = connectSocket({
      event: (e) => {
        execution.apply(e);
        // the history lists each run as it is queued, starts and ends
        if (e.event.startsWith('run:')) void history.refresh().catch(() => {});
      },
      state: (s) => execution.applyState(s),
      connected: (ok, reason) => {
        execution.setConnected(ok, reason);
        if (!ok && reason === 'access token required') state.value = 'token';
      },
      invalid: (event, msg) => execution.log(`ignored a malformed ${event} event: ${msg}`, null, 'error'),
    });
    await first;
    state.value = 'ready';
  }

  async function openFirst(): Promise<void> {
    const workflows = useWorkflowsStore();
    const wanted = new URL(location.href).searchParams.get('workflow');
    try {
      if (wanted) {
        await workflows.open(wanted);
        return;
      }
      if (workflows.restoreDraft()) return;
      await workflows.open(FIRST_WORKFLOW);
      hint.value = `${FIRST_WORKFLOW} is open: press Run (Ctrl+Enter) to erase a concept, or drag nodes from the left to build your own graph.`;
    } catch (err) {
      if (err instanceof ApiError && err.unauthorized) return; // the token prompt says it
      message.value = `could not open ${wanted ?? FIRST_WORKFLOW}: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  return { state, message, hint, start };
}
