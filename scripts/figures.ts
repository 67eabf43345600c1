// Makes the README's editor screenshots (docs/figures/editor-*.png): the real editor and server, driven in Chromium.
// Usage: npx tsx scripts/figures.ts [--model shapes-tiny] [--out docs/figures]   (a few minutes on 2 cores)
// Builds the editor when its sources changed, serves it from a temp data dir on a free port with the model preloaded,
// opens shipped workflows by URL, sets smaller settings through the node widgets, runs them and shoots each view
// once the page shows it (data-node-state, the results elements), never after a fixed sleep.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startServer, type CadflowServer } from '../server/app.ts';
import { REPO_ROOT } from '../server/engine/registry.ts';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const RUN_TIMEOUT = 15 * 60_000;
const UI_TIMEOUT = 30_000;

/** What each run is set to through the widgets ("node.param": value), so a shot fits in minutes on a small machine. */
const ERASE_SETTINGS = (model: string) => ({
  'load.model': model, 'fit.samples': 8, 'erase.rounds': 2, 'erase.stop_samples': 16, 'erase.keep_samples': 16,
  'evaluate.size': 'quick', 'evaluate.referenceRow': 'off',
});
const VALIDATE_SETTINGS = (model: string) => ({
  'load.model': model, 'fit.samples': 4, 'fit.timesteps': 2, 'fit.steps': 10, 'validate.masks': 20,
});

const { values: flags } = parseArgs({
  options: { model: { type: 'string', default: 'shapes-tiny' }, out: { type: 'string', default: 'docs/figures' } },
});
const model = flags.model!;
const outDir = resolve(REPO_ROOT, flags.out!);
const started = Date.now();
const written: string[] = [];

let server: CadflowServer | undefined;
let browser: BrowserContext | undefined;
let page: Page;
const dataDir = mkdtempSync(join(tmpdir(), 'cadflow-figures-'));
const profile = mkdtempSync(join(tmpdir(), 'cadflow-chromium-'));
const pageErrors: string[] = [];

const node = (id: string): Locator => page.locator(`[data-node-id="${id}"]`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Polls fn until it returns a truthy value; throws naming what it waited for. */
async function until<T>(what: string, fn: () => Promise<T>, timeout = UI_TIMEOUT): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`figures: timed out after ${secs(timeout)} waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Shoots the page; `wholePanel` first makes the window as tall as the side panel's content (up to 1800 px). */
async function shot(file: string, { wholePanel = false } = {}): Promise<void> {
  const path = join(outDir, file);
  const size = page.viewportSize()!;
  if (wholePanel) {
    const hidden = await page.getByTestId('results-panel').evaluate((el) => {
      for (let e: Element | null = el; e; e = e.parentElement) if (e.scrollHeight > e.clientHeight + 1) return e.scrollHeight - e.clientHeight;
      return 0;
    });
    await page.setViewportSize({ width: size.width, height: Math.min(1800, size.height + hidden) });
    await fitCanvas();
  }
  await page.screenshot({ path });
  if (wholePanel) await page.setViewportSize(size);
  written.push(path);
  console.log(`wrote ${relative(process.cwd(), path)} (${Math.round(statSync(path).size / 1024)} kB, ${secs(Date.now() - started)} in)`);
}

async function open(name: string): Promise<void> {
  await page.goto(`${server!.url}/?workflow=${name}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: UI_TIMEOUT });
  await until(`workflow ${name} to open`, async () => (await page.getByTestId('workflow-name').innerText()) === name);
}

/** Sets a param through its widget (unfolding "advanced" when it is there) and waits until the widget holds it. */
async function setParam(id: string, key: string, value: string | number): Promise<void> {
  const row = node(id).locator(`[data-param="${key}"]`);
  if (!(await row.count())) throw new Error(`figures: node ${id} has no param ${key} in the editor`);
  if (!(await row.isVisible())) await node(id).locator('details.pf-adv > summary').click();
  const select = row.locator('select');
  if (await select.count()) {
    await select.first().selectOption(String(value));
    await until(`${id}.${key} = ${value}`, async () => (await select.first().inputValue()) === String(value));
    return;
  }
  const checkbox = row.locator('input[type=checkbox]');
  if (await checkbox.count()) {
    await checkbox.setChecked(value === 'on');
    await until(`${id}.${key} = ${value}`, async () => (await checkbox.isChecked()) === (value === 'on'));
    return;
  }
  const input = row.locator('input.pw-number');
  await input.fill(String(value));
  await input.press('Tab');
  await until(`${id}.${key} = ${value}`, async () => (await input.inputValue()) === String(value));
}

async function applySettings(settings: Record<string, string | number>): Promise<void> {
  for (const [path, value] of Object.entries(settings)) {
    const dot = path.indexOf('.');
    await setParam(path.slice(0, dot), path.slice(dot + 1), value);
  }
}

/** Fits every node into the canvas (the minimap and the side panel stay where they are). */
async function fitCanvas(): Promise<void> {
  await page.locator('[data-action="fit"]').click();
  await page.waitForTimeout(400); // the fit animates the view; nothing in the DOM marks its end
}

const busy = () => page.locator('[data-node-state="running"], [data-node-state="queued"]').count();

