// The workflow file (ARCHITECTURE §4), defined once with zod, and the migrations that bring older files to v1.
import { z } from 'zod';

export const WORKFLOW_FORMAT = 'cadflow.workflow';
export const WORKFLOW_VERSION = 1;

const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
export const NodeIdSchema = z.string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'node ids are 1-64 of [A-Za-z0-9_-], not starting with a digit or dash')
  .refine((id) => !RESERVED_KEYS.has(id), 'reserved node id');
/** [sourceNodeId, outputName] */
export const LinkSchema = z.tuple([z.string().max(64), z.string().max(64)]);
export type Link = z.infer<typeof LinkSchema>;

export const WorkflowNodeSchema = z.object({
  type: z.string().min(1).max(100),
  /** Missing means "the node type's current version". */
  typeVersion: z.number().int().min(1).optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  /** One link per input, or a list of links for inputs declared `multiple`. */
  inputs: z.record(z.string().max(64), z.union([LinkSchema, z.array(LinkSchema).max(256)])).default({}),
  ui: z.record(z.string(), z.unknown()).optional(),
});
export type WorkflowNode = z.infer<typeof WorkflowNodeSchema>;

export const WorkflowSchema = z.object({
  format: z.literal(WORKFLOW_FORMAT),
  version: z.literal(WORKFLOW_VERSION),
  name: z.string().max(200).optional(),
  nodes: z.record(NodeIdSchema, WorkflowNodeSchema).refine((n) => Object.keys(n).length <= 5000, 'at most 5000 nodes'),
  meta: z.record(z.string(), z.unknown()).default({}),
});
export type Workflow = z.infer<typeof WorkflowSchema>;

/**
 * v0 was the pre-release layout: nodes as a list with ids, links as a separate list
 * `{ from: [node, output], to: [node, input] }`. Kept so early saved graphs still open.
 */
function v0ToV1(raw: Record<string, unknown>): Record<string, unknown> {
  const list = Array.isArray(raw.nodes) ? (raw.nodes as Record<string, unknown>[]) : [];
  const nodes: Record<string, Record<string, unknown>> = {};
  for (const n of list) {
    if (typeof n !== 'object' || n === null || typeof n.id !== 'string') continue;
    const { id, ...rest } = n;
    nodes[id as string] = { ...rest, inputs: {} };
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

export type ParseResult =
  | { ok: true; workflow: Workflow }
  | { ok: false; errors: { nodeId: string | null; kind: 'bad_workflow'; message: string }[] };

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
    errors: parsed.error.issues.slice(0, 100).map((i) => {
      const inNodes = i.path[0] === 'nodes' && typeof i.path[1] === 'string';
      return {
        nodeId: inNodes ? (i.path[1] as string) : null,
        kind: 'bad_workflow' as const,
        message: `${i.path.join('.') || '(root)'}: ${i.message}`,
      };
    }),
  };
}
