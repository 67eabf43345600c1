// The node registry and the node-pack loader (docs/writing-nodes.md). A pack that fails to load is recorded, never fatal.
// Packs come from: the built-in nodes/<pack>/, npm packages with a "cadflow" manifest installed in cadflow's
// node_modules, folders in CADFLOW_NODE_PATH, <data>/nodes/<pack>/ and --packs folders.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { register } from 'node:module';
import { basename, delimiter, join, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import semver from 'semver';
import { z } from 'zod';
import { PACK_NAME, type AnyNodeDef, type NodePack } from '../../nodes/sdk/define.ts';
import { describeNode, type NodeTypeInfo } from '../../nodes/sdk/params-schema.ts';
import { SDK_VERSION } from '../../nodes/sdk/version.ts';
import { resolveInside } from '../paths.ts';
import type { Workflow } from './schema.ts';

/** builtin: nodes/<pack>; npm: a package with a "cadflow" manifest; folder: a bare folder with an index.ts. */
export type PackOrigin = 'builtin' | 'npm' | 'folder';

export interface PackError {
  /** The pack's name, or its npm package name when it failed before naming itself. */
  pack: string;
  path: string;
  message: string;
  package?: string;
  version?: string;
}

export interface PackInfo { name: string; path: string; nodes: number; origin: PackOrigin; package?: string; version?: string }

/** What a saved workflow records about a third-party pack it uses (meta.packs[name]). */
export interface PackRecord { package?: string; version?: string; types: string[] }

interface Entry { def: AnyNodeDef; pack: PackInfo }

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** "demo (cadflow-nodes-demo 0.3.1, <path>)" */
const label = (p: PackInfo) => `${p.name} (${[p.package && `${p.package}${p.version ? ` ${p.version}` : ''}`, p.path].filter(Boolean).join(', ')})`;

export class NodeRegistry {
  private readonly entries = new Map<string, Entry>();
  readonly packErrors: PackError[] = [];
  readonly packs: PackInfo[] = [];

  /**
   * Registers a pack, or refuses all of it: an npm pack whose ids are not `<name>/<Type>`, or a pack
   * defining an id another pack (or itself) already defines, is recorded as a pack error naming both.
   */
  addPack(pack: NodePack, path = '(in memory)', source: { origin?: PackOrigin; package?: string; version?: string } = {}): void {
    const info: PackInfo = { name: pack.name, path, nodes: pack.nodes.length, origin: source.origin ?? 'folder', package: source.package, version: source.version };
    const refuse = (msg: string) => this.packErrors.push({ pack: pack.name, path, message: msg, package: info.package, version: info.version });
    if (info.origin === 'npm') {
      if (!PACK_NAME.test(pack.name)) return void refuse(`pack name "${pack.name}" must be lowercase letters, digits and dashes (it namespaces the node types)`);
      const bare = pack.nodes.filter((d) => !d.type.startsWith(`${pack.name}/`)).map((d) => d.type);
      if (bare.length) return void refuse(`node types of pack ${pack.name} must be named ${pack.name}/<Type>: ${bare.join(', ')}`);
    } else if (info.origin === 'builtin' && pack.nodes.some((d) => d.type.includes('/'))) {
      return void refuse('built-in node types have bare ids');
    }
    const seen = new Set<string>();
    const clashes: string[] = [];
    for (const d of pack.nodes) {
      const other = this.entries.get(d.type)?.pack;
      if (other) clashes.push(`${d.type} (also in pack ${label(other)})`);
      else if (seen.has(d.type)) clashes.push(`${d.type} (twice in this pack)`);
      seen.add(d.type);
    }
    if (clashes.length) return void refuse(`pack ${label(info)} not loaded: it defines node types already defined: ${clashes.join('; ')}`);
    for (const def of pack.nodes) this.entries.set(def.type, { def, pack: info });
    this.packs.push(info);
  }

  get(type: string): AnyNodeDef | undefined {
    return this.entries.get(type)?.def;
  }

  /** The pack a registered node type comes from. */
  packOf(type: string): PackInfo | undefined {
    return this.entries.get(type)?.pack;
  }

  types(): string[] {
    return [...this.entries.keys()].sort();
  }

  describe(): NodeTypeInfo[] {
    return this.types().map((t) => {
      const e = this.entries.get(t)!;
      return describeNode(e.def, e.pack.name);
    });
  }

  /**
   * The workflow with meta.packs naming, for every third-party pack its nodes use, the pack's npm package,
   * version and types — so a machine without the pack can say what to install. Earlier records are kept.
   */
  stampPacks(wf: Workflow): Workflow {
    const packs = recordedPacks(wf.meta);
    let changed = false;
    for (const node of Object.values(wf.nodes)) {
      const info = this.packOf(node.type);
      if (!info || info.origin === 'builtin') continue;
      const prev = packs.get(info.name);
      const types = [...new Set([...(prev?.package === info.package ? prev?.types ?? [] : []), node.type])].sort();
      packs.set(info.name, { ...(info.package ? { package: info.package } : {}), ...(info.version ? { version: info.version } : {}), types });
      changed = true;
    }
    if (!changed) return wf;
    return { ...wf, meta: { ...wf.meta, packs: Object.fromEntries([...packs].sort(([a], [b]) => a.localeCompare(b))) } };
  }

  /** "unknown node type X", plus which pack provides X when the workflow recorded it or the id is namespaced. */
  unknownTypeMessage(type: string, meta: Record<string, unknown>): string {
    const recorded = [...recordedPacks(meta)].find(([, r]) => r.types.includes(type));
    const name = recorded?.[0] ?? (type.includes('/') ? type.split('/')[0] : undefined);
    if (!name) return `unknown node type ${type}`;
    const rec = recorded?.[1];
    const broken = this.packErrors.find((e) => e.pack === name || (rec?.package !== undefined && e.package === rec.package));
    if (broken) return `unknown node type ${type}: its pack ${broken.pack} failed to load: ${broken.message}`;
    const installed = this.packs.find((p) => p.name === name);
    if (installed) return `unknown node type ${type}: pack ${name}${installed.version ? ` ${installed.version}` : ''} is installed but does not define it`;
    const pkg = rec?.package ? ` (npm install ${rec.package}${rec.version ? `@${rec.version}` : ''})` : '';
    return `unknown node type ${type}: it comes from pack ${name}${rec?.version ? ` ${rec.version}` : ''}, which is not installed${pkg}`;
  }
}

const PackRecordSchema = z.object({ package: z.string().max(214).optional(), version: z.string().max(64).optional(), types: z.array(z.string().max(100)).max(1000).default([]) });

/** meta.packs as a map; malformed entries and names that are not pack names are ignored. */
function recordedPacks(meta: Record<string, unknown>): Map<string, PackRecord> {
  const out = new Map<string, PackRecord>();
  const raw = Object.hasOwn(meta, 'packs') ? meta.packs : undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const [name, value] of Object.entries(raw)) {
    const rec = PackRecordSchema.safeParse(value);
    if (PACK_NAME.test(name) && rec.success) out.set(name, rec.data);
  }
  return out;
}

