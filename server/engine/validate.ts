// Validation before anything runs: returns every error at once, and the execution plan when there are none.
import { canConnect, type SocketType } from '../../nodes/sdk/sockets.ts';
import type { AnyNodeDef } from '../../nodes/sdk/define.ts';
import { capErrors, parseWorkflow, type Link, type Workflow } from './schema.ts';
import type { NodeRegistry } from './registry.ts';

export type ValidationKind =
  | 'bad_workflow' | 'unknown_type' | 'bad_version' | 'missing_input' | 'unknown_input' | 'type_mismatch'
  | 'bad_param' | 'dangling_link' | 'unknown_output' | 'cycle' | 'unknown_target' | 'too_many_errors';

export interface ValidationError {
  /** null for errors about the whole workflow. */
  nodeId: string | null;
  kind: ValidationKind;
  param?: string;
  message: string;
}

export interface PlannedNode {
  id: string;
  def: AnyNodeDef;
  /** Params after migration and schema parsing (defaults filled in). */
  params: Record<string, unknown>;
  /** input name → links (a single link is a one-element list unless the input is `multiple`). */
  inputs: Record<string, Link[]>;
}

export interface Plan {
  workflow: Workflow;
  /** Only the nodes needed for the targets, in a topological order. */
  order: PlannedNode[];
}

export type ValidationResult = { ok: true; plan: Plan; errors: [] } | { ok: false; errors: ValidationError[] };

/** Node ids, input and output names come from the request: look them up as own keys only, never the prototype's. */
function own<T>(map: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function linksOf(v: Link | Link[]): Link[] {
  return Array.isArray(v[0]) ? (v as Link[]) : [v as Link];
}

function migrateParams(def: AnyNodeDef, from: number, params: Record<string, unknown>): Record<string, unknown> {
  let p = params;
  for (let v = from; v < def.typeVersion; v++) p = def.migrations?.[v]?.(p) ?? p;
  return p;
}

/** The nodes `targets` needs (themselves and everything upstream); all nodes when targets is empty. */
function neededNodes(wf: Workflow, targets: string[] | undefined): Set<string> {
  if (!targets?.length) return new Set(Object.keys(wf.nodes));
  const needed = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const id = stack.pop()!;
    const node = own(wf.nodes, id);
    if (needed.has(id) || !node) continue;
    needed.add(id);
    for (const v of Object.values(node.inputs)) for (const [src] of linksOf(v)) stack.push(src);
  }
  return needed;
}

/**
 * Checks a raw workflow (any supported version) against the registry. With `targets`, errors in nodes
 * the targets do not need are ignored, so a half-wired graph can still run its finished part.
 */
