// REST payloads (ARCHITECTURE §6) as zod schemas, shared by the server, its tests and the editor (which parses
// every response with them). socket.io payloads are in events.ts; the workflow file in engine/schema.ts.
import { z } from 'zod';
import { SocketTypeSchema } from '../nodes/sdk/sockets.ts';
import { ArtifactRefSchema } from './events.ts';

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

const RunErrorSchema = z.object({
  nodeId: z.string().nullable(),
  kind: z.string(),
  param: z.string().optional(),
  message: z.string(),
  errors: z.array(ValidationErrorSchema).optional(),
});

/** A run as listed by GET /api/runs (the history table). */
export const RunRowSchema = z.object({
  runId: z.string(),
  status: z.enum(['queued', 'running', 'done', 'error', 'cancelled', 'interrupted']),
  name: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: RunErrorSchema.nullable(),
});
export type RunRowWire = z.infer<typeof RunRowSchema>;

export const RunsResponseSchema = z.object({
  runs: z.array(RunRowSchema),
  queue: z.array(z.string()),
  running: z.string().nullable(),
});
export type RunsResponse = z.infer<typeof RunsResponseSchema>;

/** One node's record in a run: `outputs` holds each output's summary (as `node:output` sends it). */
export const NodeRecordSchema = z.object({
  status: z.enum(['done', 'error', 'cancelled']),
  ms: z.number(),
  cached: z.boolean(),
  outputs: z.record(z.string(), z.unknown()),
  artifacts: z.array(ArtifactRefSchema).optional(),
  error: z.string().optional(),
});

/** GET /api/runs/:id: the row, the workflow snapshot as run, and every finished node's record. */
export const RunRecordSchema = RunRowSchema.extend({
  workflow: z.unknown(),
  targets: z.array(z.string()).nullable(),
  /** The run's environment (backend, versions, model hashes, seeds); the editor reads only the backend's name. */
  env: z.object({ backend: z.object({ backend: z.string() }) }).nullable(),
  nodes: z.record(z.string(), NodeRecordSchema),
});
export type RunRecordWire = z.infer<typeof RunRecordSchema>;

export const SubmitResponseSchema = z.object({ runId: z.string() });
export const CancelResponseSchema = z.object({ runId: z.string(), status: z.enum(['cancelled', 'cancelling']) });

/** A workflow as listed by GET /api/workflows: saved ones (with revisions) and the shipped, read-only workflows/*.json. */
export const WorkflowEntrySchema = z.object({
  name: z.string(),
  rev: z.number().int(),
  updatedAt: z.string(),
  shipped: z.boolean(),
  description: z.string().optional(),
});
export type WorkflowEntry = z.infer<typeof WorkflowEntrySchema>;
export const WorkflowsResponseSchema = z.object({ workflows: z.array(WorkflowEntrySchema) });
export type WorkflowsResponse = z.infer<typeof WorkflowsResponseSchema>;

/** GET /api/workflows/:name[?rev=N]; `workflow` is the file (parse it with engine/schema.ts). */
export const WorkflowResponseSchema = z.object({
  name: z.string(),
  rev: z.number().int(),
  revisions: z.number().int(),
  shipped: z.boolean(),
  workflow: z.unknown(),
});
export type WorkflowResponse = z.infer<typeof WorkflowResponseSchema>;
export const WorkflowSavedSchema = z.object({ name: z.string(), rev: z.number().int(), deleted: z.boolean().optional() });

/** GET /api/models: the models a LoadModel (or a judge / CLIP param) can name, with a summary of their config. */
export const ModelInfoSchema = z.object({
  /** What to put in the `model` param: the bundled name, or the folder path for one under <data>/models. */
  value: z.string(),
  name: z.string(),
  source: z.enum(['bundled', 'data']),
  /** `diffusion` for a UNet + text encoder, else the config's `kind` (e.g. shapes-clip, shapes-judge). */
  kind: z.string(),
  summary: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.number())])),
  bytes: z.number(),
});
export type ModelInfo = z.infer<typeof ModelInfoSchema>;
export const ModelsResponseSchema = z.object({ models: z.array(ModelInfoSchema), dataDir: z.string() });
export type ModelsResponse = z.infer<typeof ModelsResponseSchema>;
