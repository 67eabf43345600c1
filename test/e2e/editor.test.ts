// Browser tests of the editor: Debian's Chromium (playwright-core) against a real server with the built-in packs
// on the shapes-micro model. One page walks through what a user does; each step leaves a screenshot in
// test/e2e/screenshots/ (git-ignored). Runs the production build (pretest makes it; beforeAll rebuilds it when stale).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../server/engine/registry.ts';
import { BROKENPACK, startTestServer, type TestServer } from '../platform/helpers.ts';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SHOTS = join(REPO_ROOT, 'test/e2e/screenshots');

let t: TestServer;
let browser: BrowserContext;
let page: Page;
const profile = mkdtempSync(join(tmpdir(), 'cadflow-chromium-'));
const pageErrors: string[] = [];

/** expect.poll with room for a loaded machine (the default gives up after 1 s). */
const poll = <T>(fn: () => T | Promise<T>, opts: { timeout?: number } = {}) => expect.poll(fn, { timeout: 15_000, ...opts });

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

const node = (id: string) => page.locator(`[data-node-id="${id}"]`);
const param = (id: string, key: string) => node(id).locator(`[data-param="${key}"]`);
const state = (id: string) => node(id).getAttribute('data-node-state');

async function ready(p: Page = page): Promise<void> {
  await p.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30_000 });
}

async function setNumber(id: string, key: string, value: number): Promise<void> {
  const input = param(id, key).locator('input.pw-number');
  await input.fill(String(value));
  await input.press('Tab');
  await poll(() => input.inputValue()).toBe(String(value));
}