function isNodePack(v: unknown): v is NodePack {
  const p = v as NodePack;
  return typeof p === 'object' && p !== null && typeof p.name === 'string' && Array.isArray(p.nodes)
    && p.nodes.every((n) => typeof n?.type === 'string' && typeof n.execute === 'function');
}

async function importPack(file: string): Promise<NodePack> {
  const mod = await import(pathToFileURL(file).href);
  if (!isNodePack(mod.default)) throw new Error(`${basename(file)} must default-export defineNodePack({ name, nodes })`);
  return mod.default;
}

/** Imports one pack folder's index.ts; records the error instead of throwing. */
export async function loadPackDir(registry: NodeRegistry, dir: string, origin: PackOrigin = 'folder'): Promise<void> {
  if (readManifest(dir)) return loadManifestPack(registry, dir);
  const file = join(dir, 'index.ts');
  try {
    if (origin !== 'builtin') useHostSdk();
    registry.addPack(await importPack(file), file, { origin });
  } catch (err) {
    registry.packErrors.push({ pack: basename(dir), path: file, message: message(err) });
  }
}

const ManifestSchema = z.object({
  nodes: z.string().min(1).max(500),
  sdk: z.string().min(1).max(100),
});

/** package.json's name, version and "cadflow" field, or undefined when the folder is not a cadflow pack. */
function readManifest(dir: string): { name?: string; version?: string; cadflow: unknown } | undefined {
  let pkg: unknown;
  try {
    pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof pkg !== 'object' || pkg === null || !Object.hasOwn(pkg, 'cadflow')) return undefined;
  const p = pkg as Record<string, unknown>;
  return {
    name: typeof p.name === 'string' ? p.name : undefined,
    version: typeof p.version === 'string' ? p.version : undefined,
    cadflow: p.cadflow,
  };
}

