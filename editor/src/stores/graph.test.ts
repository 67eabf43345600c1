// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useGraphStore, WorkflowLoadError } from './graph.ts';
import { useRegistryStore } from './registry.ts';

const def = (type: string, inputs: object, outputs: object, properties: object = {}, required?: string[]) => ({
  type, typeVersion: 2, category: 'test', displayName: type, pack: 'test', cacheable: true, inputs, outputs,
  params: { type: 'object', properties, ...(required ? { required } : {}) },
});

const registryAnswer = {
  nodes: [
    def('LoadModel', {}, { model: { type: 'MODEL' } }, { model: { type: 'string', minLength: 1, default: 'shapes-tiny' } }),
    def('Prompts', {}, { prompts: { type: 'PROMPTS' } }, { prompts: { type: 'array', items: { type: 'string' }, default: [] } }),
    def('Sample', { model: { type: 'MODEL' }, prompts: { type: 'PROMPTS' } }, { images: { type: 'IMAGES' } }, {
      steps: { type: 'integer', minimum: 1, maximum: 1000, default: 25 },
      cfg: { type: 'number', minimum: 0, maximum: 30, default: 3 },
      sampler: { type: 'string', enum: ['ddim', 'ddpm'], default: 'ddim' },
      seed: { type: 'integer', minimum: 0, maximum: 100, default: 0 },
    }),
    def('EvaluateErasure', { models: { type: 'MODEL', multiple: true } }, { table: { type: 'TABLE' } }, {
      concept: { type: 'string' },
    }, ['concept']),
    def('Table', { tables: { type: 'TABLE', multiple: true } }, { table: { type: 'TABLE' } }),
    def('Text', { text: { type: 'STRING' } }, { n: { type: 'NUMBER' } }),
  ],
  packs: [],
  packErrors: [],
};

function setup() {
  setActivePinia(createPinia());
  useRegistryStore().setFrom(registryAnswer);
  return useGraphStore();
}

