// Restart persistence: a real `cadflow serve` process, three queued runs, kill -9 during the first,
// restart on the same data folder: the first is marked interrupted, the others complete, nothing is lost.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../server/engine/registry.ts';
import { Client, TESTPACK, wf } from './helpers.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'cadflow-restart-'));
const children: ChildProcess[] = [];

/** Starts `cadflow serve` on a free port and resolves with its URL once it listens. */
function serve(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cadflow.js'), 'serve', '--port', '0', '--data', dataDir, '--no-builtin', '--packs', TESTPACK], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.stderr!.on('data', (d) => { out += d; });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

describe('restart', () => {
  it('queued runs resume, the running one is marked interrupted, none is lost', async () => {
    const first = await serve();
    const client = await Client.connect(first.url);
    const ids: string[] = [];
    for (const [steps, tag] of [[400, 'long'], [3, 'two'], [3, 'three']] as const) {
      const res = await fetch(`${first.url}/api/runs`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workflow: wf({ slow: { type: 'Slow', params: { steps, ms: 25, tag } } }, tag) }),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { runId: string }).runId);
    }
    await client.waitFor('node:progress', (p) => p.runId === ids[0] && p.value >= 2);
    client.close();
    const exited = new Promise((resolve) => first.child.once('exit', resolve));
    first.child.kill('SIGKILL');
    await exited;

    const second = await serve();
    try {
      const watcher = await Client.connect(second.url);
      await watcher.waitFor('run:done', (p) => p.runId === ids[2], 300_000);
      watcher.close();
      const runs = (await (await fetch(`${second.url}/api/runs`)).json()) as { runs: { runId: string; status: string }[] };
      const status = Object.fromEntries(runs.runs.map((r) => [r.runId, r.status]));
      const figures = {
        queued: ids.length,
        completed: ids.filter((id) => status[id] === 'done').length,
        interrupted: ids.filter((id) => status[id] === 'interrupted').length,
        lost: ids.filter((id) => !['done', 'interrupted'].includes(status[id])).length,
      };
      console.log(`restart figures: ${JSON.stringify(figures)}`);
      expect(status[ids[0]]).toBe('interrupted');
      expect(status[ids[1]]).toBe('done');
      expect(status[ids[2]]).toBe('done');
      expect(figures).toEqual({ queued: 3, completed: 2, interrupted: 1, lost: 0 });
      // the interrupted run keeps its workflow snapshot
      const detail = (await (await fetch(`${second.url}/api/runs/${ids[0]}`)).json()) as { workflow: { name: string } };
      expect(detail.workflow.name).toBe('long');
    } finally {
      second.child.kill('SIGTERM');
    }
  }, 400_000); // two server start-ups: slow when the 2 cores are shared
});
