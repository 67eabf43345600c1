// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp, nextTick, type App } from 'vue';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import { useGraphStore } from '../stores/graph.ts';
import { useRegistryStore } from '../stores/registry.ts';
import ParamsForm from './ParamsForm.vue';

const baseline = {
  type: 'EraseBaseline', typeVersion: 1, category: 'attribution', displayName: 'Erase Baseline', pack: 'test', cacheable: true,
  inputs: { note: { type: 'STRING', optional: true } }, outputs: { text: { type: 'STRING' } },
  params: {
    type: 'object',
    properties: {
      method: { type: 'string', enum: ['random', 'magnitude', 'coar'], default: 'random' },
      seed: { type: 'integer', minimum: 0, maximum: 100, default: 0, 'x-show': { method: ['random', 'coar'] }, 'x-widget': 'seed' },
      coar_masks: { type: 'integer', minimum: 4, maximum: 5000, default: 200, 'x-show': { method: ['coar'] } },
      coar_keep: { type: 'number', minimum: 0.5, maximum: 0.999, default: 0.95, 'x-advanced': true, 'x-show': { method: ['coar'] } },
      rho: { type: 'number', minimum: 0, maximum: 1, default: 0.02 },
      note: { type: 'string', default: '', 'x-advanced': true },
      prompts: { type: 'array', items: { type: 'string' }, default: [] },
    },
  },
};

let pinia: Pinia;
let app: App | null = null;
let host: HTMLElement;

function mount(nodeId: string): HTMLElement {
  host = document.createElement('div');
  document.body.append(host);
  app = createApp(ParamsForm, { nodeId }).use(pinia);
  app.mount(host);
  return host;
}

const shown = () => [...host.querySelectorAll<HTMLElement>('[data-param]')].map((e) => e.dataset.param);
const advanced = () => [...host.querySelectorAll<HTMLElement>('details [data-param]')].map((e) => e.dataset.param);

function change(el: Element, value: string): void {
  (el as HTMLInputElement).value = value;
  el.dispatchEvent(new Event('change'));
}

describe('ParamsForm', () => {
  beforeEach(() => {
    pinia = createPinia();
    setActivePinia(pinia);
    useRegistryStore().setFrom({ nodes: [baseline], packs: [], packErrors: [] });
  });
  afterEach(() => {
    app?.unmount();
    host.remove();
  });

  it('says "auto" in an empty field whose param has no default (the node chooses)', async () => {
    const params = { type: 'object', properties: { rho: { type: 'number', default: 0.02 }, stop_at: { type: 'number', minimum: 0, maximum: 1 } } };
    useRegistryStore().setFrom({ nodes: [{ ...baseline, type: 'Erase', params }], packs: [], packErrors: [] });
    mount(useGraphStore().addNode('Erase'));
    await nextTick();
    const field = (key: string) => host.querySelector<HTMLInputElement>(`[data-param="${key}"] input[type=number]`);
    expect(field('stop_at')?.placeholder).toBe('auto');
    expect(field('rho')?.placeholder).toBe('');
  });

  it('hides params whose x-show fails and folds x-advanced ones', async () => {
    const g = useGraphStore();
    const id = g.addNode('EraseBaseline');
    mount(id);
    expect(shown()).toEqual(['method', 'seed', 'rho', 'prompts', 'note']);
    expect(advanced()).toEqual(['note']);
    change(host.querySelector('[data-param=method] select')!, 'coar');
    await nextTick();
    expect(g.toWorkflow().nodes[id].params).toEqual({ method: 'coar' });
    expect(shown()).toEqual(['method', 'seed', 'coar_masks', 'rho', 'prompts', 'coar_keep', 'note']);
    change(host.querySelector('[data-param=method] select')!, 'magnitude');
    await nextTick();
    expect(shown()).toEqual(['method', 'rho', 'prompts', 'note']);
  });

  it('shows a param whose same-named input is linked as coming from that link', async () => {
    const g = useGraphStore();
    const a = g.addNode('EraseBaseline');
    const b = g.addNode('EraseBaseline');
    mount(b);
    host.querySelector('details')!.setAttribute('open', '');
    expect(host.querySelector('[data-param=note] input')).not.toBeNull();
    g.connect(a, 'text', b, 'note');
    await nextTick();
    expect(host.querySelector('[data-param=note] [data-testid=param-linked]')!.textContent).toBe(`← ${a}.text`);
    expect(host.querySelector('[data-param=note] input')).toBeNull();
  });

  it('marks a refused value with its message, from the schema and from the server', async () => {
    const g = useGraphStore();
    const id = g.addNode('EraseBaseline');
    mount(id);
    change(host.querySelector('[data-param=rho] input[type=number]')!, '3');
    await nextTick();
    const rho = host.querySelector('[data-param=rho]')!;
    expect(rho.getAttribute('data-invalid')).toBe('true');
    expect(rho.querySelector('[data-testid=param-error]')!.textContent).toBe('must be ≤ 1');
    g.setServerErrors([{ nodeId: id, kind: 'bad_param', param: 'note', message: 'the server says no' }]);
    await nextTick();
    // an error in a folded param opens the fold
    expect(host.querySelector('details')!.hasAttribute('open')).toBe(true);
    expect(host.querySelector('[data-param=note] [data-testid=param-error]')!.textContent).toBe('the server says no');
  });

  it('commits one undo step per edit and stops pointer events from reaching the node', async () => {
    const g = useGraphStore();
    const id = g.addNode('EraseBaseline');
    mount(id);
    change(host.querySelector('[data-param=prompts] textarea')!, 'a red circle\n\na blue star');
    await nextTick();
    expect(g.toWorkflow().nodes[id].params.prompts).toEqual(['a red circle', 'a blue star']);
    const slider = host.querySelector('[data-param=rho] input[type=range]')!;
    (slider as HTMLInputElement).value = '0.5';
    slider.dispatchEvent(new Event('input')); // dragging: no store change yet
    expect(g.toWorkflow().nodes[id].params.rho).toBeUndefined();
    change(slider, '0.5');
    expect(g.toWorkflow().nodes[id].params.rho).toBe(0.5);
    g.undo();
    expect(g.toWorkflow().nodes[id].params.rho).toBeUndefined();
    expect(g.toWorkflow().nodes[id].params.prompts).toEqual(['a red circle', 'a blue star']);
    let reached = false;
    host.addEventListener('pointerdown', () => (reached = true));
    host.querySelector('[data-param=rho] input')!.dispatchEvent(new Event('pointerdown', { bubbles: true }));
    expect(reached).toBe(false);
  });

  it('a seed set to randomize is marked on the node and changed by randomizeSeeds', async () => {
    const g = useGraphStore();
    const id = g.addNode('EraseBaseline');
    mount(id);
    const mode = host.querySelector<HTMLButtonElement>('[data-param=seed] .mode')!;
    expect(mode.textContent!.trim()).toBe('fixed');
    mode.click();
    await nextTick();
    expect(mode.textContent!.trim()).toBe('random');
    expect(g.toWorkflow().nodes[id].ui?.randomize).toEqual(['seed']);
    g.randomizeSeeds();
    expect(typeof g.toWorkflow().nodes[id].params.seed).toBe('number');
  });
});
