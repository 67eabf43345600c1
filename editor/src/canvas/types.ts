// The Rete scheme of the canvas: nodes and connections that mirror the graph store's workflow.
import { ref } from 'vue';
import { ClassicPreset, type GetSchemes } from 'rete';
import { SOCKET_COLOURS, type SocketType } from '@nodes/sdk/sockets.ts';
import type { NodeTypeInfoWire } from '@server/wire.ts';

/** One socket instance per type (or accepted-type list, e.g. `IMAGES|MASK`). */
export class TypedSocket extends ClassicPreset.Socket {
  constructor(readonly types: readonly SocketType[]) {
    super(types.join('|'));
  }
  get colour(): string {
    return SOCKET_COLOURS[this.types[0]] ?? '#90a4ae';
  }
}

const sockets = new Map<string, TypedSocket>();
export function socketFor(type: SocketType | readonly SocketType[]): TypedSocket {
  const types = typeof type === 'string' ? [type] : [...type];
  const key = types.join('|');
  if (!sockets.has(key)) sockets.set(key, new TypedSocket(types));
  return sockets.get(key)!;
}

/** A workflow node on the canvas; its id is the workflow's node id, its params live in the graph store. */
export class FlowNode extends ClassicPreset.Node<
  Record<string, TypedSocket>, Record<string, TypedSocket>, Record<string, never>
> {
  width = 260;
  height = 120;
  /** Built from its type's definition (a node of a type the registry does not know yet has no sockets). */
  readonly known: boolean;

  constructor(id: string, readonly nodeType: string, def: NodeTypeInfoWire | undefined) {
    super(def?.displayName ?? nodeType);
    this.id = id;
    this.known = def !== undefined;
    for (const [key, spec] of Object.entries(def?.inputs ?? {})) {
      this.addInput(key, new ClassicPreset.Input(socketFor(spec.type), key, spec.multiple === true));
    }
    for (const [key, spec] of Object.entries(def?.outputs ?? {})) {
      this.addOutput(key, new ClassicPreset.Output(socketFor(spec.type), key));
    }
  }
}

export class FlowConnection extends ClassicPreset.Connection<FlowNode, FlowNode> {
  colour?: string;
  /** The line that follows the pointer while a link is dragged. */
  isPseudo?: boolean;
}

/** The colour of the socket a link is being dragged from (the pseudo-connection is drawn in it). */
export const draggedColour = ref<string | null>(null);

export type Schemes = GetSchemes<FlowNode, FlowConnection>;

/** `from:output->to:input`: a link's identity on the canvas (Rete connection ids are made from it). */
export function linkKey(from: string, output: string, to: string, input: string): string {
  return `${from}:${output}->${to}:${input}`;
}

/** Node categories' colours (title bar); unknown categories get a stable colour from their name. */
const CATEGORY_COLOURS: Record<string, string> = {
  model: '#7e57c2', world: '#c49000', attribution: '#c62828', evaluation: '#2e7d32', image: '#1565c0',
};
const SPARE = ['#00838f', '#6d4c41', '#ad1457', '#4e342e', '#37474f', '#558b2f'];
export function categoryColour(category: string): string {
  if (Object.hasOwn(CATEGORY_COLOURS, category)) return CATEGORY_COLOURS[category];
  let h = 0;
  for (const ch of category) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}

/** The MIME type the palette puts on a drag of a node type (the canvas adds the node where it is dropped). */
export const NODE_DRAG_MIME = 'application/x-cadflow-node';
