// The editor's figures for the docs (opt-in: CADFLOW_FIGURES=1 npx vitest run test/e2e/figures.test.ts, ~4 min):
// erase-concept mid-run with its live previews and finished (erasure bars and side-by-side grids), the attribution
// views, Erase's report and the validation scatter, each run on shapes-micro with its meta.test settings, set
// through the node widgets. Written to test/e2e/screenshots/fig-*.png (git-ignored; copy the good ones to docs/figures/).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../server/engine/registry.ts';
import { startTestServer, type TestServer } from '../platform/helpers.ts';

const SHOTS = join(REPO_ROOT, 'test/e2e/screenshots');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let t: TestServer;
let browser: BrowserContext;
let page: Page;
const profile = mkdtempSync(join(tmpdir(), 'cadflow-chromium-'));
const node = (id: string) => page.locator(`[data-node-id="${id}"]`);

/** Sets a param through its widget (opening "advanced" when it is folded there). */
async function setParam(id: string, key: string, value: unknown): Promise<void> {
  const row = node(id).locator(`[data-param="${key}"]`);
  if (!(await row.isVisible())) await node(id).locator('details.pf-adv > summary').click();
  const select = row.locator('select');
  const checkbox = row.locator('input[type=checkbox]');
  const number = row.locator('input.pw-number');
  if (await select.count()) await select.first().selectOption(String(value));
  else if (await checkbox.count()) await checkbox.setChecked(value === true);
  else {
    const input = (await number.count()) ? number : row.locator('input[type=text], textarea').first();
    await input.fill(String(value));
    await input.press('Tab');
  }
}

async function open(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await page.goto(`${t.url}/?workflow=${name}`);
  await page.waitForFunction(() => document.documentElement.dataset.ready === 'true', null, { timeout: 30_000 });
  const file = JSON.parse(readFileSync(join(REPO_ROOT, `workflows/${name}.json`), 'utf8'));
  for (const [path, value] of Object.entries({ ...file.meta.test.set, ...extra })) {
    const dot = path.indexOf('.');
    await setParam(path.slice(0, dot), path.slice(dot + 1), value);
  }
}

async function showResults(id: string, file: string): Promise<void> {
  await node(id).locator('header').click();
  await page.locator('[data-tab="results"]').click();
  await page.getByTestId('results-panel').locator('[data-results-for]').waitFor();
  await page.waitForTimeout(800); // charts animate in
  await page.screenshot({ path: join(SHOTS, file) });
}

async function runToEnd(midRunShot?: string): Promise<void> {
  await page.locator('[data-action="run"]').click();
  if (midRunShot) {
    await page.locator('[data-node-state="running"] img').first().waitFor({ timeout: 300_000 });
    await page.screenshot({ path: join(SHOTS, midRunShot) });
  }
  await t.server.manager.idle();
  await expect.poll(() => page.locator('[data-node-state="running"], [data-node-state="queued"]').count(), { timeout: 30_000 }).toBe(0);
  expect(await page.locator('[data-node-state="error"]').count()).toBe(0);
}

beforeAll(async () => {
  if (!process.env.CADFLOW_FIGURES) return;
  mkdirSync(SHOTS, { recursive: true });
  t = await startTestServer({ builtinPacks: true, packDirs: [] });
  browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: ARGS, viewport: { width: 1600, height: 1000 } });
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe.skipIf(!process.env.CADFLOW_FIGURES)('editor figures', () => {
  it('erase-concept: mid-run with previews, the erasure results, the attribution and the erase report', async () => {
    await open('erase-concept', { 'erase.rounds': 3 });
    await runToEnd('fig-erase-concept-mid-run.png');
    await showResults('evaluate', 'fig-erase-concept-results.png');
    await showResults('fit', 'fig-attribution.png');
    await showResults('erase', 'fig-erase-report.png');
  }, 600_000);

  it('validate-attribution: predicted vs actual ΔJ beside the shuffled control', async () => {
    await open('validate-attribution');
    await runToEnd();
    await showResults('validate', 'fig-validation-scatter.png');
  }, 600_000);
});