describe('graph store', () => {
  beforeEach(() => void setup());

  it('adds nodes with ids from their type, the type version and a position', () => {
    const g = useGraphStore();
    expect(g.addNode('Sample', { x: 10.4, y: 20 })).toBe('sample_1');
    expect(g.addNode('Sample')).toBe('sample_2');
    expect(g.addNode('LoadModel')).toBe('load_model_1');
    expect(g.toWorkflow().nodes.sample_1).toEqual({ type: 'Sample', typeVersion: 2, params: {}, inputs: {}, ui: { x: 10, y: 20 } });
    expect(() => g.addNode('Nope')).toThrow(/unknown node type Nope/);
  });

  it('connects compatible sockets and refuses a wrong type with the reason', () => {
    const g = useGraphStore();
    const load = g.addNode('LoadModel');
    const prompts = g.addNode('Prompts');
    const sample = g.addNode('Sample');
    expect(g.connect(load, 'model', sample, 'model')).toEqual({ ok: true });
    expect(g.connect(prompts, 'prompts', sample, 'prompts')).toEqual({ ok: true });
    expect(g.toWorkflow().nodes[sample].inputs).toEqual({ model: [load, 'model'], prompts: [prompts, 'prompts'] });
    const sample2 = g.addNode('Sample');
    expect(g.connect(sample, 'images', sample2, 'model')).toEqual({ ok: false, reason: 'IMAGES cannot feed MODEL input model' });
    expect(g.connect(load, 'nope', sample2, 'model')).toEqual({ ok: false, reason: 'LoadModel has no output nope' });
    expect(g.connect(load, 'model', 'ghost', 'model')).toEqual({ ok: false, reason: 'no node ghost' });
    expect(g.toWorkflow().nodes[sample2].inputs).toEqual({});
  });

  it('accepts the SDK widenings (NUMBER feeds STRING, SCORES feeds TABLE) and refuses cycles', () => {
    const g = useGraphStore();
    const a = g.addNode('Text');
    const b = g.addNode('Text');
    expect(g.connect(a, 'n', b, 'text').ok).toBe(true);
    expect(g.connect(b, 'n', a, 'text')).toEqual({ ok: false, reason: 'text_2 → text_1 would make a cycle' });
    expect(g.connect(a, 'n', a, 'text').ok).toBe(false);
  });

  it('keeps one link per input (a new link replaces the old) unless the input is multiple', () => {
    const g = useGraphStore();
    const l1 = g.addNode('LoadModel');
    const l2 = g.addNode('LoadModel');
    const s = g.addNode('Sample');
    g.connect(l1, 'model', s, 'model');
    g.connect(l2, 'model', s, 'model');
    expect(g.toWorkflow().nodes[s].inputs.model).toEqual([l2, 'model']);
    const ev = g.addNode('EvaluateErasure');
    g.connect(l1, 'model', ev, 'models');
    g.connect(l2, 'model', ev, 'models');
    g.connect(l2, 'model', ev, 'models'); // the same link twice is one link
    expect(g.toWorkflow().nodes[ev].inputs.models).toEqual([[l1, 'model'], [l2, 'model']]);
    g.disconnect(ev, 'models', [l1, 'model']);
    expect(g.toWorkflow().nodes[ev].inputs.models).toEqual([[l2, 'model']]);
    g.disconnect(s, 'model');
    expect(g.toWorkflow().nodes[s].inputs).toEqual({});
  });

  it('removing nodes drops the links that came from them', () => {
    const g = useGraphStore();
    const l1 = g.addNode('LoadModel');
    const l2 = g.addNode('LoadModel');
    const ev = g.addNode('EvaluateErasure');
    g.connect(l1, 'model', ev, 'models');
    g.connect(l2, 'model', ev, 'models');
    g.selected = [l1, ev];
    g.removeNodes([l1]);
    expect(Object.keys(g.toWorkflow().nodes)).toEqual([l2, ev]);
    expect(g.toWorkflow().nodes[ev].inputs.models).toEqual([[l2, 'model']]);
    expect(g.selected).toEqual([ev]);
  });

  it('checks param values against their JSON Schema into clientErrors', () => {
    const g = useGraphStore();
    const s = g.addNode('Sample');
    expect(g.clientErrors[s]).toBeUndefined();
    g.setParam(s, 'steps', 0);
    g.setParam(s, 'cfg', 31);
    g.setParam(s, 'sampler', 'euler');
    g.setParam(s, 'seed', 1.5);
    expect(g.clientErrors[s]).toEqual({
      steps: 'must be ≥ 1', cfg: 'must be ≤ 30', sampler: 'must be one of ddim, ddpm', seed: 'must be a whole number',
    });
    g.setParam(s, 'cfg', 'high');
    expect(g.clientErrors[s].cfg).toBe('must be a number');
    g.setParam(s, 'steps', 12);
    g.setParam(s, 'cfg', undefined); // back to the default
    expect(g.clientErrors[s].steps).toBeUndefined();
    expect(g.toWorkflow().nodes[s].params).toEqual({ steps: 12, sampler: 'euler', seed: 1.5 });
    expect(() => g.setParam(s, 'nope', 1)).toThrow(/has no param nope/);
    const ev = g.addNode('EvaluateErasure');
    expect(g.clientErrors[ev]).toEqual({ concept: 'required' });
  });

  it('editing a param or linking an input clears the server error that named it', () => {
    const g = useGraphStore();
    const s = g.addNode('Sample');
    g.setServerErrors([
      { nodeId: s, kind: 'bad_param', param: 'steps', message: 'too many' },
      { nodeId: s, kind: 'missing_input', message: 'model is not connected' },
    ]);
    g.setParam(s, 'steps', 5);
    expect(g.serverErrors).toEqual([{ nodeId: s, kind: 'missing_input', message: 'model is not connected' }]);
    g.setServerErrors([
      { nodeId: s, kind: 'missing_input', message: 'required input model (MODEL) is not connected' },
      { nodeId: s, kind: 'missing_input', message: 'required input prompts (PROMPTS) is not connected' },
    ]);
    g.connect(g.addNode('LoadModel'), 'model', s, 'model'); // answers the error naming its input only
    expect(g.serverErrors.map((e) => e.message)).toEqual(['required input prompts (PROMPTS) is not connected']);
  });

  it('undoes and redoes each edit as one step (a param edit, a move, a connection)', () => {
    const g = useGraphStore();
    const load = g.addNode('LoadModel');
    const s = g.addNode('Sample', { x: 0, y: 0 });
    g.connect(load, 'model', s, 'model');
    g.setParam(s, 'steps', 7);
    g.moveNodes({ [s]: { x: 100, y: 50 }, [load]: { x: -100, y: 0 } });
    expect(g.canRedo).toBe(false);
    g.undo();
    expect(g.toWorkflow().nodes[s].ui).toEqual({ x: 0, y: 0 });
    expect(g.toWorkflow().nodes[s].params.steps).toBe(7);
    g.undo();
    expect(g.toWorkflow().nodes[s].params).toEqual({});
    g.undo();
    expect(g.toWorkflow().nodes[s].inputs).toEqual({});
    g.redo();
    g.redo();
    expect(g.toWorkflow().nodes[s].params.steps).toBe(7);
    expect(g.toWorkflow().nodes[s].inputs.model).toEqual([load, 'model']);
    g.setParam(s, 'cfg', 2); // a new edit drops the redo branch
    expect(g.canRedo).toBe(false);
    g.undo(); g.undo(); g.undo(); g.undo(); g.undo(); g.undo();
    expect(g.toWorkflow().nodes).toEqual({});
    expect(g.canUndo).toBe(false);
    g.moveNodes({}); // nothing changed: no step
    expect(g.canUndo).toBe(false);
  });

  it('tracks dirty since load or markClean', () => {
    const g = useGraphStore();
    g.load({ format: 'cadflow.workflow', version: 1, nodes: { load: { type: 'LoadModel', params: {} } } }, { name: 'w', readOnly: true });
    expect(g.name).toBe('w');
    expect(g.loads).toBe(1);
    expect(g.readOnly).toBe(true);
    expect(g.dirty).toBe(false);
    g.setParam('load', 'model', 'shapes-micro');
    expect(g.dirty).toBe(true);
    g.undo();
    expect(g.dirty).toBe(false);
    g.redo();
    g.markClean();
    expect(g.dirty).toBe(false);
    expect(g.canUndo).toBe(true);
  });

  it('copies a fragment with its inner links and pastes it under fresh ids as one step', () => {
    const g = useGraphStore();
    const load = g.addNode('LoadModel', { x: 0, y: 0 });
    const s = g.addNode('Sample', { x: 300, y: 0 });
    const p = g.addNode('Prompts');
    g.connect(load, 'model', s, 'model');
    g.connect(p, 'prompts', s, 'prompts');
    g.setParam(s, 'steps', 9);
    const frag = JSON.parse(JSON.stringify(g.copy([load, s])));
    const ids = g.paste(frag, { x: 10, y: 20 });
    expect(ids).toEqual(['load_model_2', 'sample_2']);
    const wf = g.toWorkflow();
    expect(wf.nodes.sample_2).toEqual({ type: 'Sample', typeVersion: 2, params: { steps: 9 }, inputs: { model: ['load_model_2', 'model'] }, ui: { x: 310, y: 20 } });
    expect(g.selected).toEqual(ids);
    g.undo();
    expect(Object.keys(g.toWorkflow().nodes)).toEqual([load, s, p]);
    expect(g.duplicate([p])).toEqual(['prompts_2']);
    expect(() => g.paste({ nodes: 'x' })).toThrow(WorkflowLoadError);
  });

  it('never lets a node id or param key reach Object.prototype', () => {
    const g = useGraphStore();
    const bad = JSON.parse('{"format":"cadflow.workflow","version":1,"nodes":{"__proto__":{"type":"LoadModel","params":{}}}}');
    expect(() => g.load(bad)).toThrow(WorkflowLoadError);
    expect(() => g.paste(bad)).toThrow(WorkflowLoadError);
    const load = g.addNode('LoadModel');
    expect(g.connect('__proto__', 'model', load, 'model')).toEqual({ ok: false, reason: 'no node __proto__' });
    expect(g.connect(load, 'constructor', load, 'model').ok).toBe(false);
    expect(() => g.setParam('__proto__', 'x', 1)).toThrow(/no node/);
    expect(() => g.setParam(load, '__proto__', { polluted: true })).toThrow(/has no param/);
    g.removeNodes(['__proto__', 'constructor']);
    g.moveNodes(JSON.parse('{"__proto__":{"x":1,"y":2}}'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.keys(g.toWorkflow().nodes)).toEqual([load]);
  });

  it('randomizes the seeds a node marks as randomized, as one step', () => {
    const g = useGraphStore();
    const s = g.addNode('Sample');
    g.setUi(s, 'randomize', ['seed']);
    g.randomizeSeeds();
    const seed = g.toWorkflow().nodes[s].params.seed as number;
    expect(Number.isInteger(seed) && seed >= 0 && seed <= 100).toBe(true);
    g.undo();
    expect(g.toWorkflow().nodes[s].params.seed).toBeUndefined();
  });
});
