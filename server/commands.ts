// The `cadflow` commands: serve | run | validate | nodes | train | new-pack | test (ARCHITECTURE §6).
// Exit codes: 0 ok, 1 a run failed or was cancelled, 2 bad input (arguments, file, graph).
// The engine and server (and with them tfjs) are imported only by the commands that need them,
// so argument errors answer at once.
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { RunListener } from './engine/engine.ts';
import { loadRegistry, MODELS_DIR, REPO_ROOT, type NodeRegistry } from './engine/registry.ts';
import { applyOverrides, InputError, parseSetArg, readWorkflowFile } from './engine/workflow-file.ts';
import { validateWorkflow, type ValidationError } from './engine/validate.ts';
import { ArtifactStore } from './store/artifacts.ts';
import { writeFileAtomic } from '../nodes/sdk/files.ts';
import { RunStore } from './store/db.ts';
import { resolveInside } from './paths.ts';
import { packWorkflows, runPackTests, scaffoldPack } from './scaffold.ts';

const USAGE = `usage: cadflow <command> [options]

commands:
  serve [--host 127.0.0.1] [--port 8188] [--token T] [--model shapes-tiny|DIR|none] [--models DIR]…
                                                       start the server with the model preloaded (another host
                                                       needs an access token, generated and printed unless given;
                                                       a request's LoadModel reads folders only under models/,
                                                       <data>/models, --models DIRs and the --model DIR)
  run <workflow.json> [--set node.param=value]… [--out DIR] [--target NODE]… [--json]
                                                       run a workflow; writes DIR/run.json and artifact files
  validate <workflow.json> [--set node.param=value]… [--json]   check a graph without running it
  nodes [--json]                                       list the registered node types, installed and broken packs
  new-pack <name> [--dir DIR]                          write a node pack (DIR/cadflow-nodes-<name>) that passes its tests
  test [DIR]                                           run a pack's tests (vitest) and validate its workflows/*.json
  train …                                              train a model (see cadflow train --help)

every command: --data DIR (env CADFLOW_DATA, default ./data), --packs DIR[,DIR] extra node-pack folders;
npm packs installed beside cadflow load too, and those in CADFLOW_NODE_PATH (docs/writing-nodes.md)`;

interface Args {
  positional: string[];
  flags: Map<string, string[]>;
}

const BOOLEAN_FLAGS = new Set(['json', 'help', 'no-builtin']);

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    let [name, value] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (value === undefined && !BOOLEAN_FLAGS.has(name)) {
      value = argv[++i];
      if (value === undefined) throw new InputError(`--${name} needs a value`);
    }
    flags.set(name, [...(flags.get(name) ?? []), value ?? 'true']);
  }
  return { positional, flags };
}

const one = (a: Args, name: string) => a.flags.get(name)?.at(-1);
const many = (a: Args, name: string) => (a.flags.get(name) ?? []).flatMap((v) => v.split(',')).filter(Boolean);

function checkFlags(a: Args, allowed: string[]): void {
  const common = ['data', 'packs', 'no-builtin', 'help'];
  for (const name of a.flags.keys()) {
    if (!common.includes(name) && !allowed.includes(name)) throw new InputError(`unknown option --${name} (cadflow --help lists them)`);
  }
}

/** Refuses a folder argument that is, or lies under, a file; checked before any work starts. Creates nothing. */
function checkFolder(arg: string, dir: string): string {
  for (let p = dir; ; p = dirname(p)) {
    if (existsSync(p)) {
      if (!statSync(p).isDirectory()) throw new InputError(`${arg} ${dir}${p === dir ? '' : `: ${p}`} is a file, not a folder`);
      return dir;
    }
    if (dirname(p) === p) return dir;
  }
}

function dataDir(a: Args): string {
  const given = one(a, 'data');
  const arg = given !== undefined ? '--data' : process.env.CADFLOW_DATA !== undefined ? 'CADFLOW_DATA' : 'the data folder';
  return checkFolder(arg, resolve(given ?? process.env.CADFLOW_DATA ?? 'data'));
}

