// The Rete editor bound to the graph store. The store's workflow is the truth: a watcher mirrors it onto the
// canvas (`sync`), and what the user does on the canvas (drag a link, move nodes, use the menu) is turned into
// store calls, after which the canvas is re-synced — so a refused link never stays drawn and every change is
// one undo step of the store.
import { createApp, watch } from 'vue';
import type { Pinia } from 'pinia';
import { NodeEditor } from 'rete';
import { AreaExtensions, AreaPlugin } from 'rete-area-plugin';
import { ClassicFlow, ConnectionPlugin, type SocketData } from 'rete-connection-plugin';
import { Presets as VuePresets, VuePlugin, type VueArea2D } from 'rete-vue-plugin';
import { MinimapPlugin, type MinimapExtra } from 'rete-minimap-plugin';
import { ContextMenuPlugin, type ContextMenuExtra } from 'rete-context-menu-plugin';
import { linksOf, useGraphStore, type Position } from '../stores/graph.ts';
import { useRegistryStore } from '../stores/registry.ts';
import { draggedColour, FlowConnection, FlowNode, linkKey, type Schemes } from './types.ts';
import NodeView from './NodeView.vue';
import SocketView from './SocketView.vue';
import ConnectionView from './ConnectionView.vue';

type AreaExtra = VueArea2D<Schemes> | MinimapExtra | ContextMenuExtra;

export interface CanvasHooks {
  /** A link the user tried to make was refused (show `reason`). */
  refused(reason: string): void;
  /** "Run to here" from a node's menu. */
  run(targets?: string[]): void;
}

export interface Canvas {
  /** Lays the graph out left to right (one undo step). */
  arrange(): Promise<void>;
  /** Zooms to show the given nodes (default: all). */
  fit(ids?: string[]): Promise<void>;
  /** The area point under a client (screen) point. */
  toArea(clientX: number, clientY: number): Position;
  /** The area point at the view's centre. */
  centre(): Position;
  /** Selects the nodes intersecting an area rectangle (box selection). */
  selectInRect(a: Position, b: Position, accumulate: boolean): void;
  /** Keeps a fragment of these nodes for `paste` (the canvas's own clipboard, beside the system one). */
  copy(ids: string[]): void;
  /** Pastes a fragment (default: the last copied), its top-left corner at `at` (default: shifted from the originals). */
  paste(at?: Position, fragment?: unknown): void;
  destroy(): void;
}

type Entity = { label: string; id: string; unselect(): void | Promise<void>; translate(dx: number, dy: number): void | Promise<void> };

/** Keeps the store's `selected` in step with Rete's selection (Ctrl+click accumulates). */
class StoreSelector extends AreaExtensions.Selector<Entity> {
  constructor(private readonly onChange: (ids: string[]) => void) {
    super();
  }
  private changed(): void {
    this.onChange([...this.entities.values()].filter((e) => e.label === 'node').map((e) => e.id));
  }
  override async add(entity: Entity, accumulate: boolean): Promise<void> {
    // pressing on a node of the selection keeps the selection, so dragging it moves them all
    await super.add(entity, accumulate || this.isSelected(entity));
    this.changed();
  }
  override async remove(entity: Pick<Entity, 'label' | 'id'>): Promise<void> {
    await super.remove(entity);
    this.changed();
  }
  override async unselectAll(): Promise<void> {
    await super.unselectAll();
    this.changed();
  }
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));

