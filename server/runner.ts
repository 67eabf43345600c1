// The run queue: one executor at a time, FIFO with front-insert, cancel of queued or running runs.
// The queue and the history live in SQLite, so a restart resumes queued runs and marks a dead one interrupted.
import { randomUUID } from 'node:crypto';
import type { Engine, RunListener } from './engine/engine.ts';
import type { ValidationError } from './engine/validate.ts';
import type { Emit, LiveState } from './events.ts';
import type { RunStore } from './store/db.ts';

type Current = NonNullable<LiveState['current']> & { controller: AbortController };

export class RunManager {
  private current: Current | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly engine: Engine, private readonly store: RunStore, private readonly emit: Emit) {}

  /** Marks runs a dead process left `running` as interrupted, then starts on the persisted queue. */
  resume(): string[] {
    const interrupted = this.store.interruptRunning();
    for (const runId of interrupted) this.emit('run:interrupted', { runId });
    this.kick();
    return interrupted;
  }

  submit(workflow: unknown, targets?: string[], front = false): { runId: string } | { errors: ValidationError[] } {
    const v = this.engine.validate(workflow, targets);
    if (!v.ok) return { errors: v.errors };
    const runId = randomUUID();
    // the snapshot kept is the migrated, parsed workflow (what run.json shows)
    this.store.enqueue({ runId, workflow: v.plan.workflow, targets, front });
    this.emit('run:queued', { runId, position: this.store.queued().indexOf(runId) });
    this.kick();
    return { runId };
  }

  /** 'cancelled' for a queued run, 'cancelling' for the running one, undefined when nothing to cancel. */
  cancel(runId: string): 'cancelled' | 'cancelling' | undefined {
    if (this.current?.runId === runId) {
      this.current.controller.abort();
      return 'cancelling';
    }
    if (this.store.queued().includes(runId)) {
      this.store.setStatus(runId, 'cancelled');
      this.emit('run:cancelled', { runId });
      return 'cancelled';
    }
    return undefined;
  }

  state(): LiveState {
    const c = this.current;
    return { queue: this.store.queued(), current: c ? { runId: c.runId, nodes: c.nodes, previews: c.previews } : null };
  }

  get runningId(): string | undefined {
    return this.current?.runId;
  }

  /** Resolves when the queue is empty and nothing runs. */
  async idle(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /** Stops taking runs and cancels the running one. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.controller.abort();
    await this.idle();
  }

  private kick(): void {
    if (this.loop || this.stopped) return;
    this.loop = this.drain().finally(() => {
      this.loop = undefined;
      // a run submitted while the loop was winding down
      if (!this.stopped && this.store.queued().length) this.kick();
    });
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const runId = this.store.queued()[0];
      if (!runId) return;
      await this.execute(runId);
    }
  }

  private async execute(runId: string): Promise<void> {
    const stored = this.store.getRun(runId)!;
    const current: Current = { runId, nodes: {}, previews: {}, controller: new AbortController() };
    this.current = current;
    this.store.setStatus(runId, 'running');
    this.emit('run:start', { runId });
    const listener: RunListener = {
      nodeStart: (nodeId) => {
        current.nodes[nodeId] = { status: 'running' };
        this.emit('node:start', { runId, nodeId });
      },
      nodeCached: (nodeId) => {
        current.nodes[nodeId] = { status: 'cached' };
        this.emit('node:cached', { runId, nodeId });
      },
      nodeProgress: (nodeId, value, max, label) => {
        const n = current.nodes[nodeId];
        if (n) n.progress = { value, max, label };
        this.emit('node:progress', { runId, nodeId, value, max, label });
      },
      nodePreview: (nodeId, png, step, label) => {
        const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
        current.previews[nodeId] = { step, mime: 'image/png', label, bytes };
        this.emit('node:preview', { runId, nodeId, step, mime: 'image/png', label, bytes });
      },
      nodeLog: (nodeId, message) => this.emit('node:log', { runId, nodeId, message }),
      nodeOutput: (nodeId, summary, artifacts) => {
        const n = current.nodes[nodeId];
        current.nodes[nodeId] = { status: n?.status === 'cached' ? 'cached' : 'done', summary, artifacts };
        this.emit('node:output', { runId, nodeId, summary, artifacts });
      },
      nodeDone: (nodeId, rec) => {
        if (rec.status === 'error' || rec.status === 'cancelled') current.nodes[nodeId] = { status: rec.status };
        this.store.saveNode(runId, nodeId, rec);
      },
    };
    try {
      const v = this.engine.validate(stored.workflow, stored.targets ?? undefined);
      if (!v.ok) {
        // the registry changed since queueing (e.g. a pack broke across a restart)
        const error = { nodeId: v.errors[0].nodeId, kind: 'invalid', message: v.errors.map((e) => e.message).join('; '), errors: v.errors };
        this.store.setStatus(runId, 'error', { error });
        this.emit('run:error', { runId, nodeId: error.nodeId, kind: error.kind, message: error.message });
        return;
      }
      const { record } = await this.engine.runPlan(v.plan, {
        runId, targets: stored.targets ?? undefined, signal: current.controller.signal, listener,
      });
      // a run aborted because the server shuts down was not cancelled by anyone: it was interrupted
      const status = record.status === 'cancelled' && this.stopped ? 'interrupted' : record.status;
      this.store.setStatus(runId, status, { error: record.error, env: record.env });
      if (status === 'done') this.emit('run:done', { runId });
      else if (status === 'interrupted') this.emit('run:interrupted', { runId });
      else if (status === 'cancelled') this.emit('run:cancelled', { runId });
      else {
        const e = record.error!;
        this.emit('run:error', { runId, nodeId: e.nodeId, kind: e.kind, param: e.param, message: e.message });
      }
    } catch (err) {
      const error = { nodeId: null, kind: 'internal', message: err instanceof Error ? err.message : String(err) };
      this.store.setStatus(runId, 'error', { error });
      this.emit('run:error', { runId, ...error });
    } finally {
      this.current = undefined;
    }
  }
}
