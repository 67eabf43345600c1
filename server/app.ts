// The HTTP + socket.io server (ARCHITECTURE §6): REST, live events with binary previews, the status page.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Server as SocketServer } from 'socket.io';
import { z } from 'zod';
import { Engine } from './engine/engine.ts';
import { loadRegistry, MODELS_DIR, REPO_ROOT, type NodeRegistry } from './engine/registry.ts';
import { parseWorkflow } from './engine/schema.ts';
import { InputError } from './engine/workflow-file.ts';
import type { Emit } from './events.ts';
import { RunManager } from './runner.ts';
import { renderStatusPage } from './status-page.ts';
import { ArtifactStore } from './store/artifacts.ts';
import { RunStore } from './store/db.ts';
import { ShippedWorkflows } from './store/shipped.ts';
import { listModels } from './models.ts';
import type { ModelsResponse, RunRecordWire, RunsResponse, WorkflowResponse, WorkflowsResponse } from './wire.ts';

export interface ServerOptions {
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Required (generated when not given) for any host other than loopback; optional on loopback; never empty. */
  token?: string;
  /** Load nodes/<pack> (default true); tests turn it off and pass their own packDirs. */
  builtinPacks?: boolean;
  packDirs?: string[];
  bodyLimit?: string;
  log?: (line: string) => void;
  /** Run once through the engine before queued runs resume, so its outputs sit in the cache (e.g. a LoadModel). */
  warmup?: object;
  /** Extra folders a request's LoadModel may read model folders from, besides models/ and <data>/models. */
  modelDirs?: string[];
  /** The shipped, read-only workflows (default: the repo's workflows/). */
  workflowsDir?: string;
}

export interface CadflowServer {
  url: string;
  port: number;
  host: string;
  token: string | undefined;
  engine: Engine;
  registry: NodeRegistry;
  store: RunStore;
  artifacts: ArtifactStore;
  manager: RunManager;
  http: HttpServer;
  io: SocketServer;
  close(): Promise<void>;
}

const EDITOR_DIST = fileURLToPath(new URL('../editor/dist', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_JSON_DEPTH = 64;
const RUN_ID = /^[A-Za-z0-9-]{1,64}$/;
const WORKFLOW_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

const SubmitSchema = z.object({
  workflow: z.unknown(),
  targets: z.array(z.string().max(64)).max(256).optional(),
  /** Put the run at the front of the queue. */
  front: z.boolean().optional(),
});

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly body?: Record<string, unknown>) {
    super(message);
  }
}

/** Iterative, so hostile nesting cannot overflow the stack. */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) return true;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return false;
}

function tokenMatches(given: unknown, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * On loopback without a token, only requests addressed to a loopback name are served, and sockets only from
 * pages of this server: a web page elsewhere cannot reach the API through DNS rebinding or a cross-site socket.
 */
function loopbackGuard(enabled: boolean) {
  const names = new Set(['127.0.0.1', 'localhost', '[::1]']);
  const hostOk = (host: string | undefined) => !enabled || (!!host && names.has(host.replace(/:\d+$/, '')));
  const originOk = (origin: string | undefined, host: string | undefined) => {
    if (!enabled || origin === undefined) return true; // non-browser clients send no Origin
    try {
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  };
  return { hostOk, originOk };
}

function isEditorAsset(req: Request): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.path === '/' || req.path.startsWith('/assets/'));
}

function requestToken(req: Request): unknown {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7);
  return req.query.token;
}

/** Runs the warm-up workflow outside the queue and history; a failure is reported, never fatal. */
async function warmUp(engine: Engine, workflow: object, log: (line: string) => void): Promise<void> {
  try {
    const { record, release } = await engine.run(workflow, {});
    release();
    if (record.status !== 'done') throw new Error(record.error?.message ?? record.status);
    const hashes = Object.entries(record.env.hashes ?? {}).map(([k, v]) => `${k} (sha256 ${String(v).slice(0, 12)})`);
    log(`cadflow: preloaded ${hashes.join(', ') || 'the warm-up workflow'}`);
  } catch (err) {
    log(`cadflow: preload failed (the server runs without it): ${err instanceof Error ? err.message : String(err)}`);
  }
}

