// The SDK's editor hints (ui()) reach the JSON Schema the editor builds its widgets from.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { paramsToJsonSchema, ui } from '../../nodes/sdk/params-schema.ts';

describe('param ui hints', () => {
  it('carry advanced, show and widget into the JSON Schema, whatever the order of describe/default', () => {
    const schema = z.object({
      method: z.enum(['a', 'b']).default('a'),
      rho: ui(z.number().min(0).max(1).default(0.5), { advanced: true, show: { method: ['b'] } }).describe('fraction'),
      prompts: ui(z.array(z.string()).default([]).describe('one per line'), { widget: 'prompts' }),
      plain: z.number().default(1),
    });
    const props = paramsToJsonSchema(schema).properties as Record<string, Record<string, unknown>>;
    expect(props.rho).toMatchObject({ 'x-advanced': true, 'x-show': { method: ['b'] }, description: 'fraction', minimum: 0, maximum: 1, default: 0.5 });
    expect(props.prompts).toMatchObject({ 'x-widget': 'prompts', description: 'one per line' });
    expect(Object.keys(props.plain).filter((k) => k.startsWith('x-'))).toEqual([]);
  });
});