async function registryFor(a: Args): Promise<NodeRegistry> {
  return loadRegistry({ builtin: !a.flags.has('no-builtin'), dataDir: dataDir(a), packDirs: many(a, 'packs') });
}

function formatErrors(errors: ValidationError[]): string {
  return errors.map((e) => `  ${e.nodeId ?? '(workflow)'}: ${e.kind}${e.param ? ` [${e.param}]` : ''}: ${e.message}`).join('\n');
}

function workflowFrom(a: Args): { raw: unknown; file: string } {
  const file = a.positional[1];
  if (!file) throw new InputError(`${a.positional[0]}: missing <workflow.json> (cadflow --help shows the usage)`);
  const sets = Object.fromEntries((a.flags.get('set') ?? []).map(parseSetArg));
  return { raw: applyOverrides(readWorkflowFile(file), sets), file };
}

async function cmdValidate(a: Args): Promise<number> {
  checkFlags(a, ['set', 'json', 'target']);
  const { raw, file } = workflowFrom(a);
  const registry = await registryFor(a);
  const v = validateWorkflow(raw, registry, many(a, 'target'));
  if (a.flags.has('json')) console.log(JSON.stringify({ ok: v.ok, errors: v.errors }, null, 2));
  else printValidation(file, v);
  return v.ok ? 0 : 2;
}

function printValidation(file: string, v: ReturnType<typeof validateWorkflow>): void {
  if (v.ok) console.log(`${file}: ok (${v.plan.order.length} nodes)`);
  else console.error(`${file}: ${v.errors.length} error(s)\n${formatErrors(v.errors)}`);
}

async function cmdNodes(a: Args): Promise<number> {
  checkFlags(a, ['json']);
  const registry = await registryFor(a);
  const nodes = registry.describe();
  if (a.flags.has('json')) {
    console.log(JSON.stringify({ nodes, packs: registry.packs, packErrors: registry.packErrors }, null, 2));
    return 0;
  }
  const ports = (p: Record<string, { type: string | readonly string[] }>) => Object.entries(p).map(([k, v]) => `${k}:${[v.type].flat().join('|')}`).join(' ');
  // namespaced pack ids (attention/ConceptHeatmap) are longer than the built-in ones
  const width = Math.max(24, ...nodes.map((n) => `${n.type}@${n.typeVersion}`.length));
  for (const n of nodes) console.log(`${`${n.type}@${n.typeVersion}`.padEnd(width)} ${n.pack.padEnd(12)} ${ports(n.inputs) || '–'} → ${ports(n.outputs)}`);
  console.log(`${nodes.length} node types from ${registry.packs.length} pack(s)`);
  for (const p of registry.packs.filter((p) => p.origin === 'npm')) console.log(`pack ${p.name} ${p.version ?? ''} (${p.package}) from ${p.path}`);
  for (const e of registry.packErrors) console.error(`broken pack ${e.pack} (${e.path}): ${e.message}`);
  return 0;
}

/** Live progress on stderr: a redrawn bar on a TTY, one line per finished node otherwise. */
function progressPrinter(types: Record<string, string>): RunListener {
  const tty = process.stderr.isTTY;
  const line = (s: string) => process.stderr.write(tty ? `\r\x1b[2K${s}` : `${s}\n`);
  return {
    nodeStart: (id) => tty && line(`▸ ${id} (${types[id]})`),
    nodeProgress: (id, value, max, label) => {
      if (!tty) return;
      const w = 24;
      const filled = Math.round((Math.min(value, max) / Math.max(max, 1)) * w);
      line(`▸ ${id} [${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${value}/${max}${label ? ` ${label}` : ''}`);
    },
    nodeLog: (id, message) => {
      line(`  ${id}: ${message}`);
      if (tty) process.stderr.write('\n');
    },
    nodeDone: (id, rec) => {
      const mark = rec.status === 'done' ? (rec.cached ? '=' : '✓') : '✗';
      line(`${mark} ${id} (${types[id]}) ${rec.cached ? 'cached' : `${rec.ms} ms`}${rec.error ? ` — ${rec.error}` : ''}`);
      if (tty) process.stderr.write('\n');
    },
  };
}