/** Loads an npm-style pack: checks its manifest and SDK range, then imports its entry. Errors are recorded. */
export async function loadManifestPack(registry: NodeRegistry, dir: string): Promise<void> {
  const manifest = readManifest(dir);
  const pkgName = manifest?.name ?? basename(dir);
  const fail = (path: string, msg: string) => registry.packErrors.push({ pack: pkgName, path, message: msg, package: pkgName, version: manifest?.version });
  const pkgFile = join(dir, 'package.json');
  const m = ManifestSchema.safeParse(manifest?.cadflow);
  if (!m.success) return void fail(pkgFile, 'package.json "cadflow" must be { "nodes": "<entry file>", "sdk": "<semver range>" }');
  const range = semver.validRange(m.data.sdk);
  if (!range) return void fail(pkgFile, `package.json "cadflow.sdk" ${JSON.stringify(m.data.sdk)} is not a semver range`);
  if (!semver.satisfies(SDK_VERSION, range)) {
    return void fail(pkgFile, `incompatible: the pack needs cadflow SDK ${m.data.sdk}, this cadflow has SDK ${SDK_VERSION}`);
  }
  let entry = pkgFile;
  try {
    entry = resolveInside(dir, m.data.nodes);
    useHostSdk();
    registry.addPack(await importPack(entry), entry, { origin: 'npm', package: pkgName, version: manifest?.version });
  } catch (err) {
    fail(entry, message(err));
  }
}

let hookRegistered = false;
/** Makes `import … from 'cadflow/sdk'` in a pack resolve to this cadflow's SDK (server/engine/sdk-hook.mjs). */
function useHostSdk(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  register(new URL('./sdk-hook.mjs', import.meta.url), { data: { hostPackageJson: pathToFileURL(join(REPO_ROOT, 'package.json')).href } });
}

const isDir = (p: string) => {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
};

/** Pack folders (those with an index.ts or a package.json manifest) directly under `root`, sorted; `skip` names are left out. */
export function findPackDirs(root: string, skip: string[] = []): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !skip.includes(d.name) && (existsSync(join(root, d.name, 'index.ts')) || readManifest(join(root, d.name))))
    .map((d) => join(root, d.name))
    .sort();
}

/** Packages with a "cadflow" manifest in a node_modules-like folder (scoped ones too; symlinks followed), sorted. */
export function findInstalledPacks(root: string): string[] {
  if (!isDir(root)) return [];
  const found: string[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith('.')) continue;
    const dir = join(root, name);
    if (name.startsWith('@')) found.push(...findInstalledPacks(dir));
    else if (isDir(dir) && readManifest(dir)) found.push(dir);
  }
  return found;
}

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BUILTIN_PACKS_DIR = join(REPO_ROOT, 'nodes');
export const MODELS_DIR = join(REPO_ROOT, 'models');

export interface LoadOptions {
  /** Load nodes/<pack>/index.ts and the packs installed in cadflow's node_modules (default true). */
  builtin?: boolean;
  /** The data folder: user packs in <data>/nodes/<pack>/. */
  dataDir?: string;
  /** Extra pack folders (each holding an index.ts or a package.json manifest), e.g. the test pack. */
  packDirs?: string[];
  /**
   * Folders searched for npm packs: each is a pack itself or a node_modules-like folder of them.
   * Default: CADFLOW_NODE_PATH, split on the path delimiter.
   */
  nodePath?: string[];
}

export async function loadRegistry(opts: LoadOptions = {}): Promise<NodeRegistry> {
  const registry = new NodeRegistry();
  const builtin = opts.builtin !== false;
  const nodePath = opts.nodePath ?? (process.env.CADFLOW_NODE_PATH ?? '').split(delimiter).filter(Boolean);
  const sources: [string, PackOrigin][] = [
    ...(builtin ? findPackDirs(BUILTIN_PACKS_DIR, ['sdk']).map((d) => [d, 'builtin'] as [string, PackOrigin]) : []),
    ...(builtin ? findInstalledPacks(join(REPO_ROOT, 'node_modules')) : []).map((d) => [d, 'npm'] as [string, PackOrigin]),
    ...nodePath.flatMap((p) => (readManifest(resolve(p)) ? [resolve(p)] : findInstalledPacks(resolve(p)))).map((d) => [d, 'npm'] as [string, PackOrigin]),
    ...(opts.dataDir ? findPackDirs(join(opts.dataDir, 'nodes')) : []).map((d) => [d, 'folder'] as [string, PackOrigin]),
    ...(opts.packDirs ?? []).map((d) => [resolve(d), 'folder'] as [string, PackOrigin]),
  ];
  // one folder reached twice (a symlink, a path listed twice) loads once
  const loaded = new Set<string>();
  for (const [dir, origin] of sources) {
    const real = existsSync(dir) ? realpathSync(dir) : dir;
    if (loaded.has(real)) continue;
    loaded.add(real);
    await loadPackDir(registry, dir, origin);
  }
  return registry;
}