export async function createCanvas(container: HTMLElement, pinia: Pinia, hooks: CanvasHooks): Promise<Canvas> {
  const graph = useGraphStore(pinia);
  const registry = useRegistryStore(pinia);
  const editor = new NodeEditor<Schemes>();
  const area = new AreaPlugin<Schemes, AreaExtra>(container);
  const connection = new ConnectionPlugin<Schemes, AreaExtra>();
  // every node is its own Vue app: give each the editor's Pinia so nodes read the same stores
  const render = new VuePlugin<Schemes, AreaExtra>({ setup: (context) => createApp(context).use(pinia) });
  const minimap = new MinimapPlugin<Schemes>({ boundViewport: true });
  let syncing = 0;

  const selector = new StoreSelector((ids) => {
    if (!syncing && !sameSet(ids, graph.selected)) graph.selected = ids;
  });
  const selectable = AreaExtensions.selectableNodes(area, selector, { accumulating: AreaExtensions.accumulateOnCtrl() });
  AreaExtensions.simpleNodesOrder(area);
  AreaExtensions.restrictor(area, { scaling: { min: 0.1, max: 2 } });

  const menu = new ContextMenuPlugin<Schemes>({
    items: (context) => {
      if (context === 'root') {
        const at = { ...area.area.pointer };
        return {
          searchBar: true,
          list: [
            ...registry.categories.map(([category, defs]) => ({
              label: category, key: `cat:${category}`, handler: () => undefined,
              subitems: defs.map((d) => ({
                label: d.displayName, key: d.type,
                handler: () => {
                  const id = graph.addNode(d.type, at);
                  graph.selected = [id];
                },
              })),
            })),
            { label: 'Paste', key: 'paste', handler: () => paste(at) },
            { label: 'Arrange', key: 'arrange', handler: () => void arrange() },
          ],
        };
      }
      if ('source' in context) {
        const c = context as unknown as FlowConnection;
        return {
          searchBar: false,
          list: [{ label: 'Delete link', key: 'delete', handler: () => graph.disconnect(c.target, c.targetInput, [c.source, c.sourceOutput]) }],
        };
      }
      const node = context as FlowNode;
      const ids = graph.selected.includes(node.id) ? [...graph.selected] : [node.id];
      return {
        searchBar: false,
        list: [
          { label: 'Run to here', key: 'run', handler: () => hooks.run([node.id]) },
          { label: 'Duplicate', key: 'duplicate', handler: () => void graph.duplicate(ids) },
          { label: 'Copy', key: 'copy', handler: () => copy(ids) },
          { label: ids.length > 1 ? `Delete ${ids.length} nodes` : 'Delete', key: 'delete', handler: () => graph.removeNodes(ids) },
        ],
      };
    },
  });

  render.addPreset(VuePresets.classic.setup({
    customize: { node: () => NodeView, socket: () => SocketView, connection: () => ConnectionView },
  }));
  render.addPreset(VuePresets.minimap.setup({ size: 180 }));
  render.addPreset(VuePresets.contextMenu.setup({ delay: 300 }));

  connection.addPreset(() => new ClassicFlow({
    canMakeConnection(from: SocketData, to: SocketData) {
      const [out, inp] = from.side === 'output' ? [from, to] : [to, from];
      if (out.side !== 'output' || inp.side !== 'input') return false;
      const reason = graph.connectionError(out.nodeId, out.key, inp.nodeId, inp.key);
      if (reason) {
        hooks.refused(reason);
        setTimeout(() => connection.drop(), 0); // let go of the refused link rather than keep it on the pointer
      }
      return reason === null;
    },
  }));

  editor.use(area);
  area.use(connection);
  area.use(render);
  area.use(minimap);
  area.use(menu);

  // ---- canvas → store ----
  function commitPositions(): void {
    const positions: Record<string, Position> = {};
    for (const [id, view] of area.nodeViews) positions[id] = { ...view.position };
    graph.moveNodes(positions);
  }

  /** Can the canvas draw this link? (Links to unknown types or ports are kept in the store, not drawn.) */
  function drawable(from: string, output: string, to: string, input: string): boolean {
    return Boolean(editor.getNode(from)?.outputs[output] && editor.getNode(to)?.inputs[input]);
  }

  /** The links drawn on the canvas become the store's (the user dragged, replaced or detached one). */
  function commitLinks(): void {
    const drawn = new Map(editor.getConnections().map((c) => [linkKey(c.source, c.sourceOutput, c.target, c.targetInput), c]));
    const stored = new Set<string>();
    graph.batch(() => {
      for (const [to, n] of Object.entries(graph.workflow.nodes)) {
        for (const [input, value] of Object.entries(n.inputs)) {
          for (const [from, output] of linksOf(value)) {
            const key = linkKey(from, output, to, input);
            stored.add(key);
            if (!drawn.has(key) && drawable(from, output, to, input)) graph.disconnect(to, input, [from, output]);
          }
        }
      }
      for (const [key, c] of drawn) {
        if (stored.has(key)) continue;
        const r = graph.connect(c.source, c.sourceOutput, c.target, c.targetInput);
        if (!r.ok) hooks.refused(r.reason);
      }
    });
    queueSync();
  }

  area.addPipe((context) => {
    if (context.type === 'nodedragged' && !syncing) commitPositions();
    if (context.type === 'render' && context.data.type === 'contextmenu') requestAnimationFrame(() => keepInView(context.data.element));
    return context;
  });
  connection.addPipe((context) => {
    if (context.type === 'connectionpick') {
      const { nodeId, side, key } = context.data.socket;
      const node = editor.getNode(nodeId);
      draggedColour.value = (side === 'input' ? node?.inputs[key]?.socket : node?.outputs[key]?.socket)?.colour ?? null;
    }
    // after the flow has added/removed its connections (their signals are async), take them into the store
    if (context.type === 'connectiondrop' && !syncing) setTimeout(commitLinks, 0);
    return context;
  });

  /** The menu opens at the pointer; near the window's bottom or right edge it is moved back into view. */
  function keepInView(el: HTMLElement): void {
    const box = (el.firstElementChild ?? el).getBoundingClientRect();
    const top = parseFloat(el.style.top) || 0;
    const left = parseFloat(el.style.left) || 0;
    if (box.bottom > window.innerHeight) el.style.top = `${Math.max(0, top - (box.bottom - window.innerHeight) - 8)}px`;
    if (box.right > window.innerWidth) el.style.left = `${Math.max(0, left - (box.right - window.innerWidth) - 8)}px`;
  }

  // ---- store → canvas ----
  let fitted = -1;
  async function sync(): Promise<void> {
    syncing++;
    try {
      selector.release(); // a picked node would drag the rest of the selection along with a synced move
      const wf = graph.workflow;
      for (const n of editor.getNodes()) {
        const keep = Object.hasOwn(wf.nodes, n.id) && wf.nodes[n.id].type === n.nodeType && (n.known || !registry.byType(n.nodeType));
        if (keep) continue;
        for (const c of editor.getConnections()) if (c.source === n.id || c.target === n.id) await editor.removeConnection(c.id);
        await editor.removeNode(n.id);
      }
      for (const [id, wn] of Object.entries(wf.nodes)) {
        if (!editor.getNode(id)) await editor.addNode(new FlowNode(id, wn.type, registry.byType(wn.type)));
        const x = Number(wn.ui?.x ?? 0);
        const y = Number(wn.ui?.y ?? 0);
        const view = area.nodeViews.get(id);
        if (view && (view.position.x !== x || view.position.y !== y)) await area.translate(id, { x, y });
      }
      const wanted = new Map<string, FlowConnection>();
      for (const [to, wn] of Object.entries(wf.nodes)) {
        for (const [input, value] of Object.entries(wn.inputs)) {
          for (const [from, output] of linksOf(value)) {
            if (!drawable(from, output, to, input)) continue; // the server reports dangling links
            const src = editor.getNode(from)!;
            const c = new FlowConnection(src, output, editor.getNode(to)!, input);
            c.id = linkKey(from, output, to, input);
            c.colour = src.outputs[output]!.socket.colour;
            wanted.set(c.id, c);
          }
        }
      }
      for (const c of editor.getConnections()) if (!wanted.has(c.id)) await editor.removeConnection(c.id);
      for (const [id, c] of wanted) if (!editor.getConnection(id)) await editor.addConnection(c);
      // Rete's selection follows the store's (paste and duplicate select what they add)
      for (const n of editor.getNodes()) {
        const want = graph.selected.includes(n.id);
        if (want && !n.selected) await selectable.select(n.id, true);
        if (!want && n.selected) await selectable.unselect(n.id);
      }
      // a newly opened workflow is fitted to the view once its nodes are drawn (laid out first if they overlap)
      if (fitted !== graph.loads) {
        fitted = graph.loads;
        if (overlapping()) void arrange({ keepClean: true });
        else await fit();
      }
    } finally {
      syncing--;
    }
  }

  let pending: Promise<void> = Promise.resolve();
  function queueSync(): Promise<void> {
    pending = pending.then(sync, sync);
    return pending;
  }

  // ---- clipboard (in memory; CanvasView adds the system clipboard) ----
  let memory: unknown = null;
  function copy(ids: string[]): void {
    memory = graph.copy(ids);
  }
  function paste(at?: Position, fragment: unknown = memory): void {
    if (!fragment) return;
    const nodes = Object.values((fragment as { nodes?: Record<string, { ui?: Record<string, unknown> }> }).nodes ?? {});
    const left = Math.min(...nodes.map((n) => Number(n.ui?.x ?? 0)));
    const top = Math.min(...nodes.map((n) => Number(n.ui?.y ?? 0)));
    graph.paste(fragment, at && nodes.length ? { x: at.x - left, y: at.y - top } : { x: 40, y: 40 });
    memory = fragment;
  }

  // ELK is large: loaded the first time a layout is asked for, not with the page
  let arrangeLoaded: Promise<{ layout(props: { options: Record<string, string> }): Promise<unknown> }> | null = null;
  function arrangePlugin() {
    arrangeLoaded ??= import('rete-auto-arrange-plugin').then(({ AutoArrangePlugin, Presets }) => {
      const plugin = new AutoArrangePlugin<Schemes>();
      plugin.addPreset(Presets.classic.setup());
      area.use(plugin);
      return plugin;
    });
    return arrangeLoaded;
  }

  /** Do any two nodes overlap? (A workflow written for smaller nodes than these.) */
  function overlapping(): boolean {
    const boxes = [...area.nodeViews.values()].map((v) => ({ ...v.position, w: v.element.offsetWidth, h: v.element.offsetHeight }));
    return boxes.some((a, i) => boxes.slice(i + 1).some((b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h));
  }

  /** `keepClean`: a layout made on opening does not count as an unsaved change (it is still one undo step). */
  async function arrange(opts: { keepClean?: boolean } = {}): Promise<void> {
    const wasClean = !graph.dirty;
    await queueSync();
    for (const [id, view] of area.nodeViews) {
      const node = editor.getNode(id);
      if (node) Object.assign(node, { width: view.element.offsetWidth || node.width, height: view.element.offsetHeight || node.height });
    }
    const arranger = await arrangePlugin();
    syncing++;
    try {
      selector.release();
      await arranger.layout({ options: { 'elk.spacing.nodeNode': '40', 'elk.layered.spacing.nodeNodeBetweenLayers': '80' } });
    } finally {
      syncing--;
    }
    commitPositions();
    if (opts.keepClean && wasClean) graph.markClean();
    await fit();
  }

  async function fit(ids?: string[]): Promise<void> {
    const nodes = ids ? editor.getNodes().filter((n) => ids.includes(n.id)) : editor.getNodes();
    for (const n of nodes) {
      const el = area.nodeViews.get(n.id)?.element;
      if (el) Object.assign(n, { width: el.offsetWidth || n.width, height: el.offsetHeight || n.height });
    }
    if (nodes.length) await AreaExtensions.zoomAt(area, nodes, { scale: 0.9 });
  }

  function toArea(clientX: number, clientY: number): Position {
    const box = container.getBoundingClientRect();
    const { x, y, k } = area.area.transform;
    return { x: (clientX - box.left - x) / k, y: (clientY - box.top - y) / k };
  }

  function selectInRect(a: Position, b: Position, accumulate: boolean): void {
    const [x0, x1] = [Math.min(a.x, b.x), Math.max(a.x, b.x)];
    const [y0, y1] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
    const hit: string[] = [];
    for (const [id, view] of area.nodeViews) {
      const { x, y } = view.position;
      const w = view.element.offsetWidth;
      const h = view.element.offsetHeight;
      if (x < x1 && x + w > x0 && y < y1 && y + h > y0) hit.push(id);
    }
    graph.selected = accumulate ? [...new Set([...graph.selected, ...hit])] : hit;
  }

  const stopWatches = [
    watch(() => [graph.workflow, graph.selected], () => void queueSync(), { deep: true }),
    watch(() => [registry.nodes, graph.loads], () => void queueSync()),
  ];
  await queueSync();

  return {
    arrange,
    fit,
    toArea,
    centre() {
      const box = container.getBoundingClientRect();
      return toArea(box.left + box.width / 2, box.top + box.height / 2);
    },
    selectInRect,
    copy,
    paste,
    destroy() {
      for (const stop of stopWatches) stop();
      // clearing first unmounts each node's and link's Vue app
      void pending.then(() => editor.clear()).finally(() => area.destroy());
    },
  };
}
