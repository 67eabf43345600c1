// The node registry and the node-pack loader. A pack that fails to import is recorded, never fatal.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import type { AnyNodeDef, NodePack } from '../../nodes/sdk/define.ts';
import { describeNode, type NodeTypeInfo } from '../../nodes/sdk/params-schema.ts';

export interface PackError { pack: string; path: string; message: string }
interface Entry { def: AnyNodeDef; pack: string }

export class NodeRegistry {
  private readonly entries = new Map<string, Entry>();
  readonly packErrors: PackError[] = [];
  readonly packs: { name: string; path: string; nodes: number }[] = [];

  /** Registers a pack; node ids already taken by an earlier pack are reported as errors of this one. */
  addPack(pack: NodePack, path = '(in memory)'): void {
    let added = 0;
    for (const def of pack.nodes) {
      const taken = this.entries.get(def.type);
      if (taken) {
        this.packErrors.push({ pack: pack.name, path, message: `node type ${def.type} is already defined by pack ${taken.pack}` });
        continue;
      }
      this.entries.set(def.type, { def, pack: pack.name });
      added++;
    }
    this.packs.push({ name: pack.name, path, nodes: added });
  }

  get(type: string): AnyNodeDef | undefined {
    return this.entries.get(type)?.def;
  }

  types(): string[] {
    return [...this.entries.keys()].sort();
  }

  describe(): NodeTypeInfo[] {
    return this.types().map((t) => {
      const e = this.entries.get(t)!;
      return describeNode(e.def, e.pack);
    });
  }
}

function isNodePack(v: unknown): v is NodePack {
  const p = v as NodePack;
  return typeof p === 'object' && p !== null && typeof p.name === 'string' && Array.isArray(p.nodes)
    && p.nodes.every((n) => typeof n?.type === 'string' && typeof n.execute === 'function');
}

/** Imports one pack folder's index.ts; returns the error message instead of throwing. */
export async function loadPackDir(registry: NodeRegistry, dir: string): Promise<void> {
  const file = join(dir, 'index.ts');
  const name = dir.split(/[\\/]/).filter(Boolean).pop()!;
  try {
    const mod = await import(pathToFileURL(file).href);
    if (!isNodePack(mod.default)) throw new Error('index.ts must default-export defineNodePack({ name, nodes })');
    registry.addPack(mod.default, file);
  } catch (err) {
    registry.packErrors.push({ pack: name, path: file, message: err instanceof Error ? err.message : String(err) });
  }
}

/** Pack folders (those with an index.ts) directly under `root`, sorted; `skip` names are left out. */
export function findPackDirs(root: string, skip: string[] = []): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !skip.includes(d.name) && existsSync(join(root, d.name, 'index.ts')))
    .map((d) => join(root, d.name))
    .sort();
}

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BUILTIN_PACKS_DIR = join(REPO_ROOT, 'nodes');
export const MODELS_DIR = join(REPO_ROOT, 'models');

export interface LoadOptions {
  /** Load nodes/<pack>/index.ts (default true). */
  builtin?: boolean;
  /** The data folder: user packs in <data>/nodes/<pack>/index.ts. */
  dataDir?: string;
  /** Extra pack folders (each holding an index.ts), e.g. the test pack. */
  packDirs?: string[];
}

export async function loadRegistry(opts: LoadOptions = {}): Promise<NodeRegistry> {
  const registry = new NodeRegistry();
  const dirs = [
    ...(opts.builtin === false ? [] : findPackDirs(BUILTIN_PACKS_DIR, ['sdk'])),
    ...(opts.dataDir ? findPackDirs(join(opts.dataDir, 'nodes')) : []),
    ...(opts.packDirs ?? []).map((d) => resolve(d)),
  ];
  for (const dir of dirs) await loadPackDir(registry, dir);
  return registry;
}
