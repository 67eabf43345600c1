// Content-addressed artifact files: <root>/<aa>/<sha256> plus a small <sha256>.json with mime and name.
// Writes are atomic (temp file + rename), so a crash never leaves a half-written artifact under its id.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ArtifactRef } from '../../nodes/sdk/define.ts';
import { writeFileAtomic } from '../../nodes/sdk/files.ts';
import type { ArtifactSink } from '../engine/engine.ts';
import { resolveInside } from '../paths.ts';

export const ARTIFACT_ID = /^[0-9a-f]{64}$/;

export class ArtifactStore implements ArtifactSink {
  constructor(readonly root: string) {}

  pathOf(id: string): string {
    if (!ARTIFACT_ID.test(id)) throw new Error(`bad artifact id ${JSON.stringify(id)}`);
    return resolveInside(this.root, id.slice(0, 2), id);
  }

  async put(name: string, bytes: Uint8Array, mime: string): Promise<ArtifactRef> {
    const id = createHash('sha256').update(bytes).digest('hex');
    const path = this.pathOf(id);
    const ref: ArtifactRef = { id, name: name.slice(0, 200), mime: mime.slice(0, 100), bytes: bytes.byteLength };
    if (!existsSync(path)) {
      await writeFileAtomic(path, bytes);
      await writeFileAtomic(`${path}.json`, JSON.stringify({ mime: ref.mime, name: ref.name }));
    }
    return ref;
  }

  /** The bytes and mime of an artifact, or undefined when unknown. */
  async get(id: string): Promise<{ bytes: Buffer; mime: string; name: string } | undefined> {
    if (!ARTIFACT_ID.test(id)) return undefined;
    const path = this.pathOf(id);
    if (!existsSync(path)) return undefined;
    const meta = JSON.parse(await readFile(`${path}.json`, 'utf8').catch(() => '{}')) as { mime?: string; name?: string };
    return { bytes: await readFile(path), mime: meta.mime ?? 'application/octet-stream', name: meta.name ?? id };
  }
}
