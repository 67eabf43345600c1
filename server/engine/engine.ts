// The graph executor: runs a validated plan in topological order with signature-hash caching,
// cooperative cancel and per-node events. One Engine per process (its cache outlives runs).
import { createHash, randomUUID } from 'node:crypto';
import type { AnyNodeDef, ArtifactRef, NodeContext } from '../../nodes/sdk/define.ts';
import { CancelledError, NodeInputError, NodeParamError } from '../../nodes/sdk/errors.ts';
import { initRuntime, tf, type BackendInfo } from '../../nodes/sdk/runtime.ts';
import { OutputCache, ValueRefs, type CacheLimits } from './cache.ts';
import type { NodeRegistry } from './registry.ts';
import { summarizeOutput, withImageArtifacts } from './summary.ts';
import { validateWorkflow, type Plan, type PlannedNode, type ValidationError } from './validate.ts';
import type { Workflow } from './schema.ts';

export interface ArtifactSink {
  put(name: string, bytes: Uint8Array, mime: string): Promise<ArtifactRef>;
}

/** Callbacks for live streaming; the server turns them into socket.io events. */
export interface RunListener {
  nodeStart?(nodeId: string): void;
  nodeCached?(nodeId: string): void;
  nodeProgress?(nodeId: string, value: number, max: number, label?: string): void;
  nodePreview?(nodeId: string, png: Uint8Array, step: number, label?: string): void;
  nodeLog?(nodeId: string, message: string): void;
  nodeOutput?(nodeId: string, summaries: Record<string, unknown>, artifacts: ArtifactRef[]): void;
  /** A node's final record (done, cached, error or cancelled), e.g. for persisting it at once. */
  nodeDone?(nodeId: string, record: NodeRecord): void;
}

export type RunStatus = 'done' | 'error' | 'cancelled';
export type NodeStatus = 'done' | 'error' | 'cancelled';

export interface NodeRecord {
  status: NodeStatus;
  ms: number;
  cached: boolean;
  outputs: Record<string, unknown>;
  artifacts?: ArtifactRef[];
  error?: string;
}

export interface RunErrorInfo {
  nodeId: string | null;
  kind: string;
  param?: string;
  message: string;
  errors?: ValidationError[];
}

export interface RunEnv {
  backend: BackendInfo;
  versions: Record<string, string>;
  hashes: Record<string, string>;
  seeds: Record<string, number | number[]>;
}

/** The run record: run.json, GET /api/runs/:id, the history table. */
export interface RunRecord {
  runId: string;
  status: RunStatus;
  workflow: Workflow;
  targets?: string[];
  env: RunEnv;
  nodes: Record<string, NodeRecord>;
  error?: RunErrorInfo;
  startedAt: string;
  finishedAt: string;
}

export interface RunOptions {
  runId?: string;
  targets?: string[];
  signal?: AbortSignal;
  listener?: RunListener;
  /** Keep non-cached output values alive after the run (the caller then calls result.release()). */
  keepOutputs?: boolean;
}

export interface RunResult {
  record: RunRecord;
  /** Live output values of the nodes that ran or were cached (until released / evicted). */
  outputs: Map<string, Record<string, unknown>>;
  release(): void;
}

export class ValidationFailed extends Error {
  constructor(public readonly errors: ValidationError[]) {
    super(errors.map((e) => `${e.nodeId ?? 'workflow'}: ${e.kind}: ${e.message}`).join('\n'));
    this.name = 'ValidationFailed';
  }
}

export interface EngineOptions {
  registry: NodeRegistry;
  artifacts: ArtifactSink;
  dirs: NodeContext['dirs'];
  cache?: Partial<CacheLimits>;
}

const CADFLOW_VERSION = '0.1.0';

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function errorInfo(nodeId: string, def: AnyNodeDef, err: unknown): RunErrorInfo {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof NodeParamError) return { nodeId, kind: 'bad_param', param: err.param, message: `${nodeId} (${def.type}) param ${err.param}: ${msg}` };
  if (err instanceof NodeInputError) return { nodeId, kind: 'bad_input', param: err.input, message: `${nodeId} (${def.type}) input ${err.input}: ${msg}` };
  return { nodeId, kind: 'node_error', message: `${nodeId} (${def.type}) failed: ${msg}` };
}

