import { readFileSync } from 'node:fs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  floatToHalf, halfToFloat, parseSafetensors, readSafetensors, SafetensorsError, serializeSafetensors, writeSafetensors,
} from '../../nodes/diffusion/safetensors.ts';

const FIXTURES = join(import.meta.dirname, '../fixtures/safetensors');
type Expected = Record<string, { metadata: Record<string, string>; tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }> }>;
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Expected;
const num = (v: number | string) => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : (v as number));

const tmp = mkdtempSync(join(tmpdir(), 'cadflow-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The header JSON and data start of a file, for building corrupt variants. */
function split(bytes: Buffer): { header: Record<string, any>; data: Buffer } {
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}
function join2(header: unknown, data: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

describe('safetensors: files from an independent writer (numpy)', () => {
  for (const [file, exp] of Object.entries(expected)) {
    it(`reads ${file} exactly`, async () => {
      const f = await readSafetensors(join(FIXTURES, file));
      expect(f.metadata).toEqual(exp.metadata);
      expect([...f.tensors.keys()].sort()).toEqual(Object.keys(exp.tensors).sort());
      for (const [name, t] of Object.entries(exp.tensors)) {
        const got = f.tensors.get(name)!;
        expect(got.dtype, name).toBe(t.dtype);
        expect(got.shape, name).toEqual(t.shape);
        expect(Array.from(got.data), name).toEqual(t.values.map(num).map((v) => Math.fround(v)));
      }
    });
  }

  it('gives zero-copy views when aligned and copies when not (pooled Buffers at odd offsets)', () => {
    const bytes = readFileSync(join(FIXTURES, 'f32.safetensors'));
    const aligned = parseSafetensors(bytes);
    const w = aligned.tensors.get('conv_in.weight')!;
    expect(w.data.buffer).toBe(bytes.buffer);
    const pool = Buffer.alloc(bytes.length + 1);
    bytes.copy(pool, 1);
    const odd = parseSafetensors(pool.subarray(1));
    const w2 = odd.tensors.get('conv_in.weight')!;
    expect(w2.data.buffer).not.toBe(pool.buffer);
    expect(w2.data).toEqual(w.data);
    // mixed.safetensors puts an F32 tensor 6 bytes into the data section: always misaligned somewhere.
    const mixed = parseSafetensors(readFileSync(join(FIXTURES, 'mixed.safetensors')));
    expect(Array.from(mixed.tensors.get('b_float')!.data)).toEqual([1.5, -2.25, 1e-20, 123456.789, -0].map(Math.fround));
  });
});

describe('safetensors: round trip through cadflow\'s writer', () => {
  it('writes F32 exactly and F16 to the nearest half, with metadata, atomically', async () => {
    const a = new Float32Array(Array.from({ length: 60 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3)));
    const path = join(tmp, 'rt.safetensors');
    await writeSafetensors(path, new Map([
      ['w', { shape: [3, 4, 5], data: a }],
      ['h', { shape: [60], data: a }],
      ['s', { shape: [], data: [7] }],
    ]), { dtype: { h: 'F16' }, metadata: { preset: 'micro', note: 'ünïcode' } });
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const bytes = readFileSync(path);
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0); // data section 8-byte aligned
    const f = await readSafetensors(path);
    expect(f.metadata).toEqual({ preset: 'micro', note: 'ünïcode' });
    expect(f.tensors.get('w')!.data).toEqual(a);
    expect(f.tensors.get('s')!).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([7]) });
    const h = f.tensors.get('h')!;
    expect(h.dtype).toBe('F16');
    a.forEach((v, i) => {
      if (Math.abs(v) > 6.1e-5) expect(Math.abs(h.data[i]! - v) / Math.abs(v)).toBeLessThanOrEqual(2 ** -11);
      else expect(Math.abs(h.data[i]! - v)).toBeLessThanOrEqual(2 ** -25);
    });
  });

  it('converts halves like numpy does on every special value', () => {
    const exp = expected['f16.safetensors']!.tensors.specials!;
    const src = [0.0, -0.0, 1.0, -2.5, 65504.0, 6.103515625e-05, 5.960464477539063e-08, 1e-3, 0.1, 3.14159, Infinity, -Infinity, NaN, 1e5, -7e-6];
    expect(src.map((v) => halfToFloat(floatToHalf(v)))).toEqual(exp.values.map(num).map(Math.fround));
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up past the largest half → inf
    expect(floatToHalf(2 ** -25)).toBe(0); // exactly half the smallest subnormal: ties to even (0)
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10 → even (1)
  });

  it('rejects bad input to the writer', () => {
    expect(() => serializeSafetensors({ x: { shape: [2, 2], data: [1, 2, 3] } })).toThrow(/3 values for shape \[2,2\]/);
    expect(() => serializeSafetensors({ __metadata__: { shape: [1], data: [1] } })).toThrow(/reserved/);
  });
});

describe('safetensors: corrupt files fail clearly', () => {
  const good = readFileSync(join(FIXTURES, 'f32.safetensors'));
  const { header, data } = split(good);
  const first = 'conv_in.weight';
  const cases: [string, Buffer, RegExp][] = [
    ['empty file', Buffer.alloc(0), /truncated: 0 bytes/],
    ['header length past the end', (() => { const b = Buffer.from(good); b.writeBigUInt64LE(BigInt(good.length)); return b; })(), /truncated: header length/],
    ['absurd header length', (() => { const b = Buffer.from(good); b.writeBigUInt64LE(2n ** 62n); return b; })(), /exceeds/],
    ['header not JSON', (() => { const b = Buffer.from(good); b[8] = 0x7b; b[9] = 0x7b; return b; })(), /not valid UTF-8 JSON/],
    ['header a JSON array', join2([1, 2], data), /not a JSON object/],
    ['truncated data', good.subarray(0, good.length - 5), /truncated: ".*" ends at data byte|trailing|gap/],
    ['unsupported dtype', join2({ ...header, [first]: { ...header[first], dtype: 'I64' } }, data), /unsupported dtype I64 for "conv_in.weight"/],
    ['size mismatch', join2({ ...header, [first]: { ...header[first], shape: [4, 3, 3, 4] } }, data), /needs 576 bytes, data_offsets span 432/],
    ['negative shape', join2({ ...header, [first]: { ...header[first], shape: [-1] } }, data), /bad shape/],
    ['reversed offsets', join2({ ...header, [first]: { ...header[first], data_offsets: [10, 2] } }, data), /bad data_offsets/],
    ['overlap', join2({ ...header, scalar: { ...header.scalar, data_offsets: [0, 4] } }, data), /overlaps|gap/],
    ['trailing bytes', Buffer.concat([good, Buffer.alloc(4)]), /4 trailing bytes/],
    ['non-string metadata', join2({ ...header, __metadata__: { n: 1 } }, data), /__metadata__.n must be a string/],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(SafetensorsError);
      expect(() => parseSafetensors(bytes, 'x.safetensors')).toThrow(message);
    });
  }

  it('names a missing file', async () => {
    await expect(readSafetensors(join(tmp, 'nope.safetensors'))).rejects.toThrow(/nope\.safetensors: cannot read \(ENOENT\)/);
  });
});
