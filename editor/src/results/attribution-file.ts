// FitAttribution's artifact in the browser: a safetensors file (nodes/attribution/summary.ts serializeAttribution)
// with `scores.<matrix>`, `grads.<matrix>`, `magnitude.<matrix>` as F32 and the component set in its metadata.
// Only the header is parsed up front; a matrix's scores are read when the heatmap asks for them.
import { artifactUrl } from '@/api/client.ts';

export interface TensorInfo { dtype: string; shape: number[]; data_offsets: [number, number] }
export interface AttributionFile { bytes: ArrayBuffer; dataStart: number; tensors: Map<string, TensorInfo>; metadata: Record<string, string> }

/** Parses a safetensors header: u64 LE header length, JSON header, then the data block. */
export function parseSafetensorsHeader(bytes: ArrayBuffer): AttributionFile {
  if (bytes.byteLength < 8) throw new Error('attribution file: too short');
  const view = new DataView(bytes);
  const len = Number(view.getBigUint64(0, true));
  if (8 + len > bytes.byteLength) throw new Error('attribution file: header runs past the end');
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 8, len))) as Record<string, unknown>;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') metadata = info as Record<string, string>;
    else tensors.set(name, info as TensorInfo);
  }
  return { bytes, dataStart: 8 + len, tensors, metadata };
}

/** The score matrices in the file, in file order, as rows × cols (a component vector is one column). */
export function scoreMatrices(f: AttributionFile): { name: string; rows: number; cols: number }[] {
  return [...f.tensors].filter(([n]) => n.startsWith('scores.')).map(([n, t]) => ({
    name: n.slice('scores.'.length), rows: t.shape[0] ?? 1, cols: t.shape.slice(1).reduce((a, b) => a * b, 1),
  }));
}

/** One matrix's scores (copied out, so the view holds no alignment assumptions on the file's buffer). */
export function readScores(f: AttributionFile, matrix: string): Float32Array {
  const t = f.tensors.get(`scores.${matrix}`);
  if (!t) throw new Error(`attribution file: no scores for ${matrix}`);
  if (t.dtype !== 'F32') throw new Error(`attribution file: scores.${matrix} is ${t.dtype}, expected F32`);
  const [b, e] = t.data_offsets;
  return new Float32Array(f.bytes.slice(f.dataStart + b, f.dataStart + e));
}

const cache = new Map<string, Promise<AttributionFile>>();

/** Fetches and parses an attribution artifact once per page (artifacts are immutable, named by their hash). */
export function loadAttributionFile(id: string): Promise<AttributionFile> {
  let p = cache.get(id);
  if (!p) {
    p = fetch(artifactUrl(id)).then(async (res) => {
      if (!res.ok) throw new Error(`attribution artifact: ${res.status} ${res.statusText}`);
      return parseSafetensorsHeader(await res.arrayBuffer());
    });
    p.catch(() => cache.delete(id));
    cache.set(id, p);
  }
  return p;
}
