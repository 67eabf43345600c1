// The value types that flow on sockets (ARCHITECTURE §3). The editor colours them; the engine checks links.
import { z } from 'zod';

export const SOCKET_TYPES = [
  'MODEL', 'PROMPTS', 'IMAGES', 'COMPONENTS', 'MASK', 'ATTRIBUTION', 'SCORES', 'TABLE', 'NUMBER', 'STRING',
] as const;
export const SocketTypeSchema = z.enum(SOCKET_TYPES);
export type SocketType = z.infer<typeof SocketTypeSchema>;

/** Colours the editor and status page use for wires and sockets. */
export const SOCKET_COLOURS: Record<SocketType, string> = {
  MODEL: '#b39ddb', PROMPTS: '#ffd54f', IMAGES: '#64b5f6', COMPONENTS: '#81c784', MASK: '#4db6ac',
  ATTRIBUTION: '#e57373', SCORES: '#ffb74d', TABLE: '#a1887f', NUMBER: '#90a4ae', STRING: '#cfd8dc',
};

/**
 * Which output types may feed an input. An input accepts its own type(s) exactly, plus these widenings:
 * a NUMBER may feed a STRING input (rendered as text), SCORES may feed a TABLE input (one row per item).
 */
const WIDENINGS: Partial<Record<SocketType, SocketType[]>> = {
  STRING: ['NUMBER'],
  TABLE: ['SCORES'],
};

export function canConnect(output: SocketType, input: SocketType | readonly SocketType[]): boolean {
  const accepted: readonly SocketType[] = typeof input === 'string' ? [input] : input;
  return accepted.some((t) => t === output || (WIDENINGS[t] ?? []).includes(output));
}
