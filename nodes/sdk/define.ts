// defineNode: a node is one declarative schema (typed inputs/outputs, zod params) plus one async execute.
import { z } from 'zod';
import type { SocketType } from './sockets.ts';

export interface InputSpec {
  type: SocketType | readonly SocketType[];
  optional?: boolean;
  /** Accepts several links (e.g. EvaluateErasure's models); the value is then an array. */
  multiple?: boolean;
  description?: string;
}

export interface OutputSpec {
  type: SocketType;
  description?: string;
}

export interface ArtifactRef {
  id: string; // sha256 of the bytes
  name: string;
  mime: string;
  bytes: number;
}

/** What a running node may use. Implemented by the engine; the harness uses the same implementation. */
export interface NodeContext {
  readonly runId: string;
  readonly nodeId: string;
  /** Aborted when the run is cancelled (POST /api/runs/:id/cancel, Ctrl-C in `cadflow run`, server shutdown). */
  readonly signal: AbortSignal;
  /** Report progress of long work (value of max), e.g. sampler steps or gradient passes. */
  progress(value: number, max: number, label?: string): void;
  /** Stream an intermediate image (PNG bytes) to clients; `step` orders previews. */
  preview(png: Uint8Array, step: number, label?: string): void;
  log(message: string): void;
  /** Stores bytes content-addressed (atomic write) and returns a reference kept in the run record. */
  writeArtifact(name: string, bytes: Uint8Array, mime: string): Promise<ArtifactRef>;
  /** Throws CancelledError when the signal is aborted. Call it between steps. */
  throwIfAborted(): void;
  /**
   * Adds to the run's reproducibility record (run.json `env`): seeds used, hashes of weights/files read.
   * Keys are free-form but should name what they describe, e.g. { hashes: { 'shapes-tiny': sha256 } }.
   */
  record(info: { seeds?: Record<string, number | number[]>; hashes?: Record<string, string> }): void;
  /**
   * Root folders the node may read from (bundled models, user data). `modelRoots` is set for runs that come
   * from requests (the server): a model folder given as a path must lie inside one of them. The CLI leaves it unset.
   */
  readonly dirs: { data: string; models: string; modelRoots?: readonly string[] };
}

export type ParamsSchema = z.ZodObject<z.ZodRawShape>;

/** Optional inputs may be absent (undefined) when unconnected. */
type InputValues<I extends Record<string, InputSpec>> =
  { [K in keyof I as I[K] extends { optional: true } ? never : K]: any }
  & { [K in keyof I as I[K] extends { optional: true } ? K : never]?: any };
type OutputValues<O extends Record<string, OutputSpec>> = { [K in keyof O]: any };

export interface NodeDef<
  I extends Record<string, InputSpec> = Record<string, InputSpec>,
  O extends Record<string, OutputSpec> = Record<string, OutputSpec>,
  P extends ParamsSchema = ParamsSchema,
> {
  type: string;
  typeVersion: number;
  category: string;
  displayName?: string;
  description?: string;
  inputs: I;
  outputs: O;
  params: P;
  /** migrations[v] turns params of typeVersion v into those of v+1. */
  migrations?: Record<number, (params: Record<string, unknown>) => Record<string, unknown>>;
  /** false for nodes whose output must never be reused (default true). */
  cacheable?: boolean;
  /**
   * Extra strings folded into the cache signature (e.g. a model's weights hash, a file's mtime),
   * beyond type@typeVersion, params and upstream signatures.
   */
  signature?(params: z.infer<P>): string[] | Promise<string[]>;
  execute(ctx: NodeContext, inputs: InputValues<I>, params: z.infer<P>): Promise<OutputValues<O>>;
  /** Short JSON summary of an output value for run.json / node:output (default: by socket type). */
  summarize?(output: keyof O & string, value: unknown): unknown;
}

export type AnyNodeDef = NodeDef<Record<string, InputSpec>, Record<string, OutputSpec>, ParamsSchema>;

/** PascalCase, optionally namespaced by a third-party pack's name: `Sample`, `attention/ConceptHeatmap`. */
export const TYPE_ID = /^(?:[a-z][a-z0-9-]{0,49}\/)?[A-Z][A-Za-z0-9]{0,49}$/;
/** A third-party pack's name, which is also its node types' namespace. */
export const PACK_NAME = /^[a-z][a-z0-9-]{0,49}$/;

export function defineNode<
  I extends Record<string, InputSpec>,
  O extends Record<string, OutputSpec>,
  P extends ParamsSchema,
>(def: NodeDef<I, O, P>): NodeDef<I, O, P> {
  if (!TYPE_ID.test(def.type)) throw new Error(`defineNode: type id "${def.type}" must be PascalCase, optionally after "<pack>/"`);
  if (!Number.isInteger(def.typeVersion) || def.typeVersion < 1) {
    throw new Error(`defineNode(${def.type}): typeVersion must be a positive integer`);
  }
  for (let v = 1; v < def.typeVersion; v++) {
    if (def.typeVersion > 1 && def.migrations && !def.migrations[v]) {
      throw new Error(`defineNode(${def.type}): missing params migration from v${v}`);
    }
  }
  return Object.freeze(def);
}

/**
 * A node pack: a named list of node definitions (nodes/<pack>/index.ts default-exports one). A pack installed
 * from npm names its node types `<name>/<Type>` (docs/writing-nodes.md); the built-in packs keep bare ids.
 */
export interface NodePack {
  name: string;
  nodes: AnyNodeDef[];
}

export function defineNodePack(pack: NodePack): NodePack {
  return pack;
}
