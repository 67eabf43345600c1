// Reading workflow files and applying `--set node.param=value` overrides (CLI, harness, workflow tests).
import { readFileSync } from 'node:fs';
import { parseWorkflow, RESERVED_KEYS, type Workflow } from './schema.ts';

/** Bad input from the user (unreadable file, bad JSON, bad --set): the CLI exits 2 on it. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function readWorkflowFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** "node.param=value" → ["node.param", value]; the value is JSON when it parses as JSON, else the raw text. */
export function parseSetArg(arg: string): [string, unknown] {
  const eq = arg.indexOf('=');
  const key = eq > 0 ? arg.slice(0, eq) : '';
  if (!/^[^.=]+\.[^=]+$/.test(key)) throw new InputError(`--set expects node.param=value, got ${JSON.stringify(arg)}`);
  const text = arg.slice(eq + 1);
  try {
    return [key, JSON.parse(text)];
  } catch {
    return [key, text];
  }
}

/**
 * Returns a copy of the workflow (migrated to the current version) with params overridden.
 * Keys are "nodeId.param"; an unknown node id is an InputError. Shape errors are left to validation.
 */
export function applyOverrides(raw: unknown, sets: Record<string, unknown>): unknown {
  if (!Object.keys(sets).length) return raw;
  const parsed = parseWorkflow(raw);
  if (!parsed.ok) return raw; // validation reports it
  const wf: Workflow = structuredClone(parsed.workflow);
  for (const [key, value] of Object.entries(sets)) {
    const dot = key.indexOf('.');
    const nodeId = key.slice(0, dot);
    const param = key.slice(dot + 1);
    // own keys only: `--set __proto__.x=1` must name no node rather than reach Object.prototype
    const node = Object.hasOwn(wf.nodes, nodeId) ? wf.nodes[nodeId] : undefined;
    if (!node) throw new InputError(`--set ${key}: the workflow has no node ${nodeId} (nodes: ${Object.keys(wf.nodes).join(', ')})`);
    if (RESERVED_KEYS.has(param)) throw new InputError(`--set ${key}: ${param} is reserved and cannot be a parameter name`);
    node.params = { ...node.params, [param]: value };
  }
  return wf;
}
