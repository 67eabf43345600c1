// The `cadflow` command: run, validate, nodes, train; exit codes 0/1/2. A few cases spawn the real
// command (bin/cadflow.js); the rest call the same main() in-process, which is much cheaper on 2 cores.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../server/commands.ts';
import { MODELS_DIR, REPO_ROOT } from '../../server/engine/registry.ts';
import { BROKENPACK, TESTPACK } from './helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cadflow-cli-'));
const data = join(tmp, 'data');
const CHAIN = join(REPO_ROOT, 'test/fixtures/workflows/chain.json');
const FAILS = join(REPO_ROOT, 'test/fixtures/workflows/fails.json');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Outcome { code: number; stdout: string; stderr: string }
/** A real `cadflow` process loads tsx and tfjs: seconds when idle, much longer on a busy 2-core machine. */
const SPAWN_TIMEOUT = 300_000;

/** The real command in its own process. */
function spawnCadflow(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cadflow.js'), ...args], {
    cwd: tmp, env: { ...process.env, CADFLOW_DATA: data, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

/** The same main() in-process, with stdout/stderr captured. */
async function cadflow(args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const saved = { ...process.env };
  Object.assign(process.env, { CADFLOW_DATA: data, ...env });
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => { stdout += `${a.join(' ')}\n`; });
  const err = vi.spyOn(console, 'error').mockImplementation((...a) => { stderr += `${a.join(' ')}\n`; });
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { stderr += String(chunk); return true; });
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    log.mockRestore();
    err.mockRestore();
    write.mockRestore();
    process.env = saved;
  }
}
const packs = ['--no-builtin', '--packs', TESTPACK];

