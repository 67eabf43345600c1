// socket.io events, server → client (ARCHITECTURE §6). Every event carries runId except `state`,
// which a client receives on connect (late joiners see the queue and the running run's progress).
import { z } from 'zod';

const Run = { runId: z.string() };
const Node = { ...Run, nodeId: z.string() };
const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'binary bytes');
export const ArtifactRefSchema = z.object({ id: z.string(), name: z.string(), mime: z.string(), bytes: z.number() });

export const ServerEvents = {
  'run:queued': z.object({ ...Run, position: z.number().int() }),
  'run:start': z.object(Run),
  'node:start': z.object(Node),
  'node:cached': z.object(Node),
  'node:progress': z.object({ ...Node, value: z.number(), max: z.number(), label: z.string().optional() }),
  'node:preview': z.object({ ...Node, step: z.number(), mime: z.string(), label: z.string().optional(), bytes: Bytes }),
  'node:log': z.object({ ...Node, message: z.string() }),
  'node:output': z.object({ ...Node, summary: z.record(z.string(), z.unknown()), artifacts: z.array(ArtifactRefSchema) }),
  'run:done': z.object(Run),
  'run:error': z.object({ ...Run, nodeId: z.string().nullable(), kind: z.string(), param: z.string().optional(), message: z.string() }),
  'run:cancelled': z.object(Run),
  'run:interrupted': z.object(Run),
} as const;

export type ServerEventName = keyof typeof ServerEvents;
export type ServerEventPayload<E extends ServerEventName> = z.infer<(typeof ServerEvents)[E]>;

export const LiveNodeSchema = z.object({
  status: z.enum(['running', 'done', 'cached', 'error', 'cancelled']),
  progress: z.object({ value: z.number(), max: z.number(), label: z.string().optional() }).optional(),
  summary: z.record(z.string(), z.unknown()).optional(),
  artifacts: z.array(ArtifactRefSchema).optional(),
});
export type LiveNode = z.infer<typeof LiveNodeSchema>;

/** What a client joining mid-run is sent first: the queue, and the running run with each node's state. */
export const StateSchema = z.object({
  queue: z.array(z.string()),
  current: z.object({
    runId: z.string(),
    nodes: z.record(z.string(), LiveNodeSchema),
    /** The latest preview of each node, bytes as a binary attachment. */
    previews: z.record(z.string(), z.object({ step: z.number(), mime: z.string(), label: z.string().optional(), bytes: Bytes })),
  }).nullable(),
});
export type LiveState = z.infer<typeof StateSchema>;

export type Emit = <E extends ServerEventName>(event: E, payload: ServerEventPayload<E>) => void;
