// Browser test: Debian's Chromium (driven by playwright-core) loads the status page of a real server
// and finds the backend and the registered node types on it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, wf, type TestServer } from '../platform/helpers.ts';

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let t: TestServer;
let browser: BrowserContext;
const profile = mkdtempSync(join(tmpdir(), 'cadflow-chromium-'));

beforeAll(async () => {
  t = await startTestServer();
  browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe('status page', () => {
  it('shows the backend, the node types and a finished run', async () => {
    const res = await t.api('/api/runs', { method: 'POST', json: { workflow: wf({ n: { type: 'Number', params: { value: 1 } } }, 'e2e-run') } });
    expect(res.status).toBe(202);
    await t.server.manager.idle();
    const page = await browser.newPage();
    await page.goto(`${t.url}/status`);
    expect(await page.title()).toContain('cadflow');
    const backend = await page.locator('#backend').innerText();
    expect(backend).toContain(`Backend: ${t.server.engine.backend.backend}`);
    const types = await page.locator('#node-types td:first-child b').allInnerTexts();
    expect(types).toEqual(expect.arrayContaining(['Number', 'Slow', 'Fail', 'NoiseImages', 'Mean']));
    expect(types).toHaveLength(t.server.registry.types().length);
    const runs = await page.locator('#runs').innerText();
    expect(runs).toContain('e2e-run');
    expect(runs).toContain('done');
    await page.close();
  });
});
