// In-memory shapes of socket values, shared by every node pack. Tensor-valued ones own their tensors:
// whoever drops the value (the engine's cache on eviction) calls disposeValue on it.
import type * as tfType from '@tensorflow/tfjs';

/** PROMPTS: prompt strings with optional per-prompt seeds and labels (e.g. world attributes). */
export interface PromptsValue {
  prompts: string[];
  seeds?: number[];
  /** Optional exact labels per prompt, e.g. { shape: 'circle', colour: 'red' } for world prompts. */
  labels?: Record<string, string>[];
}

/** IMAGES: a batch [N,H,W,3] in [0,1] plus the prompts/seeds that made them. */
export interface ImagesValue {
  images: tfType.Tensor4D;
  prompts?: string[];
  seeds?: number[];
  labels?: Record<string, string>[];
  dispose(): void;
}

/** SCORES: named per-item numbers; `extra` holds summary figures (e.g. shape_acc). */
export interface ScoresValue {
  name: string;
  values: number[];
  labels?: string[];
  extra?: Record<string, number | string>;
}

/** TABLE: rows of named metrics. */
export interface TableValue {
  columns: string[];
  rows: Record<string, number | string | null>[];
}

/** Anything with tensors behind it implements dispose(). */
export interface Disposable { dispose(): void }

export function isDisposable(v: unknown): v is Disposable {
  return typeof v === 'object' && v !== null && typeof (v as Disposable).dispose === 'function';
}

/** Frees what a value owns. Tensors and handles expose dispose(); plain data needs nothing. */
export function disposeValue(v: unknown): void {
  if (isDisposable(v)) v.dispose();
}

/** A tfjs tensor seen structurally (the engine does not import tfjs just to measure values). */
interface TensorLike { size: number; dtype: string; shape: number[]; dataId: object; isDisposed?: boolean }

function isTensorLike(v: unknown): v is TensorLike {
  return typeof v === 'object' && v !== null && 'dataId' in v && typeof (v as TensorLike).size === 'number'
    && Array.isArray((v as TensorLike).shape);
}

/** A value may state its own memory footprint (e.g. a handle whose tensors live in a shared store). */
export interface Sized { byteSize(): number }

/**
 * Approximate bytes a socket value keeps alive (for the engine's cache bound): its own byteSize() if it has
 * one, else the tensors found in it (arrays and plain fields, two levels deep) plus typed arrays.
 */
export function estimateBytes(v: unknown, depth = 0): number {
  if (typeof v !== 'object' || v === null) return typeof v === 'string' ? v.length * 2 : 8;
  if (typeof (v as Sized).byteSize === 'function') return (v as Sized).byteSize();
  if (isTensorLike(v)) return v.isDisposed ? 0 : v.size * (v.dtype === 'complex64' ? 8 : 4);
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (depth >= 2) return 64;
  let total = 64;
  for (const item of Array.isArray(v) ? v : Object.values(v)) total += estimateBytes(item, depth + 1);
  return total;
}
