// writeFileAtomic: the one way cadflow saves a file (artifacts, run records, models, checkpoints, cards, figures).
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../nodes/sdk/files.ts';

const root = mkdtempSync(join(tmpdir(), 'cadflow-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates the folder, replaces an existing file and leaves no temp file behind', async () => {
    const path = join(root, 'a', 'b', 'run.json');
    await writeFileAtomic(path, 'first');
    await writeFileAtomic(path, new Uint8Array([0x7b, 0x7d]));
    expect(readFileSync(path, 'utf8')).toBe('{}');
    expect(readdirSync(join(root, 'a', 'b'))).toEqual(['run.json']);
  });

  it('on a failed rename throws, removes its temp file and leaves what was there untouched', async () => {
    const dir = join(root, 'taken');
    mkdirSync(join(dir, 'model.safetensors', 'inside'), { recursive: true });
    await expect(writeFileAtomic(join(dir, 'model.safetensors'), 'bytes')).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    expect(readdirSync(join(dir, 'model.safetensors'))).toEqual(['inside']);
  });
});
