// The open workflow: the `cadflow.workflow` JSON is the one source of truth; the Rete canvas mirrors it.
// Every mutation is one undo step (a store-level history of workflow snapshots), so a param edit, a move,
// a connection and a paste undo the same way whatever made them (keyboard, context menu, widget, shell).
import { defineStore } from 'pinia';
import { computed, ref, shallowRef } from 'vue';
import { z } from 'zod';
import { canConnect, type SocketType } from '@nodes/sdk/sockets.ts';
import { parseWorkflow, WORKFLOW_FORMAT, WORKFLOW_VERSION, type Link, type Workflow, type WorkflowNode } from '@server/engine/schema.ts';
import type { NodeTypeInfoWire, ValidationErrorWire } from '@server/wire.ts';
import { useRegistryStore } from './registry.ts';

export type ConnectResult = { ok: true } | { ok: false; reason: string };
export type ParamErrors = Record<string, Record<string, string>>;
export interface Position { x: number; y: number }

const HISTORY_LIMIT = 200;
/** Server validation kinds about a node's inputs: a new link into the input they name answers them. */
const INPUT_ERROR_KINDS = new Set(['missing_input', 'type_mismatch', 'dangling_link', 'unknown_output', 'unknown_input']);

export function emptyWorkflow(): Workflow {
  return { format: WORKFLOW_FORMAT, version: WORKFLOW_VERSION, nodes: {}, meta: {} };
}

/** Thrown by `load`/`paste` for a document that is not a workflow; `errors` are the schema's structured errors. */
export class WorkflowLoadError extends Error {
  constructor(readonly errors: { nodeId: string | null; message: string }[]) {
    super(errors.map((e) => e.message).join('; '));
  }
}

/** Parses and rebuilds the nodes map without a prototype, so no user-given id can reach Object.prototype. */
function toWorkflowState(raw: unknown): Workflow {
  const parsed = parseWorkflow(raw);
  if (!parsed.ok) throw new WorkflowLoadError(parsed.errors);
  const nodes: Record<string, WorkflowNode> = Object.create(null);
  for (const [id, node] of Object.entries(parsed.workflow.nodes)) nodes[id] = node;
  return { ...parsed.workflow, nodes };
}

const snapshot = (wf: Workflow): string => JSON.stringify(wf);

/** Links of one input as a list (an input holds one link, or a list when declared `multiple`). */
export function linksOf(value: Link | Link[] | undefined): Link[] {
  if (value === undefined) return [];
  return Array.isArray(value[0]) ? (value as Link[]) : [value as Link];
}

function typeLabel(t: SocketType | readonly SocketType[]): string {
  return typeof t === 'string' ? t : t.join('|');
}

/** `LoadModel` → `load_model`: the base of generated node ids (`load_model_1`, `sample_2`). */
function idBase(type: string): string {
  const snake = type.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  const base = /^[a-z_]/.test(snake) ? snake : `n_${snake}`;
  return base.slice(0, 56);
}

// ---- param validation against each param's JSON Schema (zod builds the validator from it) ----
const validators = new WeakMap<object, z.ZodType | null>();

function validatorFor(schema: Record<string, unknown>): z.ZodType | null {
  if (!validators.has(schema)) {
    let v: z.ZodType | null = null;
    try {
      v = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      v = null; // a schema zod cannot rebuild is left to the server's validation
    }
    validators.set(schema, v);
  }
  return validators.get(schema) ?? null;
}

const TYPE_WORDS: Record<string, string> = {
  int: 'a whole number', number: 'a number', string: 'text', boolean: 'true or false', array: 'a list', object: 'an object',
};

function issueMessage(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `item ${Number(issue.path[0]) + 1}: ` : '';
  const i = issue as z.core.$ZodIssue & Record<string, unknown>;
  const unit = i.origin === 'array' ? ' items' : i.origin === 'string' ? ' characters' : '';
  switch (issue.code) {
    case 'too_big': return `${where}must be ${i.inclusive === false ? '<' : '≤'} ${String(i.maximum)}${unit}`;
    case 'too_small': return `${where}must be ${i.inclusive === false ? '>' : '≥'} ${String(i.minimum)}${unit}`;
    case 'invalid_type': return `${where}must be ${TYPE_WORDS[String(i.expected)] ?? String(i.expected)}`;
    case 'invalid_value': return `${where}must be one of ${(i.values as unknown[]).map(String).join(', ')}`;
    case 'invalid_format': return `${where}must match ${String(i.pattern ?? i.format)}`;
    default: return `${where}${issue.message}`;
  }
}

