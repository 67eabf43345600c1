// Output cache: signature → a node's outputs, LRU-bounded by entries and estimated bytes.
// Values are reference-counted by identity, because a node may pass an input object through as its output:
// a value is disposed only when neither the cache nor a running run holds it any more.
import { disposeValue, estimateBytes } from '../../nodes/sdk/values.ts';
import type { ArtifactRef } from '../../nodes/sdk/define.ts';

export interface CacheEntry {
  outputs: Record<string, unknown>;
  summaries: Record<string, unknown>;
  artifacts: ArtifactRef[];
  /** What the node recorded (seeds, hashes) so a cached run's env record stays complete. */
  recorded: { seeds: Record<string, number | number[]>; hashes: Record<string, string> };
  bytes: number;
}

/** Identity refcounts for object values; primitives need no tracking. */
export class ValueRefs {
  private readonly counts = new Map<object, number>();
  retain(v: unknown): void {
    if (typeof v === 'object' && v !== null) this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
  }
  release(v: unknown): void {
    if (typeof v !== 'object' || v === null) return;
    const n = (this.counts.get(v) ?? 1) - 1;
    if (n > 0) this.counts.set(v, n);
    else {
      this.counts.delete(v);
      disposeValue(v);
    }
  }
}

export interface CacheLimits { maxEntries: number; maxBytes: number }

export class OutputCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly pins = new Map<string, number>();
  private bytes = 0;
  constructor(private readonly refs: ValueRefs, public limits: CacheLimits) {}

  get size(): number { return this.entries.size; }
  get totalBytes(): number { return this.bytes; }

  /** Looks up and marks as most recently used. */
  get(sig: string): CacheEntry | undefined {
    const e = this.entries.get(sig);
    if (e) {
      this.entries.delete(sig);
      this.entries.set(sig, e);
    }
    return e;
  }

  has(sig: string): boolean { return this.entries.has(sig); }

  set(sig: string, entry: Omit<CacheEntry, 'bytes'>): void {
    this.delete(sig);
    const bytes = Object.values(entry.outputs).reduce<number>((n, v) => n + estimateBytes(v), 0);
    for (const v of Object.values(entry.outputs)) this.refs.retain(v);
    this.entries.set(sig, { ...entry, bytes });
    this.bytes += bytes;
    this.evict();
  }

  /** Pinned entries (in use by a running run) are never evicted. */
  pin(sig: string): void { this.pins.set(sig, (this.pins.get(sig) ?? 0) + 1); }
  unpin(sig: string): void {
    const n = (this.pins.get(sig) ?? 1) - 1;
    if (n > 0) this.pins.set(sig, n);
    else this.pins.delete(sig);
  }

  delete(sig: string): void {
    const e = this.entries.get(sig);
    if (!e) return;
    this.entries.delete(sig);
    this.bytes -= e.bytes;
    for (const v of Object.values(e.outputs)) this.refs.release(v);
  }

  /** Drops least recently used, unpinned entries until within limits. */
  evict(): void {
    for (const sig of [...this.entries.keys()]) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) return;
      if (!this.pins.has(sig)) this.delete(sig);
    }
  }

  clear(): void {
    for (const sig of [...this.entries.keys()]) this.delete(sig);
  }
}
