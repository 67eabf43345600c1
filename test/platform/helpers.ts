// Shared test helpers: a real server on an ephemeral port with the test pack, real socket.io clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient, type Socket } from 'socket.io-client';
import { startServer, type CadflowServer, type ServerOptions } from '../../server/app.ts';
import { REPO_ROOT } from '../../server/engine/registry.ts';

export const TESTPACK = join(REPO_ROOT, 'test/fixtures/testpack');
export const BROKENPACK = join(REPO_ROOT, 'test/fixtures/brokenpack');

type Nodes = Record<string, { type: string; typeVersion?: number; params?: Record<string, unknown>; inputs?: Record<string, unknown> }>;
export const wf = (nodes: Nodes, name = 'test') => ({ format: 'cadflow.workflow', version: 1, name, nodes, meta: {} });

export interface TestServer {
  server: CadflowServer;
  dataDir: string;
  url: string;
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startTestServer(extra: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = extra.dataDir ?? mkdtempSync(join(tmpdir(), 'cadflow-test-'));
  const server = await startServer({ dataDir, port: 0, builtinPacks: false, packDirs: [TESTPACK], log: () => {}, ...extra });
  const auth: Record<string, string> = server.token ? { authorization: `Bearer ${server.token}` } : {};
  return {
    server, dataDir, url: server.url,
    async api(path, init = {}) {
      const { json, ...rest } = init;
      const res = await fetch(`${server.url}${path}`, {
        ...rest,
        headers: { ...auth, ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...(rest.headers as Record<string, string>) },
        body: json !== undefined ? JSON.stringify(json) : rest.body,
      });
      const text = await res.text();
      let body: unknown = text;
      try { body = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body };
    },
    async close() {
      await server.close();
      if (!extra.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Received { event: string; payload: any }

/** A connected client that records every event in order. */
export class Client {
  readonly events: Received[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly socket: Socket) {
    socket.onAny((event: string, payload: unknown) => {
      this.events.push({ event, payload });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string, token?: string): Promise<Client> {
    const socket = connectClient(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: token ? { token } : {} });
    const client = new Client(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return client;
  }

  /** Resolves with the first recorded event matching, waiting for it if needed. */
  async waitFor(event: string, pred: (p: any) => boolean = () => true, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.event === event && pred(e.payload));
      if (hit) return hit.payload;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${event}; got ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  of(runId: string): Received[] {
    return this.events.filter((e) => e.payload?.runId === runId);
  }

  close(): void {
    this.socket.close();
  }
}