async function cmdRun(a: Args): Promise<number> {
  checkFlags(a, ['set', 'json', 'out', 'target']);
  const { raw } = workflowFrom(a);
  const targets = many(a, 'target');
  const data = dataDir(a);
  const runId = randomUUID();
  const out = checkFolder('--out', resolve(one(a, 'out') ?? join('out', runId)));
  const registry = await registryFor(a);
  for (const e of registry.packErrors) console.error(`cadflow: broken node pack ${e.pack}: ${e.message}`);
  const artifacts = new ArtifactStore(join(data, 'artifacts'));
  const { Engine } = await import('./engine/engine.ts');
  const engine = await Engine.create({ registry, artifacts, dirs: { data, models: MODELS_DIR } });
  const v = engine.validate(raw, targets);
  if (!v.ok) {
    console.error(`invalid workflow: ${v.errors.length} error(s)\n${formatErrors(v.errors)}`);
    return 2;
  }
  try {
    await mkdir(out, { recursive: true });
  } catch (err) {
    throw new InputError(`--out ${out}: cannot create the folder (${(err as Error).message})`);
  }
  const store = new RunStore(join(data, 'cadflow.db'));
  store.enqueue({ runId, workflow: v.plan.workflow, targets, running: true });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  const types = Object.fromEntries(v.plan.order.map((n) => [n.id, n.def.type]));
  const printer = progressPrinter(types);
  try {
    const { record } = await engine.runPlan(v.plan, {
      runId, targets, signal: controller.signal,
      listener: { ...printer, nodeDone: (id, rec) => { printer.nodeDone!(id, rec); store.saveNode(runId, id, rec); } },
    });
    store.setStatus(runId, record.status, { error: record.error, env: record.env });
    for (const [nodeId, rec] of Object.entries(record.nodes)) {
      for (const art of rec.artifacts ?? []) {
        const target = resolveInside(out, nodeId, art.name.replace(/[\\/]/g, '_'));
        await mkdir(join(out, nodeId), { recursive: true });
        await copyFile(artifacts.pathOf(art.id), target);
      }
    }
    await writeFileAtomic(join(out, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
    if (a.flags.has('json')) console.log(JSON.stringify(record, null, 2));
    if (record.status === 'done') {
      console.error(`run ${runId} done → ${join(out, 'run.json')}`);
      return 0;
    }
    console.error(record.status === 'cancelled' ? `run ${runId} cancelled` : `run ${runId} failed: ${record.error?.message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    engine.clearCache();
    store.close();
  }
}

/** `serve` loads the default model (or --model NAME|DIR; `--model none` skips) once, so it is cached for every run. */
function preloadWorkflow(a: Args): object | undefined {
  const model = one(a, 'model') ?? 'shapes-tiny';
  if (model === 'none' || a.flags.has('no-builtin')) return undefined;
  return { format: 'cadflow.workflow', version: 1, name: 'preload', nodes: { load: { type: 'LoadModel', typeVersion: 1, params: { model } } }, meta: {} };
}

async function cmdServe(a: Args): Promise<number> {
  checkFlags(a, ['host', 'port', 'token', 'model', 'models']);
  const port = Number(one(a, 'port') ?? 8188);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InputError('--port must be 0-65535');
  const host = one(a, 'host') ?? '127.0.0.1';
  const data = dataDir(a);
  const modelDirs = many(a, 'models').map((d) => checkFolder('--models', resolve(d)));
  const { startServer } = await import('./app.ts');
  const { isModelPath } = await import('../nodes/diffusion/model-handle.ts');
  const model = one(a, 'model');
  // the operator's own --model DIR is readable by requests too (its preloaded handle is what they reuse)
  if (model && isModelPath(model)) modelDirs.push(resolve(model));
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      dataDir: data, host, port, token: one(a, 'token') ?? process.env.CADFLOW_TOKEN, modelDirs,
      builtinPacks: !a.flags.has('no-builtin'), packDirs: many(a, 'packs'), warmup: preloadWorkflow(a),
    });
  } catch (err) {
    const { code, syscall } = err as NodeJS.ErrnoException;
    if (code === 'EADDRINUSE') throw new InputError(`--port ${port}: the port is in use on ${host} (pick another --port)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new InputError(`--host ${host}: not an address of this machine`);
    if (code === 'EACCES' && syscall === 'listen') throw new InputError(`--port ${port}: not allowed to listen on it (ports below 1024 need privileges)`);
    throw err;
  }
  const b = server.engine.backend;
  console.log(`cadflow: backend ${b.backend} (${b.provider}), ${server.registry.types().length} node types, data ${data}`);
  console.log(`cadflow: listening on ${server.url}/${server.token ? `?token=${server.token}` : ''}`);
  if (server.token) console.log(`cadflow: access token ${server.token} (Authorization: Bearer <token>)`);
  await new Promise<void>((done) => {
    const stop = () => void server.close().then(done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/** Everything after `train` goes to the diffusion pack's trainCommand, loaded only now. */
async function cmdTrain(argv: string[]): Promise<number> {
  // CADFLOW_TRAIN_ENTRY lets tests point the dispatch at a stand-in module
  const entry = resolve(process.env.CADFLOW_TRAIN_ENTRY ?? join(REPO_ROOT, 'nodes/diffusion/train/cli.ts'));
  if (!existsSync(entry)) {
    console.error(`cadflow train: the training command is not installed yet (${entry} is missing)`);
    return 2;
  }
  let mod: { trainCommand?: (argv: string[]) => Promise<number> };
  try {
    mod = await import(entry);
  } catch (err) {
    console.error(`cadflow train: the training command failed to load: ${(err as Error).message}`);
    return 1;
  }
  if (typeof mod.trainCommand !== 'function') {
    console.error(`cadflow train: ${entry} does not export trainCommand(argv)`);
    return 1;
  }
  return mod.trainCommand(argv.slice(1));
}

function cmdNewPack(a: Args): number {
  checkFlags(a, ['dir']);
  const name = a.positional[1];
  if (!name) throw new InputError('new-pack: missing <name> (cadflow --help shows the usage)');
  const { dir, files } = scaffoldPack(name, one(a, 'dir') ?? '.');
  console.log(`wrote ${dir}: ${files.join(', ')}\ntest it: npx cadflow test ${dir}`);
  return 0;
}

/** A pack's tests, then every workflows/*.json validated with the pack loaded: 0 when both pass. */
async function cmdTest(a: Args): Promise<number> {
  checkFlags(a, []);
  const dir = resolve(a.positional[1] ?? '.');
  if (!existsSync(join(dir, 'package.json'))) throw new InputError(`test: ${dir} has no package.json (is it a pack?)`);
  const code = await runPackTests(dir);
  const registry = await loadRegistry({ builtin: !a.flags.has('no-builtin'), dataDir: dataDir(a), packDirs: [...many(a, 'packs'), dir] });
  let invalid = 0;
  for (const file of packWorkflows(dir)) {
    const v = validateWorkflow(readWorkflowFile(file), registry);
    printValidation(file, v);
    if (!v.ok) invalid++;
  }
  return code !== 0 ? 1 : invalid ? 2 : 0;
}

export async function main(argv: string[]): Promise<number> {
  try {
    if (argv[0] === 'train') return await cmdTrain(argv);
    const args = parseArgs(argv);
    const command = args.positional[0];
    if (!command || args.flags.has('help') || command === 'help') {
      console.log(USAGE);
      return command || args.flags.has('help') ? 0 : 2;
    }
    switch (command) {
      case 'serve': return await cmdServe(args);
      case 'run': return await cmdRun(args);
      case 'validate': return await cmdValidate(args);
      case 'nodes': return await cmdNodes(args);
      case 'new-pack': return cmdNewPack(args);
      case 'test': return await cmdTest(args);
      default: throw new InputError(`unknown command ${command} (cadflow --help lists them)`);
    }
  } catch (err) {
    // one line, never a stack trace: tfjs-wasm's exception hook would otherwise print its whole minified source
    console.error(`cadflow: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof InputError ? 2 : 1;
  }
}
