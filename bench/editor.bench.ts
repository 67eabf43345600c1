// The editor's bench: the production bundle's gzipped size, and the time from navigation to an interactive canvas
// with erase-concept loaded (window.__cadflowReady, set when its nodes are drawn), in Debian's Chromium against a
// real server. Cold = a fresh browser profile; warm = the same profile reloaded (assets cached).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { startServer } from '../server/app.ts';
import { REPO_ROOT } from '../server/engine/registry.ts';
import type { BenchFigure } from './run.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WARM_LOADS = 5;
/** Set by the editor (components/boot.ts) when the canvas first shows the opened workflow. */
type ReadyWindow = { __cadflowReady?: number };

function bundleBytes(): { raw: number; gzip: number; files: number } {
  const dist = join(REPO_ROOT, 'editor/dist');
  const files = ['index.html', ...readdirSync(join(dist, 'assets')).map((f) => join('assets', f))].filter((f) => /\.(js|css|html)$/.test(f));
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = readFileSync(join(dist, f));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip, files: files.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export default async function editorBench(): Promise<BenchFigure[]> {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-editor.mjs')], { stdio: 'inherit' });
  const size = bundleBytes();
  console.log(`  bundle: ${size.files} files, ${(size.raw / 1e6).toFixed(2)} MB raw, ${(size.gzip / 1e6).toFixed(3)} MB gzipped`);

  const dataDir = mkdtempSync(join(tmpdir(), 'cadflow-bench-editor-'));
  const profile = mkdtempSync(join(tmpdir(), 'cadflow-bench-chromium-'));
  const server = await startServer({ dataDir, port: 0, log: () => {} });
  const browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1600, height: 900 } });
  try {
    const page = await browser.newPage();
    const expected = Object.keys(JSON.parse(readFileSync(join(REPO_ROOT, 'workflows/erase-concept.json'), 'utf8')).nodes).length;
    const load = async (): Promise<number> => {
      await page.goto(`${server.url}/?workflow=erase-concept`);
      await page.waitForFunction(() => (window as unknown as ReadyWindow).__cadflowReady !== undefined, null, { timeout: 30_000 });
      const nodes = await page.locator('[data-node-id]').count();
      if (nodes !== expected) throw new Error(`erase-concept should show ${expected} nodes, the canvas shows ${nodes}`);
      return page.evaluate(() => (window as unknown as ReadyWindow).__cadflowReady!);
    };
    const cold = await load();
    const warm: number[] = [];
    for (let i = 0; i < WARM_LOADS; i++) warm.push(await load());
    console.log(`  navigation → canvas ready: cold ${cold.toFixed(0)} ms; warm ${warm.map((w) => w.toFixed(0)).join(', ')} ms (load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)`);
    return [
      { name: 'editor bundle, gzipped', value: size.gzip / 1e6, unit: 'MB', target: { op: '<', value: 1.5 } },
      { name: 'navigation → canvas with erase-concept (cold)', value: cold, unit: 'ms', target: { op: '<', value: 1500 } },
      { name: `navigation → canvas with erase-concept (warm, median of ${WARM_LOADS})`, value: median(warm), unit: 'ms', target: { op: '<', value: 1500 } },
    ];
  } finally {
    await browser.close();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
}
