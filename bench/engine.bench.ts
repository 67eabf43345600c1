// Engine figures: per-node scheduling overhead on a 500-node graph of trivial nodes, and the preview round
// trip server → socket.io client for 32×32 PNGs on loopback (throughput and latency).
// Run alone: npx tsx bench/engine.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connectClient } from 'socket.io-client';
import { createHarness } from '../server/harness.ts';
import { startServer } from '../server/app.ts';
import { REPO_ROOT } from '../server/engine/registry.ts';
import testpack from '../test/fixtures/testpack/index.ts';
import type { BenchFigure } from './run.ts';

const N = 500;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

/** A chain Number → Add → Add → … of N nodes, plus every 10th Add also fed by the constant (fan-out). */
function chainGraph(value: number) {
  const nodes: Record<string, unknown> = { n0: { type: 'Number', params: { value } } };
  for (let i = 1; i < N; i++) nodes[`n${i}`] = { type: 'Add', inputs: { a: [`n${i - 1}`, i === 1 ? 'value' : 'sum'], ...(i % 10 === 0 ? { b: ['n0', 'value'] } : {}) } };
  return { format: 'cadflow.workflow', version: 1, name: 'bench-chain', nodes, meta: {} };
}

async function scheduling(): Promise<BenchFigure[]> {
  const h = await createHarness({ packs: [testpack] });
  try {
    const fresh: number[] = [];
    const freshCpu: number[] = []; // process CPU time: unlike wall time, not inflated by other load on the machine
    const cached: number[] = [];
    const validateOnly: number[] = [];
    for (let rep = 0; rep < 7; rep++) {
      const g = chainGraph(rep);
      let t0 = performance.now();
      h.validate(g);
      validateOnly.push(performance.now() - t0);
      t0 = performance.now();
      const c0 = process.cpuUsage();
      const run = await h.run(g);
      fresh.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      freshCpu.push((c.user + c.system) / 1000);
      run.release();
      if (run.status !== 'done' || !run.didRun(`n${N - 1}`)) throw new Error('bench graph did not run');
      t0 = performance.now();
      const again = await h.run(g);
      cached.push(performance.now() - t0);
      again.release();
      if (!again.wasCached(`n${N - 1}`)) throw new Error('rerun was not cached');
      h.engine.clearCache();
    }
    return [
      { name: `scheduling overhead, ${N}-node graph (validate+run)`, value: median(fresh) / N, unit: 'ms/node', target: { op: '<', value: 0.5 } },
      { name: `  the same in process CPU time`, value: median(freshCpu) / N, unit: 'ms/node', target: { op: '<', value: 0.5 } },
      { name: `  of which validation`, value: median(validateOnly) / N, unit: 'ms/node' },
      { name: `cached rerun, ${N}-node graph`, value: median(cached) / N, unit: 'ms/node' },
    ];
  } finally {
    h.close();
  }
}

async function previews(count = 1000): Promise<BenchFigure[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'cadflow-bench-'));
  const server = await startServer({ dataDir, port: 0, builtinPacks: false, packDirs: [join(REPO_ROOT, 'test/fixtures/testpack')], log: () => {} });
  const socket = connectClient(server.url, { transports: ['websocket'], forceNew: true });
  try {
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const latencies: number[] = [];
    let first = 0;
    let last = 0;
    let bytes = 0;
    const done = new Promise<void>((resolve) => {
      socket.on('node:preview', (p: { label: string; bytes: Buffer }) => {
        const now = performance.now();
        const sent = Number(p.label);
        if (!first) first = sent;
        last = now;
        bytes = p.bytes.byteLength;
        latencies.push(now - sent);
      });
      socket.on('run:done', () => resolve());
    });
    const workflow = { format: 'cadflow.workflow', version: 1, name: 'bench-previews', nodes: { burst: { type: 'PreviewBurst', params: { count } } }, meta: {} };
    const c0 = process.cpuUsage();
    const res = await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workflow }) });
    if (res.status !== 202) throw new Error(`submit failed: ${res.status}`);
    await done;
    const cpu = process.cpuUsage(c0);
    if (latencies.length !== count) throw new Error(`received ${latencies.length} of ${count} previews`);
    return [
      { name: `preview throughput (${count} × 32×32 PNG, ${bytes} B)`, value: count / ((last - first) / 1000), unit: 'previews/s', target: { op: '>=', value: 200 } },
      { name: '  process CPU per preview (server + client)', value: (cpu.user + cpu.system) / 1000 / count, unit: 'ms' },
      { name: 'preview latency p50', value: median(latencies), unit: 'ms' },
      { name: 'preview latency p95', value: quantile(latencies, 0.95), unit: 'ms', target: { op: '<', value: 20 } },
    ];
  } finally {
    socket.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<BenchFigure[]> {
  return [...await scheduling(), ...await previews()];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of await bench()) console.log(f);
}