/** The message for a param value that its JSON Schema refuses, or null when it is valid. */
export function checkParam(schema: Record<string, unknown>, value: unknown): string | null {
  const v = validatorFor(schema);
  if (!v) return null;
  const r = v.safeParse(value);
  return r.success ? null : issueMessage(r.error.issues[0]);
}

export function paramSchemas(def: NodeTypeInfoWire): Record<string, Record<string, unknown>> {
  return (def.params.properties ?? {}) as Record<string, Record<string, unknown>>;
}

export const useGraphStore = defineStore('graph', () => {
  const registry = useRegistryStore();
  const workflow = ref<Workflow>(toWorkflowState(emptyWorkflow()));
  /** The server workflow's name (null for a new, unsaved graph). */
  const name = ref<string | null>(null);
  /** A shipped workflow: edits are allowed, saving over it is not (the shell offers "save as"). */
  const readOnly = ref(false);
  const selected = ref<string[]>([]);
  /** The errors of the last run the server refused (POST /api/runs → 400 { errors }). */
  const serverErrors = ref<ValidationErrorWire[]>([]);
  const clean = ref(snapshot(workflow.value));
  /** Counts `load` calls, so views can tell a newly opened workflow from an edit (the canvas fits it to the view). */
  const loads = ref(0);
  const past = shallowRef<string[]>([]);
  const future = shallowRef<string[]>([]);
  let batchDepth = 0;
  let batchStart: string | null = null;

  const dirty = computed(() => snapshot(workflow.value) !== clean.value);
  const canUndo = computed(() => past.value.length > 0);
  const canRedo = computed(() => future.value.length > 0);
  const nodes = computed(() => workflow.value.nodes);

  /** Runs `fn` as one undo step (nested calls join the outer step); no step when nothing changed. */
  function batch<T>(fn: () => T): T {
    if (batchDepth++ === 0) batchStart = snapshot(workflow.value);
    try {
      return fn();
    } finally {
      if (--batchDepth === 0 && batchStart !== null) {
        if (snapshot(workflow.value) !== batchStart) {
          past.value = [...past.value, batchStart].slice(-HISTORY_LIMIT);
          future.value = [];
        }
        batchStart = null;
      }
    }
  }

  function node(id: string): WorkflowNode | undefined {
    return Object.hasOwn(workflow.value.nodes, id) ? workflow.value.nodes[id] : undefined;
  }

  function load(raw: unknown, opts: { name?: string | null; readOnly?: boolean } = {}): void {
    workflow.value = toWorkflowState(raw);
    name.value = opts.name ?? null;
    readOnly.value = opts.readOnly ?? false;
    selected.value = [];
    serverErrors.value = [];
    past.value = [];
    future.value = [];
    markClean();
    loads.value++;
  }

  /** A plain JSON copy of the open workflow (what is saved, exported and run). */
  function toWorkflow(): Workflow {
    return JSON.parse(snapshot(workflow.value)) as Workflow;
  }

  function markClean(): void {
    clean.value = snapshot(workflow.value);
  }

  function freshId(type: string, taken: (id: string) => boolean = (id) => node(id) !== undefined): string {
    const base = idBase(type);
    for (let n = 1; ; n++) if (!taken(`${base}_${n}`)) return `${base}_${n}`;
  }

  function addNode(type: string, pos: Position = { x: 0, y: 0 }): string {
    const def = registry.byType(type);
    if (!def) throw new Error(`unknown node type ${type}`);
    const id = freshId(type);
    batch(() => {
      workflow.value.nodes[id] = {
        type, typeVersion: def.typeVersion, params: {}, inputs: {}, ui: { x: Math.round(pos.x), y: Math.round(pos.y) },
      };
    });
    return id;
  }

  function removeNodes(ids: readonly string[]): void {
    const gone = new Set(ids.filter((id) => node(id) !== undefined));
    if (gone.size === 0) return;
    batch(() => {
      for (const id of gone) delete workflow.value.nodes[id];
      for (const n of Object.values(workflow.value.nodes)) {
        for (const [input, value] of Object.entries(n.inputs)) {
          const kept = linksOf(value).filter(([src]) => !gone.has(src));
          if (kept.length === linksOf(value).length) continue;
          if (kept.length === 0) delete n.inputs[input];
          else n.inputs[input] = Array.isArray(value[0]) ? kept : kept[0];
        }
      }
    });
    selected.value = selected.value.filter((id) => !gone.has(id));
  }

  /** Does `target` feed `start`, directly or through other nodes? */
  function isUpstream(target: string, start: string): boolean {
    const seen = new Set<string>();
    const stack = [start];
    while (stack.length) {
      const id = stack.pop()!;
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      const n = node(id);
      if (n) for (const v of Object.values(n.inputs)) for (const [src] of linksOf(v)) stack.push(src);
    }
    return false;
  }

  /** Checks a link without making it: the reason it would be refused, or null. */
  function connectionError(from: string, output: string, to: string, input: string): string | null {
    const src = node(from);
    const dst = node(to);
    if (!src) return `no node ${from}`;
    if (!dst) return `no node ${to}`;
    const srcDef = registry.byType(src.type);
    const dstDef = registry.byType(dst.type);
    if (!srcDef) return `unknown node type ${src.type}`;
    if (!dstDef) return `unknown node type ${dst.type}`;
    if (!Object.hasOwn(srcDef.outputs, output)) return `${srcDef.displayName} has no output ${output}`;
    if (!Object.hasOwn(dstDef.inputs, input)) return `${dstDef.displayName} has no input ${input}`;
    const outType = srcDef.outputs[output].type;
    const inType = dstDef.inputs[input].type;
    if (!canConnect(outType, inType)) return `${outType} cannot feed ${typeLabel(inType)} input ${input}`;
    if (from === to || isUpstream(to, from)) return `${from} → ${to} would make a cycle`;
    return null;
  }

  /** Links an output to an input; a new link replaces the input's old one unless the input is `multiple`. */
  function connect(from: string, output: string, to: string, input: string): ConnectResult {
    const reason = connectionError(from, output, to, input);
    if (reason) return { ok: false, reason };
    const dst = node(to)!;
    const multiple = registry.byType(dst.type)!.inputs[input].multiple === true;
    const link: Link = [from, output];
    batch(() => {
      const existing = Object.hasOwn(dst.inputs, input) ? linksOf(dst.inputs[input]) : [];
      if (!multiple) dst.inputs[input] = link;
      else if (!existing.some(([a, b]) => a === from && b === output)) dst.inputs[input] = [...existing, link];
    });
    const named = new RegExp(`\\b${input.replace(/[^\w-]/g, '')}\\b`);
    serverErrors.value = serverErrors.value.filter((e) => !(e.nodeId === to && !e.param && INPUT_ERROR_KINDS.has(e.kind) && named.test(e.message)));
    return { ok: true };
  }

  /** Removes the links into an input (only `link` when given, for a `multiple` input). */
  function disconnect(to: string, input: string, link?: Link): void {
    const dst = node(to);
    if (!dst || !Object.hasOwn(dst.inputs, input)) return;
    batch(() => {
      const kept = link ? linksOf(dst.inputs[input]).filter(([a, b]) => a !== link[0] || b !== link[1]) : [];
      if (kept.length === 0) delete dst.inputs[input];
      else dst.inputs[input] = Array.isArray(dst.inputs[input][0]) ? kept : kept[0];
    });
  }

  /** Sets a param (undefined = back to its default); the value is checked against its JSON Schema in `clientErrors`. */
  function setParam(id: string, key: string, value: unknown): void {
    const n = node(id);
    if (!n) throw new Error(`no node ${id}`);
    const def = registry.byType(n.type);
    if (def && !Object.hasOwn(paramSchemas(def), key)) throw new Error(`${def.displayName} has no param ${key}`);
    batch(() => {
      if (value === undefined) delete n.params[key];
      else n.params[key] = value;
    });
    serverErrors.value = serverErrors.value.filter((e) => !(e.nodeId === id && e.param === key));
  }

  /** Moves nodes in one step (a drag of a selection, an auto-arrange). */
  function moveNodes(positions: Record<string, Position>): void {
    batch(() => {
      for (const [id, p] of Object.entries(positions)) {
        const n = node(id);
        if (!n) continue;
        const x = Math.round(p.x);
        const y = Math.round(p.y);
        if (n.ui?.x === x && n.ui?.y === y) continue;
        n.ui = { ...(n.ui ?? {}), x, y };
      }
    });
  }

  /** Sets a node's editor-only state (`ui` keys other than x/y, e.g. which seeds are randomised). */
  function setUi(id: string, key: string, value: unknown): void {
    const n = node(id);
    if (!n || key === 'x' || key === 'y') return;
    batch(() => {
      n.ui = { ...(n.ui ?? {}), [key]: value };
    });
  }

  /** Seeds whose widget is set to "randomize" get a fresh value; the shell calls this before each run. */
  function randomizeSeeds(): void {
    batch(() => {
      for (const [id, n] of Object.entries(workflow.value.nodes)) {
        const keys = n.ui?.randomize;
        if (!Array.isArray(keys)) continue;
        const def = registry.byType(n.type);
        for (const key of keys) {
          if (typeof key !== 'string' || !def || !Object.hasOwn(paramSchemas(def), key)) continue;
          const max = Math.min(Number(paramSchemas(def)[key].maximum ?? 2 ** 31 - 1), 2 ** 31 - 1);
          setParam(id, key, Math.floor(Math.random() * (max + 1)));
        }
      }
    });
  }

  /** The selected nodes as a workflow document (links among them kept), for the clipboard. */
  function copy(ids: readonly string[]): Workflow {
    const keep = new Set(ids.filter((id) => node(id) !== undefined));
    const out: Workflow = { ...emptyWorkflow(), nodes: {} };
    for (const id of keep) {
      const n = JSON.parse(JSON.stringify(node(id))) as WorkflowNode;
      for (const [input, value] of Object.entries(n.inputs)) {
        const kept = linksOf(value).filter(([src]) => keep.has(src));
        if (kept.length === 0) delete n.inputs[input];
        else n.inputs[input] = Array.isArray(value[0]) ? kept : kept[0];
      }
      out.nodes[id] = n;
    }
    return out;
  }

  /** Adds a copied fragment under fresh ids, shifted by `offset`, as one step; selects and returns the new ids. */
  function paste(fragment: unknown, offset: Position = { x: 40, y: 40 }): string[] {
    const frag = toWorkflowState(fragment);
    const rename = new Map<string, string>();
    const taken = (id: string) => node(id) !== undefined || [...rename.values()].includes(id);
    for (const [id, n] of Object.entries(frag.nodes)) rename.set(id, freshId(n.type, taken));
    batch(() => {
      for (const [id, n] of Object.entries(frag.nodes)) {
        const inputs: WorkflowNode['inputs'] = {};
        for (const [input, value] of Object.entries(n.inputs)) {
          const kept = linksOf(value).filter(([src]) => rename.has(src)).map(([src, out]): Link => [rename.get(src)!, out]);
          if (kept.length) inputs[input] = Array.isArray(value[0]) ? kept : kept[0];
        }
        const x = Number(n.ui?.x ?? 0) + offset.x;
        const y = Number(n.ui?.y ?? 0) + offset.y;
        workflow.value.nodes[rename.get(id)!] = { ...n, inputs, ui: { ...(n.ui ?? {}), x, y } };
      }
    });
    selected.value = [...rename.values()];
    return selected.value;
  }

  function duplicate(ids: readonly string[]): string[] {
    return paste(copy(ids));
  }

  function restore(json: string): void {
    workflow.value = toWorkflowState(JSON.parse(json));
    selected.value = selected.value.filter((id) => node(id) !== undefined);
  }

  function undo(): void {
    const prev = past.value.at(-1);
    if (prev === undefined) return;
    future.value = [...future.value, snapshot(workflow.value)];
    past.value = past.value.slice(0, -1);
    restore(prev);
  }

  function redo(): void {
    const next = future.value.at(-1);
    if (next === undefined) return;
    past.value = [...past.value, snapshot(workflow.value)];
    future.value = future.value.slice(0, -1);
    restore(next);
  }

  /** Per node, per param: why the value is refused by its JSON Schema (checked before running). */
  const clientErrors = computed<ParamErrors>(() => {
    const out: ParamErrors = Object.create(null);
    for (const [id, n] of Object.entries(workflow.value.nodes)) {
      const def = registry.byType(n.type);
      if (!def) continue;
      const schemas = paramSchemas(def);
      const errs: Record<string, string> = Object.create(null);
      for (const [key, value] of Object.entries(n.params)) {
        if (!Object.hasOwn(schemas, key)) errs[key] = 'unknown param';
        else {
          const msg = checkParam(schemas[key], value);
          if (msg) errs[key] = msg;
        }
      }
      const required = Array.isArray(def.params.required) ? (def.params.required as string[]) : [];
      for (const key of required) if (!Object.hasOwn(n.params, key)) errs[key] = 'required';
      if (Object.keys(errs).length) out[id] = errs;
    }
    return out;
  });

  function setServerErrors(errors: ValidationErrorWire[]): void {
    serverErrors.value = errors;
  }

  return {
    workflow, nodes, name, readOnly, dirty, loads, selected, clientErrors, serverErrors, canUndo, canRedo,
    load, toWorkflow, markClean, addNode, removeNodes, connect, connectionError, disconnect, setParam, moveNodes,
    setUi, randomizeSeeds, copy, paste, duplicate, undo, redo, batch, setServerErrors,
  };
});
