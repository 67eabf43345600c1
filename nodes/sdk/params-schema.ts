// Node params (zod) → JSON Schema for the editor and GET /api/nodes: defaults, ranges, enums, descriptions.
import { z } from 'zod';
import type { AnyNodeDef, InputSpec, OutputSpec } from './define.ts';

export type JsonSchema = Record<string, unknown>;

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
