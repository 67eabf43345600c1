// REST payloads (ARCHITECTURE §6) as zod schemas, shared by the server, its tests and the editor (which parses
// every response with them). socket.io payloads are in events.ts; the workflow file in engine/schema.ts.
import { z } from 'zod';
import { SocketTypeSchema } from '../nodes/sdk/sockets.ts';

const InputSpecSchema = z.object({
  type: z.union([SocketTypeSchema, z.array(SocketTypeSchema)]),
  optional: z.boolean().optional(),
  multiple: z.boolean().optional(),
  description: z.string().optional(),
});
const OutputSpecSchema = z.object({ type: SocketTypeSchema, description: z.string().optional() });

/** One node type as GET /api/nodes describes it; `params` is the JSON Schema of its params (x- keys: editor hints). */
export const NodeTypeInfoSchema = z.object({
  type: z.string(),
  typeVersion: z.number().int(),
  category: z.string(),
  displayName: z.string(),
  description: z.string().optional(),
  pack: z.string(),
  cacheable: z.boolean(),
  inputs: z.record(z.string(), InputSpecSchema),
  outputs: z.record(z.string(), OutputSpecSchema),
  params: z.record(z.string(), z.unknown()),
});
export type NodeTypeInfoWire = z.infer<typeof NodeTypeInfoSchema>;

export const PackErrorSchema = z.object({ pack: z.string(), path: z.string(), message: z.string() });

export const NodesResponseSchema = z.object({
  nodes: z.array(NodeTypeInfoSchema),
  packs: z.array(z.object({ name: z.string(), path: z.string(), nodes: z.number() }).passthrough()),
  packErrors: z.array(PackErrorSchema),
});
export type NodesResponse = z.infer<typeof NodesResponseSchema>;

/** A structured validation error (ARCHITECTURE §4), as POST /api/runs answers 400 with `{ errors }`. */
export const ValidationErrorSchema = z.object({
  nodeId: z.string().nullable().optional(),
  kind: z.string(),
  param: z.string().optional(),
  message: z.string(),
});
export type ValidationErrorWire = z.infer<typeof ValidationErrorSchema>;
export const ValidationErrorsSchema = z.object({ errors: z.array(ValidationErrorSchema) });
