// socket.io client: connects with the tab's token and hands on every event parsed with the server's zod schemas
// (server/events.ts). A payload that does not parse is reported, never passed on.
import { io, type Socket } from 'socket.io-client';
import { ServerEvents, StateSchema, type LiveState, type ServerEventName, type ServerEventPayload } from '@server/events.ts';
import { getToken } from './client.ts';

export type AnyServerEvent = { [E in ServerEventName]: { event: E; payload: ServerEventPayload<E> } }[ServerEventName];

export interface SocketHandlers {
  event(e: AnyServerEvent): void;
  state(s: LiveState): void;
  connected(ok: boolean, reason?: string): void;
  /** A payload the schemas refused (a server and editor out of step). */
  invalid?(event: string, message: string): void;
}

/** socket.io hands binary attachments to a browser as ArrayBuffers; the schemas expect Uint8Array. */
function withBytes(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const o = raw as Record<string, unknown>;
  return o.bytes instanceof ArrayBuffer ? { ...o, bytes: new Uint8Array(o.bytes) } : raw;
}

function stateWithBytes(raw: unknown): unknown {
  const s = raw as { current?: { previews?: Record<string, unknown> } | null };
  if (!s?.current?.previews) return raw;
  const previews = Object.fromEntries(Object.entries(s.current.previews).map(([k, v]) => [k, withBytes(v)]));
  return { ...s, current: { ...s.current, previews } };
}

export function connectSocket(handlers: SocketHandlers, url?: string): Socket {
  const socket = io(url ?? '/', { auth: (cb) => cb({ token: getToken() ?? '' }), transports: ['websocket', 'polling'] });
  socket.on('connect', () => handlers.connected(true));
  socket.on('disconnect', (reason) => handlers.connected(false, reason));
  socket.on('connect_error', (err) => handlers.connected(false, err.message));
  socket.on('state', (raw: unknown) => {
    const parsed = StateSchema.safeParse(stateWithBytes(raw));
    if (parsed.success) handlers.state(parsed.data);
    else handlers.invalid?.('state', parsed.error.issues[0]?.message ?? 'invalid');
  });
  for (const name of Object.keys(ServerEvents) as ServerEventName[]) {
    socket.on(name, (raw: unknown) => {
      const parsed = ServerEvents[name].safeParse(withBytes(raw));
      if (parsed.success) handlers.event({ event: name, payload: parsed.data } as AnyServerEvent);
      else handlers.invalid?.(name, parsed.error.issues[0]?.message ?? 'invalid');
    });
  }
  return socket;
}