export function validateWorkflow(raw: unknown, registry: NodeRegistry, targets?: string[]): ValidationResult {
  const parsed = parseWorkflow(raw);
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  const wf = parsed.workflow;
  const errors: ValidationError[] = [];
  if (!Object.keys(wf.nodes).length) errors.push({ nodeId: null, kind: 'bad_workflow', message: 'nothing to run: the workflow has no nodes' });
  for (const t of targets ?? []) {
    if (!own(wf.nodes, t)) errors.push({ nodeId: t, kind: 'unknown_target', message: `target ${t} is not a node of this workflow` });
  }
  const needed = neededNodes(wf, targets);
  const planned = new Map<string, PlannedNode>();

  for (const [id, node] of Object.entries(wf.nodes)) {
    const def = registry.get(node.type);
    if (!def) {
      errors.push({ nodeId: id, kind: 'unknown_type', message: registry.unknownTypeMessage(node.type, wf.meta) });
      continue;
    }
    const from = node.typeVersion ?? def.typeVersion;
    if (from > def.typeVersion) {
      errors.push({ nodeId: id, kind: 'bad_version', message: `${node.type} typeVersion ${from} is newer than the installed ${def.typeVersion}` });
      continue;
    }
    let params: Record<string, unknown> = {};
    const migrated = migrateParams(def, from, node.params);
    const known = new Set(Object.keys(def.params.shape));
    for (const key of Object.keys(migrated)) {
      if (!known.has(key)) errors.push({ nodeId: id, kind: 'bad_param', param: key, message: `${node.type} has no parameter ${key}` });
    }
    const result = def.params.safeParse(migrated);
    if (result.success) params = result.data as Record<string, unknown>;
    else {
      for (const issue of result.error.issues) {
        const param = issue.path.length ? String(issue.path[0]) : undefined;
        errors.push({ nodeId: id, kind: 'bad_param', param, message: `${issue.path.join('.') || 'params'}: ${issue.message}` });
      }
    }
    const inputs: Record<string, Link[]> = {};
    for (const [name, value] of Object.entries(node.inputs)) {
      const spec = own(def.inputs, name);
      if (!spec) {
        errors.push({ nodeId: id, kind: 'unknown_input', message: `${node.type} has no input ${name}` });
        continue;
      }
      const links = linksOf(value);
      if (links.length > 1 && !spec.multiple) {
        errors.push({ nodeId: id, kind: 'type_mismatch', message: `input ${name} takes one link, got ${links.length}` });
      }
      for (const [src, output] of links) {
        const srcNode = own(wf.nodes, src);
        if (!srcNode) {
          errors.push({ nodeId: id, kind: 'dangling_link', message: `input ${name} links to missing node ${src}` });
          continue;
        }
        const srcDef = registry.get(srcNode.type);
        if (!srcDef) continue; // reported as unknown_type on the source
        const out = own(srcDef.outputs, output);
        if (!out) {
          errors.push({ nodeId: id, kind: 'unknown_output', message: `input ${name}: ${src} (${srcNode.type}) has no output ${output}` });
          continue;
        }
        if (!canConnect(out.type, spec.type)) {
          const want = ([] as SocketType[]).concat(spec.type as SocketType | SocketType[]).join('|');
          errors.push({ nodeId: id, kind: 'type_mismatch', message: `input ${name} takes ${want}, but ${src}.${output} is ${out.type}` });
        }
      }
      inputs[name] = links;
    }
    for (const [name, spec] of Object.entries(def.inputs)) {
      if (!spec.optional && !own(node.inputs, name)) {
        errors.push({ nodeId: id, kind: 'missing_input', message: `required input ${name} (${([] as string[]).concat(spec.type).join('|')}) is not connected` });
      }
    }
    planned.set(id, { id, def, params, inputs });
  }

  const order = topoOrder(wf, errors);
  const relevant = errors.filter((e) => e.nodeId === null || needed.has(e.nodeId) || e.kind === 'unknown_target');
  if (relevant.length) return { ok: false, errors: capErrors(relevant) };
  return { ok: true, errors: [], plan: { workflow: registry.stampPacks(wf), order: order.filter((id) => needed.has(id)).map((id) => planned.get(id)!) } };
}

/** Kahn's algorithm in declaration order (stable, so runs are reproducible); nodes left over form cycles. */
function topoOrder(wf: Workflow, errors: ValidationError[]): string[] {
  const ids = Object.keys(wf.nodes);
  const indegree = new Map(ids.map((id) => [id, 0]));
  const consumers = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const id of ids) {
    const sources = new Set<string>();
    for (const v of Object.values(wf.nodes[id].inputs)) for (const [src] of linksOf(v)) if (own(wf.nodes, src)) sources.add(src);
    for (const src of sources) {
      indegree.set(id, indegree.get(id)! + 1);
      consumers.get(src)!.push(id);
    }
  }
  const ready = ids.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  for (let i = 0; i < ready.length; i++) {
    const id = ready[i];
    order.push(id);
    for (const c of consumers.get(id)!) {
      indegree.set(c, indegree.get(c)! - 1);
      if (indegree.get(c) === 0) ready.push(c);
    }
  }
  if (order.length < ids.length) {
    const stuck = ids.filter((id) => indegree.get(id)! > 0);
    for (const id of stuck) {
      errors.push({ nodeId: id, kind: 'cycle', message: `node is part of (or downstream of) a cycle among ${stuck.join(', ')}` });
    }
  }
  return order;
}
