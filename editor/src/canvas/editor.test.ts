// @vitest-environment happy-dom
// The Rete canvas mirrors the graph store: nodes, typed sockets and links appear, follow undo and go away.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { useGraphStore } from '../stores/graph.ts';
import { useRegistryStore } from '../stores/registry.ts';
import { createCanvas, type Canvas } from './editor.ts';

const def = (type: string, inputs: object, outputs: object) => ({
  type, typeVersion: 1, category: 'model', displayName: type, pack: 'test', cacheable: true, inputs, outputs,
  params: { type: 'object', properties: { steps: { type: 'integer', minimum: 1, default: 2 } } },
});

let pinia: Pinia;
let canvas: Canvas | null = null;
let host: HTMLElement;

const settle = () => new Promise((r) => setTimeout(r, 30));
const nodeIds = () => [...host.querySelectorAll<HTMLElement>('[data-node-id]')].map((e) => e.dataset.nodeId).sort();
const links = () => host.querySelectorAll('[data-testid=connection]').length;

describe('canvas ↔ graph store', () => {
  beforeEach(() => {
    pinia = createPinia();
    setActivePinia(pinia);
    useRegistryStore().setFrom({
      nodes: [
        def('LoadModel', {}, { model: { type: 'MODEL' } }),
        def('Sample', { model: { type: 'MODEL' }, prompts: { type: 'PROMPTS', optional: true } }, { images: { type: 'IMAGES' } }),
      ],
      packs: [], packErrors: [],
    });
    host = document.createElement('div');
    document.body.append(host);
  });
  afterEach(() => {
    canvas?.destroy();
    host.remove();
  });

  it('draws the workflow, follows edits and undo, and keeps links it cannot draw', async () => {
    const g = useGraphStore();
    g.load({
      format: 'cadflow.workflow', version: 1,
      nodes: {
        load: { type: 'LoadModel', ui: { x: 0, y: 0 } },
        sample: { type: 'Sample', inputs: { model: ['load', 'model'] }, ui: { x: 300, y: 0 } },
        odd: { type: 'NotInstalled', inputs: { x: ['load', 'model'] }, ui: { x: 300, y: 300 } },
      },
    });
    canvas = await createCanvas(host, pinia, { refused: () => undefined, run: () => undefined });
    await settle();
    expect(nodeIds()).toEqual(['load', 'odd', 'sample']);
    expect(host.querySelector('[data-node-id=sample]')!.getAttribute('data-node-state')).toBe('idle');
    expect([...host.querySelectorAll<HTMLElement>('[data-node-id=sample] [data-socket-type]')].map((e) => e.dataset.socketType))
      .toEqual(['MODEL', 'PROMPTS', 'IMAGES']);
    expect(links()).toBe(1); // the link into the unknown type is not drawn

    const s2 = g.addNode('Sample', { x: 300, y: 200 });
    g.connect('load', 'model', s2, 'model');
    await settle();
    expect(nodeIds()).toEqual(['load', 'odd', 'sample', s2]);
    expect(links()).toBe(2);
    g.undo();
    await settle();
    expect(links()).toBe(1);
    g.removeNodes(['sample']);
    await settle();
    expect(nodeIds()).toEqual(['load', 'odd', s2]);
    expect(links()).toBe(0);
    expect(g.toWorkflow().nodes.odd.inputs).toEqual({ x: ['load', 'model'] });
  });

  it('mirrors the store selection and box-selects by area rectangle', async () => {
    const g = useGraphStore();
    const a = g.addNode('LoadModel', { x: 0, y: 0 });
    const b = g.addNode('Sample', { x: 1000, y: 0 });
    canvas = await createCanvas(host, pinia, { refused: () => undefined, run: () => undefined });
    await settle();
    g.selected = [b];
    await settle();
    expect(host.querySelector(`[data-node-id=${b}]`)!.classList.contains('selected')).toBe(true);
    expect(host.querySelector(`[data-node-id=${a}]`)!.classList.contains('selected')).toBe(false);
    canvas.selectInRect({ x: -10, y: -10 }, { x: 50, y: 50 }, false);
    expect(g.selected).toEqual([a]);
    canvas.selectInRect({ x: 900, y: -10 }, { x: 1100, y: 50 }, true);
    expect(g.selected).toEqual([a, b]);
  });
});
