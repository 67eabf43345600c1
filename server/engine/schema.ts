// The workflow file (ARCHITECTURE §4), defined once with zod, and the migrations that bring older files to v1.
import { z } from 'zod';

export const WORKFLOW_FORMAT = 'cadflow.workflow';
export const WORKFLOW_VERSION = 1;

/** Names that would reach Object.prototype if used as keys; refused as node ids, param and input names. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
export const NodeIdSchema = z.string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'node ids are 1-64 of [A-Za-z0-9_-], not starting with a digit or dash')
  .refine((id) => !RESERVED_KEYS.has(id), 'reserved node id');

/**
 * A record whose keys may not be reserved names. zod drops a `__proto__` key silently, so the raw keys are
 * checked before the record parses: the file is refused with a clear error instead of losing the entry.
 */
function safeRecord<K extends z.ZodType<string>, V extends z.ZodType>(what: string, key: K, value: V) {
  return z.preprocess((raw, ctx) => {
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      for (const k of Object.keys(raw)) {
        if (RESERVED_KEYS.has(k)) ctx.addIssue({ code: 'custom', path: [k], input: raw, message: `${k} is reserved and cannot be ${what}` });
      }
    }
    return raw;
  }, z.record(key, value));
}
/** [sourceNodeId, outputName] */
export const LinkSchema = z.tuple([z.string().max(64), z.string().max(64)]);
export type Link = z.infer<typeof LinkSchema>;

export const WorkflowNodeSchema = z.object({
  type: z.string().min(1).max(100),
  /** Missing means "the node type's current version". */
  typeVersion: z.number().int().min(1).optional(),
  params: safeRecord('a parameter name', z.string(), z.unknown()).default({}),
  /** One link per input, or a list of links for inputs declared `multiple`. */
  inputs: safeRecord('an input name', z.string().max(64), z.union([LinkSchema, z.array(LinkSchema).max(256)])).default({}),
  ui: z.record(z.string(), z.unknown()).optional(),
});
export type WorkflowNode = z.infer<typeof WorkflowNodeSchema>;

export const WorkflowSchema = z.object({
  format: z.literal(WORKFLOW_FORMAT),
  version: z.literal(WORKFLOW_VERSION),
  name: z.string().max(200).optional(),
  nodes: safeRecord('a node id', NodeIdSchema, WorkflowNodeSchema).refine((n) => Object.keys(n).length <= 5000, 'at most 5000 nodes'),
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type Workflow = z.infer<typeof WorkflowSchema>;

/**
 * v0 was the pre-release layout: nodes as a list with ids, links as a separate list
 * `{ from: [node, output], to: [node, input] }`. Kept so early saved graphs still open.
 */
function v0ToV1(raw: Record<string, unknown>): Record<string, unknown> {
  const list = Array.isArray(raw.nodes) ? (raw.nodes as Record<string, unknown>[]) : [];
  // null-prototype maps: ids and input names come from the file (a link into "toString" finds no node)
  const nodes: Record<string, Record<string, unknown>> = Object.create(null);
  for (const n of list) {
    if (typeof n !== 'object' || n === null || typeof n.id !== 'string') continue;
    const { id, ...rest } = n;
    nodes[id as string] = { ...rest, inputs: Object.create(null) };
  }
  for (const l of Array.isArray(raw.links) ? (raw.links as { from?: unknown; to?: unknown }[]) : []) {
    if (!Array.isArray(l?.from) || !Array.isArray(l?.to)) continue;
    const target = nodes[String(l.to[0])];
    if (!target) continue;
    const inputs = target.inputs as Record<string, unknown>;
    const input = String(l.to[1]);
    const link = [String(l.from[0]), String(l.from[1])];
    // a second link into the same input makes it a list (inputs declared `multiple`)
    const prev = inputs[input] as unknown[] | undefined;
    inputs[input] = prev === undefined ? link : Array.isArray(prev[0]) ? [...(prev as unknown[]), link] : [prev, link];
  }
  const { links: _links, nodes: _nodes, ...rest } = raw;
  return { ...rest, format: WORKFLOW_FORMAT, version: 1, nodes, meta: raw.meta ?? {} };
}

/** migrations[v] turns a version-v file into version v+1. */
export const WORKFLOW_MIGRATIONS: Record<number, (raw: Record<string, unknown>) => Record<string, unknown>> = {
  0: v0ToV1,
};

/** At most this many errors are listed: a hostile 2 MB body can hold hundreds of thousands. */
export const MAX_ERRORS = 100;
export interface TooManyErrors { nodeId: null; kind: 'too_many_errors'; message: string }

/** The first MAX_ERRORS errors, then one `too_many_errors` entry saying how many were left out. */
export function capErrors<E>(errors: E[]): (E | TooManyErrors)[] {
  if (errors.length <= MAX_ERRORS) return errors;
  const left = errors.length - MAX_ERRORS;
  return [...errors.slice(0, MAX_ERRORS), { nodeId: null, kind: 'too_many_errors', message: `${left} more error(s) left out: only the first ${MAX_ERRORS} are listed` }];
}

export type ParseResult =
  | { ok: true; workflow: Workflow }
  | { ok: false; errors: ({ nodeId: string | null; kind: 'bad_workflow'; message: string } | TooManyErrors)[] };

/** Migrates an older file to the current version, then checks its shape. Never throws on bad input. */
export function parseWorkflow(raw: unknown): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: [{ nodeId: null, kind: 'bad_workflow', message: 'a workflow is a JSON object' }] };
  }
  let doc = raw as Record<string, unknown>;
  let version = doc.version === undefined && Array.isArray(doc.nodes) ? 0 : doc.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) {
    return { ok: false, errors: [{ nodeId: null, kind: 'bad_workflow', message: `version must be an integer (current: ${WORKFLOW_VERSION})` }] };
  }
  if (version > WORKFLOW_VERSION) {
    return { ok: false, errors: [{ nodeId: null, kind: 'bad_workflow', message: `workflow version ${version} is newer than this cadflow supports (${WORKFLOW_VERSION})` }] };
  }
  while (version < WORKFLOW_VERSION) doc = WORKFLOW_MIGRATIONS[version++](doc);
  const parsed = WorkflowSchema.safeParse(doc);
  if (parsed.success) return { ok: true, workflow: parsed.data };
  return {
    ok: false,
    errors: capErrors(parsed.error.issues.map((i) => {
      const inNodes = i.path[0] === 'nodes' && typeof i.path[1] === 'string';
      return {
        nodeId: inNodes ? (i.path[1] as string) : null,
        kind: 'bad_workflow' as const,
        message: `${i.path.join('.') || '(root)'}: ${i.message}`,
      };
    })),
  };
}