export class Engine {
  readonly refs = new ValueRefs();
  readonly cache: OutputCache;

  private constructor(readonly opts: EngineOptions, readonly backend: BackendInfo) {
    this.cache = new OutputCache(this.refs, {
      maxEntries: opts.cache?.maxEntries ?? 2000,
      maxBytes: opts.cache?.maxBytes ?? Number(process.env.CADFLOW_CACHE_MB ?? 1024) * 2 ** 20,
    });
  }

  static async create(opts: EngineOptions): Promise<Engine> {
    return new Engine(opts, await initRuntime());
  }

  get registry(): NodeRegistry { return this.opts.registry; }

  validate(raw: unknown, targets?: string[]) {
    return validateWorkflow(raw, this.opts.registry, targets);
  }

  /** Runs a workflow. Throws ValidationFailed for a bad graph; node failures and cancels are in the record. */
  async run(raw: unknown, opts: RunOptions = {}): Promise<RunResult> {
    const v = this.validate(raw, opts.targets);
    if (!v.ok) throw new ValidationFailed(v.errors);
    return this.runPlan(v.plan, opts);
  }

  async runPlan(plan: Plan, opts: RunOptions = {}): Promise<RunResult> {
    const runId = opts.runId ?? randomUUID();
    const signal = opts.signal ?? new AbortController().signal;
    const listener = opts.listener ?? {};
    const startedAt = new Date().toISOString();
    const env: RunEnv = {
      backend: this.backend,
      versions: { cadflow: CADFLOW_VERSION, node: process.version, tfjs: tf.version.tfjs },
      hashes: {},
      seeds: {},
    };
    const nodes: Record<string, NodeRecord> = {};
    const outputs = new Map<string, Record<string, unknown>>();
    const signatures = new Map<string, string>();
    const pinned: string[] = [];
    const owned: unknown[] = []; // non-cached values this run holds a reference on
    let status: RunStatus = 'done';
    let error: RunErrorInfo | undefined;
    const finish = (nodeId: string, rec: NodeRecord) => {
      nodes[nodeId] = rec;
      listener.nodeDone?.(nodeId, rec);
    };

    for (const node of plan.order) {
      if (signal.aborted) {
        status = 'cancelled';
        break;
      }
      let sig: string;
      try {
        sig = await this.signature(node, signatures, runId);
      } catch (err) { // a node's own signature() failed (e.g. a model file it hashes is missing)
        status = 'error';
        error = errorInfo(node.id, node.def, err);
        finish(node.id, { status: 'error', ms: 0, cached: false, outputs: {}, error: error.message });
        break;
      }
      signatures.set(node.id, sig);
      const cacheable = node.def.cacheable !== false;
      const hit = cacheable ? this.cache.get(sig) : undefined;
      if (hit) {
        this.cache.pin(sig);
        pinned.push(sig);
        outputs.set(node.id, hit.outputs);
        Object.assign(env.hashes, hit.recorded.hashes);
        for (const [k, s] of Object.entries(hit.recorded.seeds)) env.seeds[`${node.id}.${k}`] = s;
        listener.nodeCached?.(node.id);
        listener.nodeOutput?.(node.id, hit.summaries, hit.artifacts);
        finish(node.id, { status: 'done', ms: 0, cached: true, outputs: hit.summaries, ...(hit.artifacts.length ? { artifacts: hit.artifacts } : {}) });
        continue;
      }
      const artifacts: ArtifactRef[] = [];
      const recorded: { seeds: Record<string, number | number[]>; hashes: Record<string, string> } = { seeds: {}, hashes: {} };
      const ctx = this.context(runId, node.id, signal, listener, artifacts, recorded);
      listener.nodeStart?.(node.id);
      const t0 = performance.now();
      let produced: Record<string, unknown> | undefined;
      try {
        produced = await node.def.execute(ctx, this.gatherInputs(node, outputs), node.params);
        const missing = Object.keys(node.def.outputs).filter((k) => produced?.[k] === undefined);
        if (missing.length) throw new Error(`did not return output(s) ${missing.join(', ')}`);
        ctx.throwIfAborted();
      } catch (err) {
        const ms = Math.round((performance.now() - t0) * 100) / 100;
        for (const value of Object.values(produced ?? {})) this.refs.release(this.retained(value));
        if (err instanceof CancelledError || signal.aborted) {
          status = 'cancelled';
          finish(node.id, { status: 'cancelled', ms, cached: false, outputs: {} });
        } else {
          status = 'error';
          error = errorInfo(node.id, node.def, err);
          finish(node.id, { status: 'error', ms, cached: false, outputs: {}, error: error.message });
        }
        break;
      }
      const ms = Math.round((performance.now() - t0) * 100) / 100;
      const values = Object.fromEntries(Object.keys(node.def.outputs).map((k) => [k, produced![k]]));
      const summaries = withImageArtifacts(node.def, Object.fromEntries(Object.entries(values).map(([k, val]) => [k, summarizeOutput(node.def, k, val)])), artifacts);
      if (cacheable) {
        this.cache.pin(sig);
        pinned.push(sig);
        this.cache.set(sig, { outputs: values, summaries, artifacts, recorded });
      } else {
        for (const val of Object.values(values)) owned.push(this.retained(val));
      }
      for (const [k, s] of Object.entries(recorded.seeds)) env.seeds[`${node.id}.${k}`] = s;
      Object.assign(env.hashes, recorded.hashes);
      outputs.set(node.id, values);
      listener.nodeOutput?.(node.id, summaries, artifacts);
      finish(node.id, { status: 'done', ms, cached: false, outputs: summaries, ...(artifacts.length ? { artifacts } : {}) });
    }

    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const val of owned) this.refs.release(val);
      for (const sig of pinned) this.cache.unpin(sig);
      this.cache.evict();
    };
    if (!opts.keepOutputs) release();
    const record: RunRecord = {
      runId, status, workflow: plan.workflow, ...(opts.targets?.length ? { targets: opts.targets } : {}),
      env, nodes, ...(error ? { error } : {}), startedAt, finishedAt: new Date().toISOString(),
    };
    return { record, outputs, release };
  }

  /** Drops every cached output (disposing what nothing else holds). */
  clearCache(): void {
    this.cache.clear();
  }

  private retained(v: unknown): unknown {
    this.refs.retain(v);
    return v;
  }

  private gatherInputs(node: PlannedNode, outputs: Map<string, Record<string, unknown>>): Record<string, unknown> {
    const inputs: Record<string, unknown> = {};
    for (const [name, links] of Object.entries(node.inputs)) {
      const values = links.map(([src, out]) => outputs.get(src)?.[out]);
      inputs[name] = node.def.inputs[name].multiple ? values : values[0];
    }
    return inputs;
  }

  /**
   * type@typeVersion + params + upstream signatures + the node's own extra strings (weights hashes, seeds).
   * A non-cacheable node salts its signature with the run id, so nothing downstream of it is reused either.
   */
  private async signature(node: PlannedNode, signatures: Map<string, string>, runId: string): Promise<string> {
    const upstream = Object.keys(node.inputs).sort().map((name) => [name, node.inputs[name].map(([src, out]) => [signatures.get(src), out])]);
    const extra = node.def.signature ? await node.def.signature(node.params as never) : [];
    const salt = node.def.cacheable === false ? runId : '';
    const text = stableJson([`${node.def.type}@${node.def.typeVersion}`, node.params, upstream, extra, salt]);
    return createHash('sha256').update(text).digest('hex');
  }

  /** The NodeContext implementation (the harness runs through this same engine). */
  private context(
    runId: string, nodeId: string, signal: AbortSignal, listener: RunListener, artifacts: ArtifactRef[],
    recorded: { seeds: Record<string, number | number[]>; hashes: Record<string, string> },
  ): NodeContext {
    return {
      runId, nodeId, signal, dirs: this.opts.dirs,
      progress: (value, max, label) => listener.nodeProgress?.(nodeId, value, max, label),
      preview: (png, step, label) => listener.nodePreview?.(nodeId, png, step, label),
      log: (message) => listener.nodeLog?.(nodeId, message),
      writeArtifact: async (name, bytes, mime) => {
        const ref = await this.opts.artifacts.put(name, bytes, mime);
        artifacts.push(ref);
        return ref;
      },
      throwIfAborted: () => {
        if (signal.aborted) throw new CancelledError();
      },
      record: (info) => {
        Object.assign(recorded.seeds, info.seeds ?? {});
        Object.assign(recorded.hashes, info.hashes ?? {});
      },
    };
  }
}
