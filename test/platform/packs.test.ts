// Node packs from npm (docs/packs.md): a pack installed into a node_modules folder (a real `npm install`) or
// named in CADFLOW_NODE_PATH is loaded; broken, incompatible and clashing packs are reported, never fatal.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findInstalledPacks, loadRegistry, REPO_ROOT } from '../../server/engine/registry.ts';
import { validateWorkflow } from '../../server/engine/validate.ts';
import { startTestServer, wf, type TestServer } from './helpers.ts';

const FIXTURES = join(REPO_ROOT, 'test/fixtures/npm-packs');
const tmp = mkdtempSync(join(tmpdir(), 'cadflow-packs-'));
const nodeModules = join(tmp, 'node_modules');
/** What CADFLOW_NODE_PATH names: the npm-installed folder, and two pack folders given directly. */
const nodePath = [nodeModules, join(FIXTURES, 'broken'), join(FIXTURES, 'incompatible')];

beforeAll(async () => {
  // a real install: --install-links copies the pack as a registry install would (no symlink back to the repo)
  await promisify(execFile)('npm', ['install', '--prefix', tmp, '--install-links', '--offline', '--no-audit', '--no-fund',
    '--no-package-lock', join(FIXTURES, 'demo')], { timeout: 120_000 });
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const echoWorkflow = (meta: Record<string, unknown> = {}) => ({ ...wf({ e: { type: 'demo/Echo', params: { text: 'hi' } } }), meta });

describe('the pack loader', () => {
  it('loads an npm-installed pack with its package name and version, and reports broken and incompatible ones', async () => {
    const registry = await loadRegistry({ builtin: false, nodePath });
    expect(registry.types()).toEqual(['demo/Echo']);
    expect(registry.packs).toEqual([expect.objectContaining({
      name: 'demo', origin: 'npm', package: 'cadflow-nodes-demo', version: '0.3.1', path: join(nodeModules, 'cadflow-nodes-demo/src/index.ts'),
    })]);
    expect(registry.packErrors).toEqual([
      expect.objectContaining({ pack: 'cadflow-nodes-broken', message: expect.stringContaining('deliberately broken') }),
      expect.objectContaining({ pack: 'cadflow-nodes-future', message: 'incompatible: the pack needs cadflow SDK ^2.0.0, this cadflow has SDK 1.0.0' }),
    ]);
  });

  it('finds packs installed as symlinks (npm install ./path) and under a scope', async () => {
    const root = join(tmp, 'linked', 'node_modules');
    mkdirSync(join(root, '@acme'), { recursive: true });
    symlinkSync(join(FIXTURES, 'demo'), join(root, '@acme', 'demo'), 'dir');
    // a package without the manifest is not a pack
    mkdirSync(join(root, 'left-pad'));
    writeFileSync(join(root, 'left-pad', 'package.json'), JSON.stringify({ name: 'left-pad', version: '1.0.0' }));
    expect(findInstalledPacks(root)).toEqual([join(root, '@acme', 'demo')]);
    const registry = await loadRegistry({ builtin: false, nodePath: [root] });
    expect(registry.packErrors).toEqual([]);
    expect(registry.types()).toEqual(['demo/Echo']);
  });

  it('refuses a second pack defining the same id, naming both packs', async () => {
    const registry = await loadRegistry({ builtin: false, nodePath: [join(FIXTURES, 'demo'), join(FIXTURES, 'clash')] });
    expect(registry.types()).toEqual(['demo/Echo']);
    expect(registry.packs.map((p) => p.package)).toEqual(['cadflow-nodes-demo']);
    expect(registry.packErrors).toHaveLength(1);
    expect(registry.packErrors[0].message).toMatch(/cadflow-nodes-demo-fork 1\.0\.0.*not loaded.*demo\/Echo.*cadflow-nodes-demo 0\.3\.1/);
  });

  it('refuses an npm pack whose ids are not namespaced by its name, and a manifest without an SDK range', async () => {
    const dir = join(tmp, 'bad');
    const pack = (name: string, manifest: object, type: string) => {
      mkdirSync(join(dir, name), { recursive: true });
      writeFileSync(join(dir, name, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', cadflow: manifest }));
      writeFileSync(join(dir, name, 'index.ts'), `import { defineNode, defineNodePack, z } from 'cadflow/sdk';
        export default defineNodePack({ name: 'bare', nodes: [defineNode({ type: ${JSON.stringify(type)}, typeVersion: 1, category: 'x',
          inputs: {}, outputs: { v: { type: 'NUMBER' } }, params: z.object({}), async execute() { return { v: 1 }; } })] });`);
    };
    pack('bare-ids', { nodes: 'index.ts', sdk: '^1' }, 'Ping');
    pack('no-range', { nodes: 'index.ts' }, 'bare/Ping');
    pack('outside', { nodes: '../bare-ids/index.ts', sdk: '^1' }, 'bare/Ping');
    const registry = await loadRegistry({ builtin: false, nodePath: [dir] });
    expect(registry.types()).toEqual([]);
    expect(registry.packErrors.map((e) => [e.package, e.message])).toEqual([
      ['bare-ids', 'node types of pack bare must be named bare/<Type>: Ping'],
      ['no-range', 'package.json "cadflow" must be { "nodes": "<entry file>", "sdk": "<semver range>" }'],
      ['outside', 'path "../bare-ids/index.ts" is outside its root'],
    ]);
  });

  it('names the missing pack and its version when a workflow that recorded it is opened without it', async () => {
    const withPack = await loadRegistry({ builtin: false, nodePath: [join(FIXTURES, 'demo')] });
    const v = validateWorkflow(echoWorkflow(), withPack);
    expect(v.ok).toBe(true);
    const recorded = v.ok ? v.plan.workflow.meta : {};
    expect(recorded.packs).toEqual({ demo: { package: 'cadflow-nodes-demo', version: '0.3.1', types: ['demo/Echo'] } });

    const without = await loadRegistry({ builtin: false, nodePath: [] });
    const missing = validateWorkflow(echoWorkflow(recorded), without);
    expect(missing.errors).toEqual([{ nodeId: 'e', kind: 'unknown_type',
      message: 'unknown node type demo/Echo: it comes from pack demo 0.3.1, which is not installed (npm install cadflow-nodes-demo@0.3.1)' }]);
    // nothing recorded: the namespace still names the pack
    expect(validateWorkflow(echoWorkflow(), without).errors[0].message).toBe('unknown node type demo/Echo: it comes from pack demo, which is not installed');
    // a recorded pack that is present but broken says why
    const broken = await loadRegistry({ builtin: false, nodePath: [join(FIXTURES, 'broken')] });
    const meta = { packs: { brk: { package: 'cadflow-nodes-broken', version: '0.0.1', types: ['brk/Thing'] } } };
    expect(validateWorkflow({ ...wf({ t: { type: 'brk/Thing' } }), meta }, broken).errors[0].message)
      .toMatch(/^unknown node type brk\/Thing: its pack cadflow-nodes-broken failed to load: .*deliberately broken/);
  });
});

describe('the server with npm packs', () => {
  let t: TestServer;
  const saved = process.env.CADFLOW_NODE_PATH;
  beforeAll(async () => {
    process.env.CADFLOW_NODE_PATH = nodePath.join(delimiter);
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
    if (saved === undefined) delete process.env.CADFLOW_NODE_PATH;
    else process.env.CADFLOW_NODE_PATH = saved;
  });

  it('lists the pack and the broken and incompatible ones, and still runs everything else', async () => {
    const res = await t.api('/api/nodes');
    expect(res.status).toBe(200);
    const types = res.body.nodes.map((n: { type: string }) => n.type);
    expect(types).toEqual(expect.arrayContaining(['demo/Echo', 'Number', 'Add']));
    expect(res.body.nodes.find((n: { type: string }) => n.type === 'demo/Echo').pack).toBe('demo');
    expect(res.body.packErrors.map((e: { pack: string }) => e.pack).sort()).toEqual(['cadflow-nodes-broken', 'cadflow-nodes-future']);
    expect(res.body.packErrors.find((e: { pack: string }) => e.pack === 'cadflow-nodes-future').message).toContain('needs cadflow SDK ^2.0.0');

    for (const workflow of [echoWorkflow(), wf({ a: { type: 'Number', params: { value: 2 } }, b: { type: 'Add', inputs: { a: ['a', 'value'] } } })]) {
      const run = await t.api('/api/runs', { method: 'POST', json: { workflow } });
      expect(run.status).toBe(202);
      let record: any;
      for (let i = 0; i < 100 && !['done', 'failed'].includes(record?.status); i++) {
        await new Promise((r) => setTimeout(r, 50));
        record = (await t.api(`/api/runs/${run.body.runId}`)).body;
      }
      expect(record.status).toBe('done');
    }
  });

  it('records the pack and its version in a saved workflow', async () => {
    expect((await t.api('/api/workflows/echo', { method: 'PUT', json: echoWorkflow() })).status).toBe(200);
    const got = await t.api('/api/workflows/echo');
    expect(got.body.workflow.meta.packs).toEqual({ demo: { package: 'cadflow-nodes-demo', version: '0.3.1', types: ['demo/Echo'] } });
  });
});

describe('cadflow nodes (a real process: the SDK is found by the loader\'s resolve hook)', () => {
  it('lists the npm pack and the broken ones', async () => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cadflow.js'), 'nodes', '--json', '--no-builtin'], {
      cwd: tmp, env: { ...process.env, CADFLOW_DATA: join(tmp, 'data'), CADFLOW_NODE_PATH: nodePath.join(delimiter) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const listed = JSON.parse(stdout);
    expect(listed.nodes.map((n: { type: string }) => n.type)).toEqual(['demo/Echo']);
    expect(listed.packs).toEqual([expect.objectContaining({ name: 'demo', package: 'cadflow-nodes-demo', version: '0.3.1' })]);
    expect(listed.packErrors.map((e: { pack: string }) => e.pack)).toEqual(['cadflow-nodes-broken', 'cadflow-nodes-future']);
  }, 300_000);
});