/** Clicks Run, optionally waits for `midRun` (resolves truthy) to shoot mid-run, then waits for the run to end. */
async function run(label: string, midRun?: { what: string; ready: () => Promise<boolean>; file: string }): Promise<void> {
  const t0 = Date.now();
  const runsBefore = (await api('/api/runs')).runs.length;
  await page.locator('[data-action="run"]').click();
  await until(`${label}: the server to queue the run`, async () => (await api('/api/runs')).runs.length > runsBefore);
  if (midRun) {
    await until(`${label}: ${midRun.what}`, midRun.ready, RUN_TIMEOUT);
    await shot(midRun.file);
  }
  const ended = async () => {
    const row = (await api('/api/runs?limit=1')).runs[0];
    return !['queued', 'running'].includes(row.status) && (await busy()) === 0 && row;
  };
  const last = await until(`${label}: the run to finish`, ended, RUN_TIMEOUT);
  if (last.status !== 'done') throw new Error(`figures: ${label} run ${last.runId} ended ${last.status}: ${JSON.stringify(last.error)}`);
  console.log(`${label}: run done in ${secs(Date.now() - t0)}`);
}

async function api(path: string): Promise<any> {
  const res = await fetch(`${server!.url}${path}`);
  if (!res.ok) throw new Error(`figures: GET ${path} → ${res.status}`);
  return res.json();
}

/** Selects a node and waits until the side panel shows its results (`selector` inside the panel). */
async function showResults(id: string, selector: string): Promise<void> {
  await node(id).locator('header').click();
  await page.locator('[data-tab="results"]').click();
  const panel = page.getByTestId('results-panel');
  await until(`the results panel to show ${id}`, async () => (await panel.getAttribute('data-results-node')) === id);
  await panel.locator(selector).first().waitFor({ timeout: UI_TIMEOUT });
  await page.waitForTimeout(800); // ECharts animates its series in
}

function socket(id: string, side: 'in' | 'out', key: string): Locator {
  return node(id).locator(`.fn-port.${side}`).filter({ hasText: new RegExp(`^\\s*${key}\\s*$`) }).locator('[data-socket-type]');
}

async function refusedConnection(): Promise<void> {
  await open('sample-and-score');
  await fitCanvas();
  const area = (await page.getByTestId('canvas').boundingBox())!;
  // a second Sample below the graph, whose MODEL input the first Sample's IMAGES output is dragged onto
  await page.locator('[data-palette-type="Sample"]').dragTo(page.getByTestId('canvas'), {
    targetPosition: { x: area.width * 0.45, y: area.height - 300 },
  });
  const added = await until('the dropped Sample node', async () => {
    const ids = await page.locator('[data-node-type="Sample"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.nodeId!));
    return ids.find((i) => i !== 'sample');
  });
  const a = (await socket('sample', 'out', 'images').boundingBox())!;
  const b = (await socket(added, 'in', 'model').boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  await until('the refused-connection reason', async () =>
    (await page.getByTestId('connection-refused').innerText()).includes('IMAGES cannot feed MODEL'));
  await shot('editor-refused-connection.png');
  await page.mouse.click(area.x + 40, area.y + 40); // lets go of the link Rete keeps on the pointer
}

async function eraseConcept(): Promise<void> {
  await open('erase-concept');
  await applySettings(ERASE_SETTINGS(model));
  await fitCanvas();
  await node('evaluate').locator('header').click(); // the side panel follows its live state
  await run('erase-concept', {
    what: 'EvaluateErasure streaming a sample preview',
    ready: async () => (await node('evaluate').getAttribute('data-node-state')) === 'running'
      && (await node('evaluate').locator('img[src^="blob:"]').count()) > 0,
    file: 'editor-erase-running.png',
  });
  await fitCanvas();
  await showResults('evaluate', '[data-results-for]');
  await shot('editor-erase-results.png');
  await showResults('fit', '[data-results-for]');
  await shot('editor-attribution.png', { wholePanel: true });
}

async function validateAttribution(): Promise<void> {
  await open('validate-attribution');
  await applySettings(VALIDATE_SETTINGS(model));
  await fitCanvas();
  await run('validate-attribution');
  await fitCanvas();
  await showResults('validate', '[data-results-for]');
  await shot('editor-validation.png');
}

async function main(): Promise<void> {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-editor.mjs')], { stdio: 'inherit' });
  mkdirSync(outDir, { recursive: true });
  const preload = { format: 'cadflow.workflow', version: 1, name: 'preload', nodes: { load: { type: 'LoadModel', typeVersion: 1, params: { model } } }, meta: {} };
  server = await startServer({ dataDir, port: 0, log: () => {}, warmup: preload });
  console.log(`server ${server.url} (model ${model} preloaded, data ${dataDir})`);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1600, height: 1000 },
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => void d.accept());

  await refusedConnection();
  await eraseConcept();
  await validateAttribution();
  if (pageErrors.length) console.log(`page errors:\n  ${pageErrors.join('\n  ')}`);
  console.log(`${written.length} figures in ${relative(process.cwd(), outDir) || '.'}, wall time ${secs(Date.now() - started)}`);
}

try {
  await main();
} catch (err) {
  if (page! && !page.isClosed()) await page.screenshot({ path: join(tmpdir(), 'cadflow-figures-failure.png') }).catch(() => {});
  console.error((err as Error).message, `\n(the page at the failure: ${join(tmpdir(), 'cadflow-figures-failure.png')})`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  await server?.close();
  rmSync(profile, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