export async function startServer(opts: ServerOptions): Promise<CadflowServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((line: string) => console.log(line));
  // an empty token must never mean "no authentication"
  if (opts.token !== undefined && !opts.token.trim()) throw new InputError('the access token (--token / CADFLOW_TOKEN) is empty: give a non-empty one, or leave both unset to have one generated');
  const token = opts.token ?? (LOOPBACK.has(host) ? undefined : randomBytes(24).toString('base64url'));
  const registry = await loadRegistry({ builtin: opts.builtinPacks, dataDir: opts.dataDir, packDirs: opts.packDirs });
  const artifacts = new ArtifactStore(join(opts.dataDir, 'artifacts'));
  const store = new RunStore(join(opts.dataDir, 'cadflow.db'));
  // a model folder named in a request must lie inside these (the CLI's runs may read any path)
  const modelRoots = [MODELS_DIR, join(opts.dataDir, 'models'), ...(opts.modelDirs ?? [])];
  const engine = await Engine.create({ registry, artifacts, dirs: { data: opts.dataDir, models: MODELS_DIR, modelRoots } });

  const app = express();
  const http = createHttpServer(app);
  const guard = loopbackGuard(LOOPBACK.has(host) && !token);
  const io = new SocketServer(http, {
    maxHttpBufferSize: 1e5,
    serveClient: false,
    allowRequest: (req, done) => done(null, guard.hostOk(req.headers.host) && guard.originOk(req.headers.origin, req.headers.host)),
  });
  const emit: Emit = (event, payload) => {
    io.emit(event, payload);
  };
  const manager = new RunManager(engine, store, emit);
  const shipped = new ShippedWorkflows(opts.workflowsDir ?? join(REPO_ROOT, 'workflows'));

  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!guard.hostOk(req.headers.host)) {
      res.status(403).json({ error: 'this server answers only to a loopback host name' });
      return;
    }
    // the editor's page and scripts hold no data: they load without the token and ask for it
    if (token && !isEditorAsset(req) && !tokenMatches(requestToken(req), token)) {
      res.status(401).json({ error: 'access token required (Authorization: Bearer <token> or ?token=)' });
      return;
    }
    next();
  });
  app.use(express.json({ limit: opts.bodyLimit ?? '2mb', strict: true }));
  app.use((req, _res, next) => {
    if (req.body !== undefined && deeperThan(req.body, MAX_JSON_DEPTH)) throw new HttpError(400, `JSON nested deeper than ${MAX_JSON_DEPTH}`);
    next();
  });

  const runId = (req: Request): string => {
    const id = String(req.params.id);
    if (!RUN_ID.test(id)) throw new HttpError(400, 'bad run id');
    return id;
  };
  const workflowName = (req: Request): string => {
    const name = String(req.params.name);
    if (!WORKFLOW_NAME.test(name)) throw new HttpError(400, 'workflow names are 1-100 of [A-Za-z0-9_.-], not starting with . or -');
    return name;
  };

  app.get('/api/health', (_req, res) => {
    res.json({ ok: true, backend: engine.backend, running: manager.runningId ?? null, queued: store.queued().length });
  });
  // the packs are fixed once loaded and describing them costs ~0.1 s, so it is done once per set of packs
  let described: { packs: number; nodes: ReturnType<NodeRegistry['describe']> } | undefined;
  const describeNodes = () => {
    if (described?.packs !== registry.packs.length) described = { packs: registry.packs.length, nodes: registry.describe() };
    return described.nodes;
  };
  app.get('/api/nodes', (_req, res) => {
    res.json({ nodes: describeNodes(), packs: registry.packs, packErrors: registry.packErrors });
  });
  app.get('/api/models', (_req, res) => {
    res.json(listModels(MODELS_DIR, opts.dataDir) satisfies ModelsResponse);
  });
  app.post('/api/runs', (req, res) => {
    const body = SubmitSchema.safeParse(req.body);
    if (!body.success) throw new HttpError(400, 'expected { workflow, targets?, front? }', { issues: body.error.issues.slice(0, 20) });
    const result = manager.submit(body.data.workflow, body.data.targets, body.data.front);
    if ('errors' in result) res.status(400).json({ errors: result.errors });
    else res.status(202).json(result);
  });
  app.get('/api/runs', (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit) || 50));
    res.json({ runs: store.listRuns(limit), queue: store.queued(), running: manager.runningId ?? null } satisfies RunsResponse);
  });
  app.get('/api/runs/:id', (req, res) => {
    const run = store.getRun(runId(req));
    if (!run) throw new HttpError(404, 'no such run');
    res.json(run satisfies RunRecordWire);
  });
  app.post('/api/runs/:id/cancel', (req, res) => {
    const id = runId(req);
    const outcome = manager.cancel(id);
    if (outcome) {
      res.json({ runId: id, status: outcome });
      return;
    }
    const run = store.getRun(id);
    if (!run) throw new HttpError(404, 'no such run');
    res.status(409).json({ error: `run is ${run.status}`, status: run.status });
  });
  // Shipped workflows take their names: they open read-only, and saving under such a name is refused.
  const notShipped = (name: string): string => {
    if (shipped.has(name)) throw new HttpError(409, `${name} is a shipped workflow (read-only): save it under another name`);
    return name;
  };
  app.get('/api/workflows', (_req, res) => {
    const saved = store.listWorkflows().filter((w) => !shipped.has(w.name)).map((w) => ({ ...w, shipped: false }));
    const builtin = shipped.list().map((w) => ({ ...w, rev: 1, shipped: true }));
    res.json({ workflows: [...builtin, ...saved] } satisfies WorkflowsResponse);
  });
  app.get('/api/workflows/:name', (req, res) => {
    const name = workflowName(req);
    const rev = req.query.rev === undefined ? undefined : Number(req.query.rev);
    if (rev !== undefined && !Number.isInteger(rev)) throw new HttpError(400, 'rev must be an integer');
    const file = shipped.get(name);
    if (file !== undefined) {
      res.json({ name, rev: 1, revisions: 1, shipped: true, workflow: file } satisfies WorkflowResponse);
      return;
    }
    const wf = store.getWorkflow(name, rev);
    if (!wf) throw new HttpError(404, 'no such workflow');
    res.json({ name, rev: wf.rev, revisions: wf.revisions, shipped: false, workflow: wf.body } satisfies WorkflowResponse);
  });
  app.put('/api/workflows/:name', (req, res) => {
    const name = notShipped(workflowName(req));
    // saving checks the file's shape only: a half-wired graph may be saved, it is validated when run
    const parsed = parseWorkflow(req.body);
    if (!parsed.ok) {
      res.status(400).json({ errors: parsed.errors });
      return;
    }
    res.json({ name, rev: store.saveWorkflow(name, registry.stampPacks(parsed.workflow)) });
  });
  app.delete('/api/workflows/:name', (req, res) => {
    const name = notShipped(workflowName(req));
    if (!store.getWorkflow(name)) throw new HttpError(404, 'no such workflow');
    res.json({ name, rev: store.saveWorkflow(name, null), deleted: true });
  });
  app.get('/api/artifacts/:id', async (req, res) => {
    const id = String(req.params.id);
    if (!/^[0-9a-f]{64}$/.test(id)) throw new HttpError(400, 'artifact ids are sha256 hex');
    const a = await artifacts.get(id);
    if (!a) throw new HttpError(404, 'no such artifact');
    res.setHeader('Content-Type', a.mime);
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.send(a.bytes);
  });
  app.get('/status', (_req, res) => {
    res.type('html').send(renderStatusPage({
      backend: engine.backend, nodes: describeNodes(), packErrors: registry.packErrors,
      queue: store.queued(), running: manager.runningId, runs: store.listRuns(20),
    }));
  });
  app.use('/api', (_req, _res, next) => next(new HttpError(404, 'no such endpoint')));
  // The editor's production build (scripts/build-editor.mjs); hashed assets are immutable.
  if (existsSync(join(EDITOR_DIST, 'index.html'))) {
    app.use('/assets', express.static(join(EDITOR_DIST, 'assets'), { immutable: true, maxAge: '1y', fallthrough: false }));
    app.get('/', (_req, res) => res.sendFile(join(EDITOR_DIST, 'index.html'), { headers: { 'Cache-Control': 'no-cache' } }));
  } else {
    app.get('/', (_req, res) => res.redirect('/status'));
  }
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; statusCode?: number; message?: string; body?: Record<string, unknown>; expose?: boolean };
    const status = e.status ?? e.statusCode ?? 500;
    if (status >= 500) {
      log(`cadflow: internal error: ${e.message}`);
      res.status(500).json({ error: 'internal error' });
      return;
    }
    const body = err instanceof HttpError ? err.body : undefined;
    // after a rejected upload, reusing the keep-alive socket races the client's pool (seen as ECONNRESET)
    if (req.headers['content-length'] || req.headers['transfer-encoding']) res.setHeader('Connection', 'close');
    res.status(status).json({ error: e.message ?? 'bad request', ...body });
  });

  io.use((socket, next) => {
    if (token && !tokenMatches(socket.handshake.auth?.token, token)) next(new Error('access token required'));
    else next();
  });
  io.on('connection', (socket) => {
    socket.emit('state', manager.state());
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 8188, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  for (const e of registry.packErrors) log(`cadflow: node pack ${e.pack} failed to load: ${e.message}`);
  if (opts.warmup) await warmUp(engine, opts.warmup, log);
  manager.resume();

  return {
    url, port, host, token, engine, registry, store, artifacts, manager, http, io,
    async close() {
      await manager.stop();
      io.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      engine.clearCache();
      store.close();
    },
  };
}
