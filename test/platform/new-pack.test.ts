// `cadflow new-pack` writes a pack that passes its own tests at once; `cadflow test` runs them.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../server/commands.ts';
import { REPO_ROOT } from '../../server/engine/registry.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cadflow-new-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cadflow(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/cadflow.js'), ...args], {
    cwd: tmp, env: { ...process.env, CADFLOW_DATA: join(tmp, 'data') }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  // vitest colours its summary even into a pipe
  const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout: plain(stdout), stderr: plain(stderr) })));
}

describe('cadflow new-pack', () => {
  it('scaffolds a pack whose tests pass and whose workflow validates', async () => {
    const made = await cadflow(['new-pack', 'wordy', '--dir', tmp]);
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const dir = join(tmp, 'cadflow-nodes-wordy');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'cadflow-nodes-wordy', cadflow: { nodes: './index.ts', sdk: '^1.0.0' } });
    for (const f of ['index.ts', 'nodes/word-count.ts', 'test/word-count.test.ts', 'workflows/wordy-example.json', 'README.md']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    const wf = JSON.parse(readFileSync(join(dir, 'workflows/wordy-example.json'), 'utf8'));
    expect(wf.meta.test.expect).toBeDefined();

    const [tested, validated] = await Promise.all([
      cadflow(['test', dir]),
      cadflow(['validate', join(dir, 'workflows/wordy-example.json'), '--packs', dir]),
    ]);
    expect(tested.stdout).toMatch(/Tests\s+4 passed \(4\)/);
    expect(tested.stdout).toContain('wordy-example.json: ok (3 nodes)');
    expect(tested.code).toBe(0);
    expect(validated.stdout).toContain('wordy-example.json: ok (3 nodes)');
    expect(validated.code).toBe(0);
  }, 600_000);

  it('refuses a name that cannot namespace node types, and an existing folder', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['new-pack', 'Bad_Name', '--dir', tmp])).toBe(2);
      expect(err).toHaveBeenLastCalledWith(expect.stringContaining('pack name "Bad_Name" must be lowercase letters, digits and dashes'));
      expect(await main(['new-pack', 'wordy', '--dir', tmp])).toBe(2);
      expect(err).toHaveBeenLastCalledWith(expect.stringContaining('already exists'));
    } finally {
      err.mockRestore();
    }
  });
});
