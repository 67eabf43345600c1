// Headless harness for tests: run a workflow (file or object) through the real engine — the same
// NodeContext implementation the server uses — and assert outputs, "did run" and "was cached".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type RunListener, type RunRecord } from './engine/engine.ts';
import { loadRegistry, MODELS_DIR, type NodeRegistry } from './engine/registry.ts';
import { applyOverrides, readWorkflowFile } from './engine/workflow-file.ts';
import { ArtifactStore } from './store/artifacts.ts';
import type { NodePack } from '../nodes/sdk/define.ts';

export interface HarnessOptions {
  /** Packs given directly (e.g. a test pack); built-in packs are then loaded only if `builtin` is true. */
  packs?: NodePack[];
  /** Pack folders to import (each with an index.ts). */
  packDirs?: string[];
  /** Load nodes/<pack>/index.ts (default: true unless `packs` is given). */
  builtin?: boolean;
  /** Data folder for artifacts (default: a fresh temp folder, removed by close()). */
  dataDir?: string;
  cache?: { maxEntries?: number; maxBytes?: number };
}

export interface HarnessRunOptions {
  /** Param overrides by "nodeId.param", as `cadflow run --set`. */
  set?: Record<string, unknown>;
  targets?: string[];
  signal?: AbortSignal;
  listener?: RunListener;
}

export class HarnessRun {
  constructor(readonly record: RunRecord, private readonly values: Map<string, Record<string, unknown>>, readonly release: () => void) {}

  get status() { return this.record.status; }
  get error() { return this.record.error; }

  /** The live output value (valid until release() / harness.close()). */
  output(nodeId: string, name: string): unknown {
    const outs = this.values.get(nodeId);
    if (!outs || !(name in outs)) throw new Error(`node ${nodeId} produced no output ${name} in this run`);
    return outs[name];
  }

  /** The run.json summary of an output. */
  summary(nodeId: string, name: string): unknown {
    return this.record.nodes[nodeId]?.outputs[name];
  }

  /** The node executed in this run (not served from the cache). */
  didRun(nodeId: string): boolean {
    const n = this.record.nodes[nodeId];
    return !!n && !n.cached;
  }

  wasCached(nodeId: string): boolean {
    return this.record.nodes[nodeId]?.cached === true;
  }
}

export class Harness {
  private readonly runs: HarnessRun[] = [];
  constructor(readonly engine: Engine, private readonly tempDir: string | undefined) {}

  get registry(): NodeRegistry { return this.engine.registry; }

  validate(workflow: unknown, targets?: string[]) {
    return this.engine.validate(workflow, targets);
  }

  /** Runs a workflow file path or object. Throws ValidationFailed for a bad graph. */
  async run(workflow: string | object, opts: HarnessRunOptions = {}): Promise<HarnessRun> {
    const raw = typeof workflow === 'string' ? readWorkflowFile(workflow) : workflow;
    const result = await this.engine.run(applyOverrides(raw, opts.set ?? {}), {
      targets: opts.targets, signal: opts.signal, listener: opts.listener, keepOutputs: true,
    });
    const run = new HarnessRun(result.record, result.outputs, result.release);
    this.runs.push(run);
    return run;
  }

  /** Releases every run's outputs and empties the cache (all tensors the runs made are disposed). */
  close(): void {
    for (const r of this.runs.splice(0)) r.release();
    this.engine.clearCache();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}

export async function createHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const registry = await loadRegistry({ builtin: opts.builtin ?? !opts.packs, packDirs: opts.packDirs });
  for (const pack of opts.packs ?? []) registry.addPack(pack);
  const tempDir = opts.dataDir ? undefined : mkdtempSync(join(tmpdir(), 'cadflow-harness-'));
  const dataDir = opts.dataDir ?? tempDir!;
  const engine = await Engine.create({
    registry, artifacts: new ArtifactStore(join(dataDir, 'artifacts')), dirs: { data: dataDir, models: MODELS_DIR }, cache: opts.cache,
  });
  return new Harness(engine, tempDir);
}
