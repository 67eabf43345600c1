// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { createPinia, setActivePinia } from 'pinia';
import { useRegistryStore } from './registry.ts';

const answer = {
  nodes: [
    { type: 'Sample', typeVersion: 1, category: 'diffusion', displayName: 'Sample', pack: 'diffusion', cacheable: true,
      inputs: { model: { type: 'MODEL' } }, outputs: { images: { type: 'IMAGES' } }, params: { type: 'object', properties: {} } },
    { type: 'LoadModel', typeVersion: 1, category: 'diffusion', displayName: 'Load Model', pack: 'diffusion', cacheable: true,
      inputs: {}, outputs: { model: { type: 'MODEL' } }, params: { type: 'object', properties: {} } },
    { type: 'Table', typeVersion: 1, category: 'evaluation', displayName: 'Table', pack: 'evaluation', cacheable: true,
      inputs: {}, outputs: { table: { type: 'TABLE' } }, params: { type: 'object', properties: {} } },
  ],
  packs: [{ name: 'diffusion', path: '/x', nodes: 2 }],
  packErrors: [{ pack: 'broken', path: '/b', message: 'SyntaxError' }],
};

describe('registry store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('indexes node types by type and category and keeps pack errors', () => {
    const r = useRegistryStore();
    r.setFrom(answer);
    expect(r.byType('LoadModel')?.displayName).toBe('Load Model');
    expect(r.byType('Nope')).toBeUndefined();
    expect(r.categories.map(([c, ns]) => [c, ns.length])).toEqual([['diffusion', 2], ['evaluation', 1]]);
    expect(r.packErrors[0].pack).toBe('broken');
  });

  it('refuses an answer that does not match the wire schema', () => {
    const r = useRegistryStore();
    expect(() => r.setFrom({ nodes: [{ type: 'X' }], packs: [], packErrors: [] })).toThrow();
    expect(r.loaded).toBe(false);
  });
});
