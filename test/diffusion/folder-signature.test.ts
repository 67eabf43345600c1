// Nodes that load a model folder by name fold its weights hash into their cache signature, so replacing the file
// re-runs them (and everything downstream) instead of serving results computed from the old weights.
import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelFolderSignature } from '../../nodes/diffusion/folder-signature.ts';
import { classifyNode } from '../../nodes/evaluation/nodes/classify.ts';
import { eraseNode, eraseParams } from '../../nodes/attribution/nodes/erase.ts';
import { loadModelNode } from '../../nodes/diffusion/nodes/load-model.ts';

const root = mkdtempSync(join(tmpdir(), 'cadflow-sig-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('model folder signatures', () => {
  it('change when model.safetensors changes; a missing folder is "unresolved", not an error', async () => {
    const judge = join(root, 'judge');
    cpSync(join(import.meta.dirname, '..', '..', 'models', 'shapes-judge'), judge, { recursive: true });
    const before = modelFolderSignature(judge);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(modelFolderSignature('shapes-judge')).toBe(before); // the bundled name, same bytes
    const sigOf = async () => ({
      classify: await classifyNode.signature!({ judge, batchSize: 128 } as never),
      erase: await eraseNode.signature!(eraseParams.parse({ judge })),
    });
    const old = await sigOf();
    expect(old.classify).toEqual([before]);
    const bytes = readFileSync(join(judge, 'model.safetensors'));
    bytes[bytes.length - 1] ^= 1; // one weight's last byte
    writeFileSync(join(judge, 'model.safetensors'), bytes);
    const after = modelFolderSignature(judge);
    expect(after).not.toBe(before);
    const changed = await sigOf();
    expect(changed.classify).not.toEqual(old.classify);
    expect(changed.erase).not.toEqual(old.erase);
    expect(modelFolderSignature(join(root, 'nowhere'))).toBe('unresolved');
    expect(await loadModelNode.signature!({ model: join(root, 'nowhere') })).toEqual(['unresolved']);
  });
});
