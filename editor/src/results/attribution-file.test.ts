import { describe, expect, it } from 'vitest';
import { serializeSafetensors } from '@nodes/diffusion/safetensors.ts';
import { parseSafetensorsHeader, readScores, scoreMatrices } from './attribution-file.ts';

describe('attribution file', () => {
  it('reads the score matrices of a file the node side writes (header, shapes, values)', () => {
    const a = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
    const b = Float32Array.from([7, -8, 9]);
    const bytes = serializeSafetensors(new Map([
      ['scores.w1', { shape: [2, 3], data: a }], ['grads.w1', { shape: [2, 3], data: a.map((x) => -x) }], ['scores.w2', { shape: [3], data: b }],
    ]), { metadata: { format: 'cadflow.attribution' } });
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const f = parseSafetensorsHeader(buf);
    expect(f.metadata.format).toBe('cadflow.attribution');
    expect(scoreMatrices(f)).toEqual([{ name: 'w1', rows: 2, cols: 3 }, { name: 'w2', rows: 3, cols: 1 }]);
    expect([...readScores(f, 'w1')]).toEqual([...a]);
    expect([...readScores(f, 'w2')]).toEqual([...b]);
    expect(() => readScores(f, 'w3')).toThrow(/no scores for w3/);
    expect(() => parseSafetensorsHeader(new ArrayBuffer(4))).toThrow(/too short/);
  });
});
