import { describe, expect, it } from 'vitest';
import { isShown, modelKindFor, parseList, sliderRange, widgetKind } from './schema.ts';

describe('widget choice from JSON Schema', () => {
  it('picks a widget from the x-widget hint, the type and the name', () => {
    expect(widgetKind('Sample', 'seed', { type: 'integer', minimum: 0 })).toBe('seed');
    expect(widgetKind('X', 's', { type: 'integer', 'x-widget': 'seed' })).toBe('seed');
    expect(widgetKind('LoadModel', 'model', { type: 'string' })).toBe('model');
    expect(widgetKind('Erase', 'judge', { type: 'string', 'x-widget': 'model' })).toBe('model');
    expect(widgetKind('ClipScore', 'clip', { type: 'string' })).toBe('model');
    expect(widgetKind('Prompts', 'prompts', { type: 'array', items: { type: 'string' } })).toBe('list');
    expect(widgetKind('V', 'alphas', { type: 'array', items: { type: 'number' } })).toBe('list');
    expect(widgetKind('E', 'method', { type: 'string', enum: ['a', 'b'] })).toBe('enum');
    expect(widgetKind('T', 'descending', { type: 'boolean' })).toBe('boolean');
    expect(widgetKind('S', 'steps', { type: 'integer' })).toBe('integer');
    expect(widgetKind('S', 'cfg', { type: 'number' })).toBe('number');
    expect(widgetKind('P', 'template', { type: 'string' })).toBe('text');
    expect(widgetKind('P', 'notes', { type: 'string', 'x-widget': 'textarea' })).toBe('textarea');
    expect(widgetKind('P', 'x', {})).toBe('json');
  });

  it('offers a slider only for bounded, coverable ranges', () => {
    expect(sliderRange({ type: 'number', minimum: 0, maximum: 30 })).toEqual({ min: 0, max: 30, step: 0.01 });
    expect(sliderRange({ type: 'integer', minimum: 1, maximum: 1000 })).toEqual({ min: 1, max: 1000, step: 1 });
    expect(sliderRange({ type: 'integer', minimum: 0, maximum: 9007199254740991 })).toBeNull();
    expect(sliderRange({ type: 'number', minimum: 0 })).toBeNull();
  });

  it('hides a param whose x-show condition fails (defaults count)', () => {
    const schema = { type: 'integer', 'x-show': { method: ['random', 'coar'] } };
    expect(isShown(schema, (k) => ({ method: 'coar' } as Record<string, unknown>)[k])).toBe(true);
    expect(isShown(schema, (k) => ({ method: 'magnitude' } as Record<string, unknown>)[k])).toBe(false);
    expect(isShown({ type: 'integer' }, () => undefined)).toBe(true);
  });

  it('parses list text one item per line, numbers by comma or line', () => {
    expect(parseList('a red circle\n\n a blue star ', 'string')).toEqual(['a red circle', 'a blue star']);
    expect(parseList('0.1, 0.05\n0.025', 'number')).toEqual([0.1, 0.05, 0.025]);
    expect(parseList('0.1, x', 'number')).toBeNull();
  });

  it('filters models by the kind a param names', () => {
    expect(modelKindFor('judge')('shapes-judge')).toBe(true);
    expect(modelKindFor('clip')('shapes-clip')).toBe(true);
    expect(modelKindFor('model')('diffusion')).toBe(true);
    expect(modelKindFor('model')('shapes-clip')).toBe(false);
  });
});