describe('cadflow run', () => {
  it('runs a workflow with --set, writes run.json and artifact files, prints the record with --json', async () => {
    const out = join(tmp, 'out1');
    const r = await spawnCadflow(['run', CHAIN, ...packs, '--set', 'a.value=5', '--set', 'slow.steps=4', '--out', out, '--json']);
    expect(r.stderr).toContain('done');
    expect(r.code).toBe(0);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(Object.keys(record)).toEqual(expect.arrayContaining(['runId', 'status', 'workflow', 'env', 'nodes']));
    expect(Object.keys(record.env)).toEqual(expect.arrayContaining(['backend', 'versions', 'hashes', 'seeds']));
    expect(record.status).toBe('done');
    expect(record.workflow.nodes.a.params.value).toBe(5);
    expect(record.nodes.sum).toEqual({ status: 'done', ms: expect.any(Number), cached: false, outputs: { sum: 8 } });
    expect(record.nodes.slow.outputs.value).toBe(12);
    expect(record.nodes.mean.outputs.table.columns).toEqual(['image', 'mean']);
    expect(record.env.seeds).toEqual({ 'noise.noise': 7 });
    expect(readFileSync(join(out, 'pass', 'note.txt'), 'utf8')).toBe('passed');
    expect(JSON.parse(r.stdout)).toEqual(record);
    expect(existsSync(join(data, 'cadflow.db'))).toBe(true);
  }, SPAWN_TIMEOUT);

  it('exits 1 on a failed run, naming the node', async () => {
    const r = await spawnCadflow(['run', FAILS, ...packs, '--out', join(tmp, 'out2')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad (Fail)');
    expect(r.stderr).toContain('intentional failure');
    expect(JSON.parse(readFileSync(join(tmp, 'out2', 'run.json'), 'utf8')).status).toBe('error');
  }, SPAWN_TIMEOUT);

  it('runs only what --target needs', async () => {
    const out = join(tmp, 'out3');
    const r = await cadflow(['run', CHAIN, ...packs, '--target', 'sum', '--out', out]);
    expect(r.code).toBe(0);
    expect(Object.keys(JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')).nodes).sort()).toEqual(['a', 'b', 'sum']);
  });

  it('exits 2 on bad input: invalid graph, unknown --set node, missing file, bad JSON, unknown command', async () => {
    const badJson = join(tmp, 'bad.json');
    writeFileSync(badJson, '{ nope');
    const invalid = await spawnCadflow(['run', CHAIN, ...packs, '--set', 'sum.offset="x"']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('sum: bad_param [offset]');
    const unknownNode = await cadflow(['run', CHAIN, ...packs, '--set', 'ghost.value=1']);
    expect(unknownNode.code).toBe(2);
    expect(unknownNode.stderr).toContain('no node ghost');
    expect((await cadflow(['run', join(tmp, 'missing.json'), ...packs])).code).toBe(2);
    expect((await cadflow(['validate', badJson, ...packs])).stderr).toContain('not valid JSON');
    expect((await cadflow(['frobnicate'])).code).toBe(2);
    expect((await cadflow(['run', CHAIN, '--bogus-flag', 'x'])).code).toBe(2);
  }, SPAWN_TIMEOUT);
});

describe('cadflow validate and nodes', () => {
  it('validate: exit 0 on a good graph, 2 with every error listed (also as --json)', async () => {
    const ok = await cadflow(['validate', CHAIN, ...packs]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok (7 nodes)');
    const bad = await cadflow(['validate', CHAIN, ...packs, '--set', 'a.value="x"', '--set', 'sum.nope=1', '--json']);
    expect(bad.code).toBe(2);
    const body = JSON.parse(bad.stdout);
    expect(body.ok).toBe(false);
    expect(body.errors.map((e: { nodeId: string; param: string }) => `${e.nodeId}.${e.param}`).sort()).toEqual(['a.value', 'sum.nope']);
  });

  it('nodes: lists the registry and reports broken packs without failing', async () => {
    const r = await cadflow(['nodes', '--no-builtin', '--packs', `${TESTPACK},${BROKENPACK}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Slow@1\s+testpack/);
    expect(r.stderr).toContain('broken pack brokenpack');
    const j = await cadflow(['nodes', '--json', '--no-builtin', '--packs', TESTPACK]);
    expect(JSON.parse(j.stdout).nodes.map((n: { type: string }) => n.type)).toContain('NoiseImages');
  });
});

describe('cadflow train', () => {
  it('dispatches to trainCommand with the remaining arguments and its exit code', async () => {
    const r = await cadflow(['train', '--preset', 'micro'], { CADFLOW_TRAIN_ENTRY: join(REPO_ROOT, 'test/fixtures/train-cli.ts') });
    expect(r.stdout).toContain('train called with ["--preset","micro"]');
    expect(r.code).toBe(3);
  });

  it('says clearly when the training command is not there', async () => {
    const r = await cadflow(['train'], { CADFLOW_TRAIN_ENTRY: join(tmp, 'nowhere.ts') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not installed yet');
  });
});

describe('hardening (issue 28): one line per error, exit 0 done / 1 failed / 2 bad input', () => {
  const aFile = join(tmp, 'a-file');
  writeFileSync(aFile, 'not a folder');
  const loadWorkflow = (model: string) => {
    const file = join(tmp, `load-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ format: 'cadflow.workflow', version: 1, nodes: { load: { type: 'LoadModel', params: { model } } } }));
    return file;
  };

  it('--target naming an Object.prototype member exits 2 with the error, not 7 with a tfjs source dump', async () => {
    const run = await spawnCadflow(['run', CHAIN, ...packs, '--target', 'constructor', '--out', join(tmp, 'out-h1')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe('invalid workflow: 1 error(s)\n  constructor: unknown_target: target constructor is not a node of this workflow\n');
    const validate = await cadflow(['validate', CHAIN, ...packs, '--target', 'toString']);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain('toString: unknown_target');
  }, SPAWN_TIMEOUT);

  it('--data on a regular file and --out under one exit 2 in one line, before anything runs', async () => {
    const d = await cadflow(['run', CHAIN, ...packs, '--data', aFile]);
    expect(d).toMatchObject({ code: 2, stderr: `cadflow: --data ${aFile} is a file, not a folder\n` });
    expect((await cadflow(['validate', CHAIN, ...packs], { CADFLOW_DATA: aFile })).stderr).toBe(`cadflow: CADFLOW_DATA ${aFile} is a file, not a folder\n`);
    const o = await cadflow(['run', CHAIN, ...packs, '--out', join(aFile, 'sub')]);
    // the whole stderr: no node ran, so no run was recorded done before the failure
    expect(o).toMatchObject({ code: 2, stderr: `cadflow: --out ${join(aFile, 'sub')}: ${aFile} is a file, not a folder\n` });
  });

  it('serve on a port in use exits 2 saying so in one line', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await spawnCadflow(['serve', '--port', String(port), '--model', 'none', ...packs]);
      expect(r).toMatchObject({ code: 2, stderr: `cadflow: --port ${port}: the port is in use on 127.0.0.1 (pick another --port)\n` });
    } finally {
      busy.close();
    }
  }, SPAWN_TIMEOUT);

  it('serve refuses an empty --token or CADFLOW_TOKEN with exit 2 instead of serving without one', async () => {
    // the old code started serving (and never returned): a timer turns that into a failure that says so
    const within = (p: Promise<Outcome>) => Promise.race([p, new Promise<Outcome>((resolve) => setTimeout(() => resolve({ code: -1, stdout: '', stderr: 'still serving' }), 30_000))]);
    const serve = ['serve', '--host', '0.0.0.0', '--port', '0', '--model', 'none', ...packs];
    for (const [args, env] of [[[...serve, '--token='], {}], [serve, { CADFLOW_TOKEN: '' }]] as const) {
      const r = await within(cadflow([...args], env));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^cadflow: the access token \(--token \/ CADFLOW_TOKEN\) is empty.*\n$/);
    }
  });

  it('--set on __proto__, constructor or prototype exits 2 naming the node and leaves Object.prototype alone', async () => {
    try {
      for (const id of ['__proto__', 'constructor', 'prototype']) {
        const r = await cadflow(['validate', CHAIN, ...packs, '--set', `${id}.steps=5`]);
        expect(r, id).toMatchObject({ code: 2, stderr: `cadflow: --set ${id}.steps: the workflow has no node ${id} (nodes: a, b, sum, slow, noise, pass, mean)\n` });
      }
      const param = await cadflow(['validate', CHAIN, ...packs, '--set', 'slow.__proto__={"steps":1}']);
      expect(param).toMatchObject({ code: 2, stderr: 'cadflow: --set slow.__proto__: __proto__ is reserved and cannot be a parameter name\n' });
      expect(({} as Record<string, unknown>).params).toBeUndefined();
      expect((await cadflow(['validate', CHAIN, ...packs])).code).toBe(0);
    } finally {
      delete (Object.prototype as Record<string, unknown>).params; // what the old code left behind
    }
  });

  it('run may still load a model folder from any path (the CLI is not a request)', async () => {
    const dir = join(tmp, 'elsewhere', 'micro');
    cpSync(join(MODELS_DIR, 'shapes-micro'), dir, { recursive: true });
    const r = await cadflow(['run', loadWorkflow(dir), '--out', join(tmp, 'out-h6')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`loaded ${dir}`);
  });

  it('prints no tfjs "running TensorFlow.js in Node.js" banner (cpu backend)', async () => {
    const r = await spawnCadflow(['run', loadWorkflow('shapes-micro'), '--out', join(tmp, 'out-h7')], { CADFLOW_BACKEND: 'cpu' });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('TensorFlow.js in Node.js');
  }, SPAWN_TIMEOUT);
});
