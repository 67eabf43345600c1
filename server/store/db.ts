// SQLite (better-sqlite3) persistence: the run queue, run history with per-node records, workflow revisions.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NodeRecord, RunEnv, RunErrorInfo } from '../engine/engine.ts';

export type RunState = 'queued' | 'running' | 'done' | 'error' | 'cancelled' | 'interrupted';

export interface RunRow {
  runId: string;
  status: RunState;
  name: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: RunErrorInfo | null;
}

export interface StoredRun extends RunRow {
  workflow: unknown;
  targets: string[] | null;
  env: RunEnv | null;
  nodes: Record<string, NodeRecord>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,          -- queue order, lowest first; a front insert takes min(seq) - 1
  status TEXT NOT NULL,
  name TEXT,
  workflow TEXT NOT NULL,        -- JSON snapshot as submitted
  targets TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  error TEXT,
  env TEXT
);
CREATE INDEX IF NOT EXISTS runs_status_seq ON runs (status, seq);
CREATE TABLE IF NOT EXISTS run_nodes (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  node_id TEXT NOT NULL,
  status TEXT NOT NULL,
  ms REAL NOT NULL,
  cached INTEGER NOT NULL,
  outputs TEXT NOT NULL,
  artifacts TEXT,
  error TEXT,
  PRIMARY KEY (run_id, node_id)
);
CREATE TABLE IF NOT EXISTS workflows (
  name TEXT NOT NULL,
  rev INTEGER NOT NULL,
  body TEXT,                     -- NULL marks a deletion (history is kept)
  created_at TEXT NOT NULL,
  PRIMARY KEY (name, rev)
);
`;

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));
const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

interface RawRun {
  id: string; status: RunState; name: string | null; workflow: string; targets: string | null;
  created_at: string; started_at: string | null; finished_at: string | null; error: string | null; env: string | null;
}

export class RunStore {
  readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Runs left `running` by a process that died are marked interrupted; returns their ids. */
  interruptRunning(): string[] {
    const ids = this.db.prepare(`SELECT id FROM runs WHERE status = 'running'`).pluck().all() as string[];
    this.db.prepare(`UPDATE runs SET status = 'interrupted', finished_at = ? WHERE status = 'running'`).run(new Date().toISOString());
    return ids;
  }

  /** Adds a run to the queue (or, for a run executed in-process like `cadflow run`, straight as running). */
  enqueue(run: { runId: string; workflow: unknown; targets?: string[]; front?: boolean; running?: boolean }): void {
    const bound = this.db.prepare(run.front ? `SELECT MIN(seq) FROM runs` : `SELECT MAX(seq) FROM runs`).pluck().get() as number | null;
    const seq = bound === null ? 0 : run.front ? bound - 1 : bound + 1;
    const name = (run.workflow as { name?: unknown })?.name;
    const now = new Date().toISOString();
    this.db.prepare(`INSERT INTO runs (id, seq, status, name, workflow, targets, created_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(run.runId, seq, run.running ? 'running' : 'queued', typeof name === 'string' ? name : null, JSON.stringify(run.workflow),
        json(run.targets?.length ? run.targets : null), now, run.running ? now : null);
  }

  queued(): string[] {
    return this.db.prepare(`SELECT id FROM runs WHERE status = 'queued' ORDER BY seq`).pluck().all() as string[];
  }

  setStatus(runId: string, status: RunState, extra: { error?: RunErrorInfo; env?: RunEnv } = {}): void {
    const now = new Date().toISOString();
    if (status === 'running') {
      this.db.prepare(`UPDATE runs SET status = ?, started_at = ? WHERE id = ?`).run(status, now, runId);
    } else {
      this.db.prepare(`UPDATE runs SET status = ?, finished_at = ?, error = COALESCE(?, error), env = COALESCE(?, env) WHERE id = ?`)
        .run(status, status === 'queued' ? null : now, json(extra.error), json(extra.env), runId);
    }
  }

  saveNode(runId: string, nodeId: string, rec: NodeRecord): void {
    this.db.prepare(`INSERT OR REPLACE INTO run_nodes (run_id, node_id, status, ms, cached, outputs, artifacts, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(runId, nodeId, rec.status, rec.ms, rec.cached ? 1 : 0, JSON.stringify(rec.outputs), json(rec.artifacts), rec.error ?? null);
  }

  private row(r: RawRun): RunRow {
    return {
      runId: r.id, status: r.status, name: r.name, createdAt: r.created_at, startedAt: r.started_at,
      finishedAt: r.finished_at, error: parse<RunErrorInfo>(r.error),
    };
  }

  listRuns(limit = 50): RunRow[] {
    const rows = this.db.prepare(`SELECT * FROM runs ORDER BY created_at DESC, seq DESC LIMIT ?`).all(limit) as RawRun[];
    return rows.map((r) => this.row(r));
  }

  getRun(runId: string): StoredRun | undefined {
    const r = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(runId) as RawRun | undefined;
    if (!r) return undefined;
    const nodes: Record<string, NodeRecord> = {};
    const rows = this.db.prepare(`SELECT * FROM run_nodes WHERE run_id = ? ORDER BY rowid`).all(runId) as {
      node_id: string; status: NodeRecord['status']; ms: number; cached: number; outputs: string; artifacts: string | null; error: string | null;
    }[];
    for (const n of rows) {
      nodes[n.node_id] = {
        status: n.status, ms: n.ms, cached: n.cached === 1, outputs: JSON.parse(n.outputs),
        ...(n.artifacts ? { artifacts: JSON.parse(n.artifacts) } : {}), ...(n.error ? { error: n.error } : {}),
      };
    }
    return { ...this.row(r), workflow: JSON.parse(r.workflow), targets: parse<string[]>(r.targets), env: parse<RunEnv>(r.env), nodes };
  }

  // workflow revisions

  saveWorkflow(name: string, body: unknown): number {
    return this.db.transaction(() => {
      const rev = ((this.db.prepare(`SELECT MAX(rev) FROM workflows WHERE name = ?`).pluck().get(name) as number | null) ?? 0) + 1;
      this.db.prepare(`INSERT INTO workflows (name, rev, body, created_at) VALUES (?, ?, ?, ?)`)
        .run(name, rev, body === null ? null : JSON.stringify(body), new Date().toISOString());
      return rev;
    })();
  }

  /** The latest revision (or a given one); undefined when missing or deleted. */
  getWorkflow(name: string, rev?: number): { rev: number; body: unknown; revisions: number } | undefined {
    const revisions = (this.db.prepare(`SELECT MAX(rev) FROM workflows WHERE name = ?`).pluck().get(name) as number | null) ?? 0;
    const row = (rev === undefined
      ? this.db.prepare(`SELECT rev, body FROM workflows WHERE name = ? ORDER BY rev DESC LIMIT 1`).get(name)
      : this.db.prepare(`SELECT rev, body FROM workflows WHERE name = ? AND rev = ?`).get(name, rev)) as { rev: number; body: string | null } | undefined;
    if (!row || row.body === null) return undefined;
    return { rev: row.rev, body: JSON.parse(row.body), revisions };
  }

  listWorkflows(): { name: string; rev: number; updatedAt: string }[] {
    return (this.db.prepare(`SELECT name, rev, body, created_at FROM workflows w WHERE rev = (SELECT MAX(rev) FROM workflows WHERE name = w.name) ORDER BY name`).all() as
      { name: string; rev: number; body: string | null; created_at: string }[])
      .filter((w) => w.body !== null)
      .map((w) => ({ name: w.name, rev: w.rev, updatedAt: w.created_at }));
  }
}
