// A NodeContext that records what a node does (progress, logs, artifacts), and world renders as IMAGES values.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tf, type ArtifactRef, type ImagesValue, type NodeContext } from '../../nodes/sdk/index.ts';
import { renderBatch } from '../../nodes/world/render.ts';

export const MODELS_DIR = join(import.meta.dirname, '..', '..', 'models');

export function fakeContext(signal: AbortSignal = new AbortController().signal) {
  const artifacts: { ref: ArtifactRef; bytes: Uint8Array }[] = [];
  const progress: { value: number; max: number; label?: string }[] = [];
  const logs: string[] = [];
  const previews: { step: number; label?: string }[] = [];
  const recorded: unknown[] = [];
  const ctx: NodeContext = {
    runId: 'r1', nodeId: 'n1', signal, dirs: { data: '.', models: MODELS_DIR },
    progress(value, max, label) { progress.push({ value, max, label }); },
    log(m) { logs.push(m); },
    throwIfAborted() { if (signal.aborted) throw Object.assign(new Error('cancelled'), { name: 'CancelledError' }); },
    preview(_png, step, label) { previews.push({ step, label }); },
    record(info) { recorded.push(info); },
    async writeArtifact(name, bytes, mime) {
      const ref = { id: createHash('sha256').update(bytes).digest('hex'), name, mime, bytes: bytes.length };
      artifacts.push({ ref, bytes });
      return ref;
    },
  };
  return { ctx, artifacts, progress, logs, previews, recorded };
}

/** n world renders as an IMAGES value with their captions as prompts (and optionally their labels). */
export function renderedImages(n: number, seed: number, withLabels = true): ImagesValue {
  const b = renderBatch(n, seed);
  const images = tf.tensor4d(b.pixels, [n, 32, 32, 3]);
  return {
    images, prompts: b.captions, seeds: Array.from({ length: n }, (_, i) => seed + i),
    labels: withLabels ? b.labels.map((l) => ({ ...l })) : undefined,
    dispose: () => images.dispose(),
  };
}