/** Drags a palette entry onto the canvas at (x, y) from the canvas's top-left corner. */
async function dropNode(type: string, x: number, y: number): Promise<void> {
  await page.locator(`[data-palette-type="${type}"]`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}

function socket(id: string, side: 'in' | 'out', key: string): Locator {
  return node(id).locator(`.fn-port.${side}`).filter({ hasText: new RegExp(`^\\s*${key}\\s*$`) }).locator('[data-socket-type]');
}

/** Drags a link from an output socket to an input socket with the mouse (Rete's connection plugin). */
async function link(from: string, output: string, to: string, input: string): Promise<void> {
  const a = (await socket(from, 'out', output).boundingBox())!;
  const b = (await socket(to, 'in', input).boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

/** Records, in the page, every state each node passes through and whether it showed a preview <img> while running. */
async function watchNodes(): Promise<void> {
  await page.evaluate(() => {
    const seen: Record<string, { states: string[]; previewWhileRunning: boolean; progress: boolean }> = {};
    (window as unknown as { __seen: typeof seen }).__seen = seen;
    const scan = () => {
      for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-node-id]'))) {
        const id = el.dataset.nodeId!;
        const s = (seen[id] ??= { states: [], previewWhileRunning: false, progress: false });
        const st = el.dataset.nodeState!;
        if (s.states.at(-1) !== st) s.states.push(st);
        if (st === 'running' && el.querySelector('img[src^="blob:"]')) s.previewWhileRunning = true;
        if (st === 'running' && el.querySelector('[data-testid="node-progress"]')) s.progress = true;
      }
    };
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-node-state', 'src'] });
    scan();
  });
}
const seen = () => page.evaluate(() => (window as unknown as { __seen: Record<string, { states: string[]; previewWhileRunning: boolean; progress: boolean }> }).__seen);

async function waitIdle(): Promise<void> {
  await t.server.manager.idle();
  await poll(() => page.locator('[data-node-state="running"], [data-node-state="queued"]').count(), { timeout: 30_000 }).toBe(0);
}

beforeAll(async () => {
  // `npm test` builds it in pretest; a lone `vitest run` of this file builds it here (a no-op when up to date).
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-editor.mjs')], { stdio: 'inherit' });
  mkdirSync(SHOTS, { recursive: true });
  t = await startTestServer({ builtinPacks: true, packDirs: [BROKENPACK] });
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1600, height: 1000 },
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => void d.accept());
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe('editor in Chromium', () => {
  it('first screen: erase-concept open and ready with a hint; a broken pack is shown in the palette', async () => {
    await page.goto(t.url);
    await ready();
    expect(await page.getByTestId('workflow-name').innerText()).toBe('erase-concept');
    const first = JSON.parse(readFileSync(join(REPO_ROOT, 'workflows/erase-concept.json'), 'utf8'));
    expect(await page.locator('[data-node-id]').count()).toBe(Object.keys(first.nodes).length);
    expect(await page.getByTestId('hint').innerText()).toContain('Run');
    expect(await page.locator('[data-pack-error][data-pack="brokenpack"]').innerText()).toContain('failed to load');
    expect(await page.locator('[data-socket-type="MODEL"]').count()).toBeGreaterThan(0);
    await shot('01-first-screen');
  });

  it('builds a graph by hand: palette, links, params; a wrong-type link is refused with its reason', async () => {
    await page.locator('[data-action="new"]').click();
    await poll(() => page.locator('[data-node-id]').count()).toBe(0);
    await page.getByTestId('palette-search').fill('model');
    await dropNode('LoadModel', 60, 100);
    await page.getByTestId('palette-search').fill('');
    await dropNode('Prompts', 60, 300);
    await dropNode('Sample', 400, 100);
    await dropNode('ClipScore', 720, 100);
    await poll(() => page.locator('[data-node-id]').count()).toBe(4);
    expect(await page.locator('[data-node-id]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.nodeType).sort()))
      .toEqual(['ClipScore', 'LoadModel', 'Prompts', 'Sample']);

    // MODEL into an IMAGES input: refused, with the reason on screen and no link made
    await link('load_model_1', 'model', 'clip_score_1', 'images');
    await poll(() => page.getByTestId('connection-refused').innerText().catch(() => '')).toContain('MODEL cannot feed IMAGES');
    await shot('02-refused-connection');
    // Rete keeps the refused link on the pointer (click-to-connect); a click on the background lets go of it
    const area = (await page.getByTestId('canvas').boundingBox())!;
    await page.mouse.click(area.x + area.width / 2, area.y + area.height - 60);
    await poll(() => page.getByTestId('connection').count()).toBe(0);

    await link('load_model_1', 'model', 'sample_1', 'model');
    await link('prompts_1', 'prompts', 'sample_1', 'prompts');
    await link('sample_1', 'images', 'clip_score_1', 'images');
    await poll(() => page.getByTestId('connection').count()).toBe(3);
    await param('load_model_1', 'model').locator('select').selectOption('shapes-micro');
    await setNumber('prompts_1', 'count', 4);
    const template = param('prompts_1', 'template').locator('input');
    await template.fill('{a} {colour} {shape} on {a} {background} background');
    await template.press('Tab');
    await setNumber('sample_1', 'steps', 12);
    // the autosaved draft holds the graph as built
    const draft = () => page.evaluate(() => JSON.parse(localStorage.getItem('cadflow.draft') ?? 'null')?.workflow);
    await poll(async () => (await draft())?.nodes.sample_1).toMatchObject({
      params: { steps: 12 }, inputs: { model: ['load_model_1', 'model'], prompts: ['prompts_1', 'prompts'] },
    });
    expect((await draft()).nodes.load_model_1.params.model).toBe('shapes-micro');
    expect((await draft()).nodes.clip_score_1.inputs.images).toEqual(['sample_1', 'images']);
    expect(await page.getByTestId('dirty').count()).toBe(1);
    await shot('03-built-by-hand');
  });

  it('runs it: queued, running with progress and live previews, then results on the nodes and in the panel', async () => {
    await watchNodes();
    await page.locator('[data-action="run"]').click();
    await waitIdle();
    const last = (await t.api('/api/runs?limit=1')).body.runs[0];
    expect(last.error, JSON.stringify(last.error)).toBeNull();
    const s = await seen();
    expect(s.sample_1.states).toEqual(expect.arrayContaining(['queued', 'running', 'done']));
    expect(s.sample_1.progress).toBe(true);
    expect(s.sample_1.previewWhileRunning).toBe(true);
    expect(await state('clip_score_1')).toBe('done');
    expect(await node('sample_1').getByTestId('node-badge').innerText()).toMatch(/\d+(\.\d)? m?s/);
    // the sampled images as <img> inside the node, and the scores in the results panel of the selected node
    await poll(() => node('sample_1').locator('img').count()).toBeGreaterThan(0);
    await node('clip_score_1').locator('header').click();
    await poll(() => page.getByTestId('results-panel').getAttribute('data-results-node')).toBe('clip_score_1');
    expect(await page.getByTestId('results-panel').innerText()).toContain('done');
    await shot('04-run-done');
  });

  it('a run the server refuses shows why on the node and the param (and nothing is queued)', async () => {
    await setNumber('sample_1', 'steps', 0);
    await poll(() => param('sample_1', 'steps').getAttribute('data-invalid')).toBe('true'); // marked before running
    const runsBefore = (await t.api('/api/runs')).body.runs.length;
    await page.locator('[data-action="run"]').click();
    await poll(() => page.getByTestId('notice').innerText().catch(() => '')).toContain('the server refused the run');
    expect(await page.getByTestId('notice').innerText()).toContain('steps');
    expect((await t.api('/api/runs')).body.runs.length).toBe(runsBefore);
    expect(await state('sample_1')).not.toBe('queued');
    await shot('05-refused-run');
    await setNumber('sample_1', 'steps', 12);
    await poll(() => param('sample_1', 'steps').getAttribute('data-invalid')).toBeNull();
  });

  it('opens a shipped workflow, sets it to shapes-micro as its meta.test says, and runs it', async () => {
    const file = JSON.parse(readFileSync(join(REPO_ROOT, 'workflows/sample-and-score.json'), 'utf8'));
    expect(file.meta.test.set).toEqual({ 'load.model': 'shapes-micro', 'sample.steps': 4 });
    await page.locator('[data-tab="workflows"]').click();
    await page.locator('[data-workflow="sample-and-score"] [data-action="open-workflow"]').click();
    await poll(() => page.getByTestId('workflow-name').innerText()).toBe('sample-and-score');
    expect(await page.locator('[data-node-id]').count()).toBe(Object.keys(file.nodes).length);
    await param('load', 'model').locator('select').selectOption('shapes-micro');
    await setNumber('sample', 'steps', 4);
    await page.locator('[data-action="run"]').click();
    await waitIdle();
    for (const id of Object.keys(file.nodes)) expect([id, await state(id)]).toEqual([id, expect.stringMatching(/^(done|cached)$/)]);
    await node('table').locator('header').click();
    await page.locator('[data-tab="results"]').click();
    await shot('05-shipped-workflow-run');
    await poll(() => page.getByTestId('results-panel').locator('tbody tr').count()).toBe(8);
  });

  it('runs to the selected node only (targets): what feeds it runs, the rest stays idle', async () => {
    await node('sample').locator('header').click();
    await poll(() => page.locator('[data-action="run-selected"]').isEnabled()).toBe(true);
    await page.locator('[data-action="run-selected"]').click();
    await waitIdle();
    const last = (await t.api('/api/runs?limit=1')).body.runs[0];
    expect((await t.api(`/api/runs/${last.runId}`)).body.targets).toEqual(['sample']);
    expect(await state('sample')).toBe('cached');
    expect(await state('clip')).toBe('idle');
  });

  it('saves (a shipped workflow saves as a copy), reloads, and the graph is intact', async () => {
    await page.locator('[data-action="save"]').click(); // read-only: Save asks for a new name
    await page.getByTestId('name-input').fill('e2e-score');
    await page.locator('[data-action="confirm-name"]').click();
    await poll(() => page.getByTestId('workflow-name').innerText()).toBe('e2e-score');
    expect(await page.getByTestId('dirty').count()).toBe(0);
    const saved = (await t.api('/api/workflows/e2e-score')).body;
    expect(saved).toMatchObject({ shipped: false, rev: 1, workflow: { nodes: { sample: { params: { steps: 4 } } } } });

    await page.reload();
    await ready();
    expect(await page.getByTestId('workflow-name').innerText()).toBe('e2e-score');
    expect(await page.locator('[data-node-id]').count()).toBe(Object.keys(saved.workflow.nodes).length);
    expect(await param('sample', 'steps').locator('input.pw-number').inputValue()).toBe('4');
    expect(await page.getByTestId('dirty').count()).toBe(0);

    // the server copy opens by URL in a fresh tab
    const other = await browser.newPage();
    await other.goto(`${t.url}/?workflow=e2e-score`);
    await ready(other);
    expect(await other.locator('[data-node-id]').count()).toBe(Object.keys(saved.workflow.nodes).length);
    await other.close();
    await shot('06-saved-reloaded');
  });

  it('undo and redo a param edit and a deletion, with the dirty marker following', async () => {
    await setNumber('sample', 'steps', 6);
    expect(await page.getByTestId('dirty').count()).toBe(1);
    await page.locator('[data-action="undo"]').click();
    await poll(() => param('sample', 'steps').locator('input.pw-number').inputValue()).toBe('4');
    expect(await page.getByTestId('dirty').count()).toBe(0);
    await page.locator('[data-action="redo"]').click();
    await poll(() => param('sample', 'steps').locator('input.pw-number').inputValue()).toBe('6');
    await node('preview').locator('header').click();
    await page.keyboard.press('Delete');
    await poll(() => node('preview').count()).toBe(0);
    await page.keyboard.press('Control+z');
    await poll(() => node('preview').count()).toBe(1);
    await page.locator('[data-action="undo"]').click();
    await poll(() => param('sample', 'steps').locator('input.pw-number').inputValue()).toBe('4');
    await shot('07-undo-redo');
  });

  it('cancels a long run: the running node stops and the history says cancelled', async () => {
    await setNumber('sample', 'steps', 400);
    await page.locator('[data-action="run"]').click();
    await poll(() => state('sample'), { timeout: 30_000 }).toBe('running');
    await poll(() => node('sample').locator('img[src^="blob:"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.locator('[data-tab="queue"]').click();
    await poll(() => page.locator('[data-queue-run]').count()).toBe(1);
    expect(await page.getByTestId('queue-panel').innerText()).toContain('running');
    await shot('08-running');
    await page.locator('[data-action="cancel"]').click();
    await waitIdle();
    expect(await state('sample')).toBe('idle');
    await page.locator('[data-tab="history"]').click();
    await poll(() => page.locator('[data-run-status]').first().getAttribute('data-run-status')).toBe('cancelled');
    await shot('09-cancelled');
  });

  it('a reload mid-run restores the live state (running node, progress, preview), then the run finishes', async () => {
    await setNumber('sample', 'steps', 40);
    await page.locator('[data-action="run"]').click();
    await poll(() => node('sample').locator('img[src^="blob:"]').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.reload();
    await ready();
    await poll(() => state('sample')).toBe('running');
    await poll(() => node('sample').locator('img[src^="blob:"]').count()).toBeGreaterThan(0);
    expect(await node('sample').getByTestId('node-progress').count()).toBe(1);
    expect(await page.title()).toMatch(/^▶ sample/);
    await shot('10-reloaded-mid-run');
    await waitIdle();
    expect(await state('table')).toBe('done');
    expect(await page.title()).not.toMatch(/^▶/);
  });

  it('the history reopens an earlier run with its graph and outputs', async () => {
    await page.locator('[data-tab="history"]').click();
    const row = page.locator('[data-run-status="done"]').last(); // the first run: the graph built by hand
    await row.click();
    await poll(() => page.locator('[data-node-id]').count()).toBe(4);
    expect(await page.locator('[data-node-type="Sample"]').getAttribute('data-node-state')).toMatch(/^(done|cached)$/);
    // the outputs come back with it: ClipScore's scores as its results view
    await poll(() => page.locator('[data-node-type="ClipScore"] [data-results-for]').count()).toBeGreaterThan(0);
    await shot('11-history-reopened');
    expect(pageErrors).toEqual([]);
  });

  it('a workflow JSON file dropped on the canvas opens', async () => {
    const doc = { format: 'cadflow.workflow', version: 1, name: 'dropped', meta: {}, nodes: { only: { type: 'LoadModel', params: { model: 'shapes-micro' } } } };
    await page.getByTestId('canvas').evaluate((el, text) => {
      const dt = new DataTransfer();
      dt.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
      for (const type of ['dragover', 'drop']) el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, JSON.stringify(doc));
    await poll(() => page.locator('[data-node-id]').count()).toBe(1);
    expect(await node('only').getAttribute('data-node-type')).toBe('LoadModel');
    expect(await page.getByTestId('workflow-name').innerText()).toBe('untitled');
    expect(await page.getByTestId('notice').innerText()).toContain('opened dropped.json');
  });

  it('with a token: no token or a wrong one gets a prompt; the right one (or ?token=) opens the editor', async () => {
    const guarded = await startTestServer({ token: 'open-sesame-42' });
    const p = await browser.newPage();
    try {
      await p.goto(guarded.url);
      await p.getByTestId('token-prompt').waitFor();
      await p.getByTestId('token-input').fill('wrong');
      await p.locator('[data-action="token-submit"]').click();
      await p.getByTestId('token-wrong').waitFor();
      await p.screenshot({ path: join(SHOTS, '12-token-prompt.png') });
      await p.getByTestId('token-input').fill(`${guarded.url}/?token=open-sesame-42`);
      await p.locator('[data-action="token-submit"]').click();
      await ready(p);
      expect(await p.getByTestId('connection-status').innerText()).toBe('live');
      // the printed URL works directly, and the token leaves the address bar
      const q = await browser.newPage();
      await q.goto(`${guarded.url}/?token=open-sesame-42`);
      await ready(q);
      expect(q.url()).not.toContain('token');
      await q.close();
    } finally {
      await p.close();
      await guarded.close();
    }
  });
});
