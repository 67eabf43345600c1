// Node params (zod) → JSON Schema for the editor and GET /api/nodes: defaults, ranges, enums, descriptions.
import { z } from 'zod';
import type { AnyNodeDef, InputSpec, OutputSpec } from './define.ts';

export type JsonSchema = Record<string, unknown>;

/**
 * Editor hints a param carries into its JSON Schema (as `x-advanced`, `x-show`, `x-widget`):
 * `advanced` folds it away, `show` hides it unless every named param has one of the listed values
 * (n8n's displayOptions.show), `widget` asks for a special widget.
 */
export interface ParamUi {
  advanced?: boolean;
  show?: Record<string, readonly (string | number | boolean)[]>;
  widget?: 'prompts' | 'seed' | 'model' | 'textarea';
}

/** Attaches editor hints to a param schema: `ui(z.number().default(1), { advanced: true })`. */
export function ui<T extends z.ZodType>(schema: T, hints: ParamUi): T {
  const meta: Record<string, unknown> = { ...(schema.meta() ?? {}) };
  if (hints.advanced) meta['x-advanced'] = true;
  if (hints.show) meta['x-show'] = hints.show;
  if (hints.widget) meta['x-widget'] = hints.widget;
  return schema.meta(meta) as T;
}

/** JSON Schema of what a user may write (io: 'input': defaulted params are optional). */
export function paramsToJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/** The serialisable description of a node type that the editor, the status page and `cadflow nodes` show. */
export interface NodeTypeInfo {
  type: string;
  typeVersion: number;
  category: string;
  displayName: string;
  description?: string;
  pack: string;
  cacheable: boolean;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, OutputSpec>;
  params: JsonSchema;
}

export function describeNode(def: AnyNodeDef, pack: string): NodeTypeInfo {
  return {
    type: def.type,
    typeVersion: def.typeVersion,
    category: def.category,
    displayName: def.displayName ?? def.type,
    description: def.description,
    pack,
    cacheable: def.cacheable !== false,
    inputs: def.inputs,
    outputs: def.outputs,
    params: paramsToJsonSchema(def.params),
  };
}
