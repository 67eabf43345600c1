// safetensors read/write: 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }, then the data.
// Reads F32 (zero-copy when aligned), F16 and BF16 (decoded to float32); writes F32 and F16.
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { writeFileAtomic } from '../sdk/files.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };
/** A header larger than this is treated as corrupt rather than parsed (real headers are kilobytes). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsTensor {
  /** The dtype stored in the file; `data` is always float32. */
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** Tensors in file (data offset) order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  constructor(message: string, public readonly source?: string) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'SafetensorsError';
  }
}

if (endianness() !== 'LE') throw new Error('safetensors.ts assumes a little-endian host');

// ---- half-precision conversions -------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → IEEE binary16 bits, rounding to nearest even; overflow → ±Infinity, NaN stays NaN. */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000; // implicit bit, then shift into the subnormal range
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m; // a carry into bit 10 correctly yields the smallest normal
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
    m++;
    if (m === 0x400) { m = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

// ---- reading ------------------------------------------------------------------------------------------

interface HeaderEntry { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }

function parseHeader(bytes: Uint8Array, source?: string): { entries: HeaderEntry[]; metadata: Record<string, string>; dataStart: number } {
  const fail = (msg: string): never => { throw new SafetensorsError(msg, source); };
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) fail(`corrupt header: header length ${headerLen} exceeds ${MAX_HEADER_BYTES}`);
  if (8 + headerLen > bytes.length) fail(`truncated: header length ${headerLen} but only ${bytes.length - 8} bytes follow`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`corrupt header: not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('corrupt header: not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('corrupt header: __metadata__ must be an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`corrupt header: __metadata__.${k} must be a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`corrupt header: entry "${name}" is not an object`);
    if (typeof e.dtype !== 'string') fail(`corrupt header: "${name}" has no dtype`);
    if (!((e.dtype as string) in BYTES)) fail(`unsupported dtype ${e.dtype as string} for "${name}" (supported: F32, F16, BF16)`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`corrupt header: "${name}" has a bad shape ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      fail(`corrupt header: "${name}" has bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const dtype = e.dtype as SafetensorsDType;
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== numel * BYTES[dtype]) {
      fail(`corrupt header: "${name}" ${dtype}[${(shape as number[]).join(',')}] needs ${numel * BYTES[dtype]} bytes, data_offsets span ${end - begin}`);
    }
    if (end > dataLen) fail(`truncated: "${name}" ends at data byte ${end} but the data section has ${dataLen} bytes`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // The format requires the tensors to tile the data section exactly: no overlaps, no holes, no trailing bytes.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of entries) {
    if (e.begin !== pos) {
      fail(e.begin < pos ? `corrupt offsets: "${e.name}" overlaps the previous tensor` : `corrupt offsets: a gap of ${e.begin - pos} bytes before "${e.name}"`);
    }
    pos = e.end;
  }
  if (pos !== dataLen) fail(`corrupt offsets: ${dataLen - pos} trailing bytes after the last tensor`);
  return { entries, metadata, dataStart };
}

/**
 * Parses a safetensors file held in memory. F32 tensors are views on `bytes` when 4-byte aligned (as on a
 * pooled Buffer at an odd offset they may not be: then they are copied); F16/BF16 are decoded to float32.
 * Views share memory with `bytes`: keep it alive and unmodified while they are in use.
 */
export function parseSafetensors(bytes: Uint8Array, source?: string): SafetensorsFile {
  const { entries, metadata, dataStart } = parseHeader(bytes, source);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const at = bytes.byteOffset + dataStart + e.begin;
    const numel = (e.end - e.begin) / BYTES[e.dtype];
    let data: Float32Array;
    if (e.dtype === 'F32') {
      data = at % 4 === 0
        ? new Float32Array(bytes.buffer, at, numel)
        : new Float32Array(bytes.buffer.slice(at, at + numel * 4));
    } else {
      const halves = new DataView(bytes.buffer, at, numel * 2);
      data = new Float32Array(numel);
      if (e.dtype === 'F16') {
        for (let i = 0; i < numel; i++) data[i] = halfToFloat(halves.getUint16(i * 2, true));
      } else {
        const bits = new Uint32Array(data.buffer);
        for (let i = 0; i < numel; i++) bits[i] = halves.getUint16(i * 2, true) << 16;
      }
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SafetensorsError(`cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, path);
  }
  return parseSafetensors(bytes, path);
}

// ---- writing ------------------------------------------------------------------------------------------

export interface TensorToWrite { shape: readonly number[]; data: Float32Array | ArrayLike<number> }
export interface WriteOptions {
  /** Stored dtype for every tensor (default F32), or per tensor name. */
  dtype?: 'F32' | 'F16' | Record<string, 'F32' | 'F16'>;
  metadata?: Record<string, string>;
}

/** Serialises tensors (in the given order) to safetensors bytes; the data section starts 8-byte aligned. */
export function serializeSafetensors(
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  opts: WriteOptions = {},
): Buffer {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (opts.metadata && Object.keys(opts.metadata).length) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" must be a string`);
    }
    header.__metadata__ = opts.metadata;
  }
  const dtypeOf = (name: string): 'F32' | 'F16' =>
    typeof opts.dtype === 'object' ? (opts.dtype[name] ?? 'F32') : (opts.dtype ?? 'F32');
  let pos = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved, not a tensor name');
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new SafetensorsError(`"${name}": bad shape [${t.shape.join(',')}]`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new SafetensorsError(`"${name}": ${t.data.length} values for shape [${t.shape.join(',')}]`);
    const dtype = dtypeOf(name);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [pos, pos + numel * BYTES[dtype]] };
    pos += numel * BYTES[dtype];
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]); // spaces: still valid JSON
  const out = Buffer.alloc(8 + json.length + pos);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let at = 8 + json.length;
  for (const [name, t] of list) {
    if (dtypeOf(name) === 'F32') {
      const src = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
      out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
      at += src.byteLength;
    } else {
      for (let i = 0; i < t.data.length; i++, at += 2) out.writeUInt16LE(floatToHalf(t.data[i]!), at);
    }
  }
  return out;
}

/** Writes a safetensors file atomically (temp file in the same folder, then rename; the folder is created). */
export async function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>,
  opts: WriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, opts));
}
