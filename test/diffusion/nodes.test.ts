// LoadModel and Sample nodes: errors name the param, Sample is deterministic per seed (independent of the batch),
// previews every step, is cancellable, and leaks no tensors across 10 samples.
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CancelledError, NodeParamError, tf, type ArtifactRef, type ImagesValue, type NodeContext } from '../../nodes/sdk/index.ts';
import { initRuntime } from '../../nodes/sdk/runtime.ts';
import diffusionPack from '../../nodes/diffusion/index.ts';
import type { ModelHandle } from '../../nodes/diffusion/handle.ts';
import { writeRandomMicroModel } from './fixtures.ts';

function context(signal = new AbortController().signal) {
  const previews: { png: Uint8Array; step: number }[] = [];
  const recorded: unknown[] = [];
  const artifacts: { name: string; bytes: Uint8Array; mime: string }[] = [];
  const ctx: NodeContext = {
    runId: 'r', nodeId: 'sample', signal, dirs: { data: '.', models: '/nonexistent-models' },
    progress() {}, log() {},
    throwIfAborted() { if (signal.aborted) throw new CancelledError(); },
    preview(png, step) { previews.push({ png, step }); },
    record(info) { recorded.push(info); },
    async writeArtifact(name, bytes, mime): Promise<ArtifactRef> {
      artifacts.push({ name, bytes, mime });
      return { id: createHash('sha256').update(bytes).digest('hex'), name, mime, bytes: bytes.length };
    },
  };
  return { ctx, previews, recorded, artifacts };
}

const node = (type: string) => diffusionPack.nodes.find((n) => n.type === type)!;
let model: ModelHandle;

beforeAll(async () => {
  await initRuntime();
  const dir = await writeRandomMicroModel(5);
  const { ctx, recorded } = context();
  model = (await node('LoadModel').execute(ctx, {}, node('LoadModel').params.parse({ model: dir }))).model as ModelHandle;
  expect(recorded).toEqual([{ hashes: { [dir]: model.weightsHash } }]);
});

async function sample(prompts: string[], seeds: number[], extra: Record<string, unknown> = {}, signal?: AbortSignal) {
  const c = context(signal);
  const out = await node('Sample').execute(c.ctx, { model, prompts: { prompts, seeds } }, node('Sample').params.parse({ steps: 3, ...extra }));
  return { images: out.images as ImagesValue, ...c };
}

describe('diffusion pack nodes', () => {
  it('pack lists LoadModel, Sample and PreviewImage', () => {
    expect(diffusionPack.nodes.map((n) => n.type).sort()).toEqual(['LoadModel', 'PreviewImage', 'Sample']);
  });

  it('LoadModel reports a missing model as an error on its "model" param', async () => {
    const { ctx } = context();
    const err = await node('LoadModel').execute(ctx, {}, { model: 'no-such-model' }).catch((e) => e);
    expect(err).toBeInstanceOf(NodeParamError);
    expect((err as NodeParamError).param).toBe('model');
    expect((err as Error).message).toMatch(/no bundled model "no-such-model"/);
  });

  it('Sample is deterministic per seed, independent of the rest of the batch, and previews every step', async () => {
    const a = await sample(['a red star', 'a blue circle on a gray background'], [5, 6]);
    const b = await sample(['a blue circle on a gray background'], [6]);
    const c = await sample(['a red star'], [7]);
    expect(a.images.images.shape).toEqual([2, 32, 32, 3]);
    const [, a1] = tf.split(a.images.images, 2);
    expect(tf.max(tf.abs(tf.sub(a1, b.images.images))).dataSync()[0]).toBeLessThan(1e-5);
    const [a0] = tf.split(a.images.images, 2);
    expect(tf.max(tf.abs(tf.sub(a0, c.images.images))).dataSync()[0]).toBeGreaterThan(1e-3);
    const range = a.images.images.dataSync();
    expect(Math.min(...range)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...range)).toBeLessThanOrEqual(1);
    expect(a.previews.map((p) => p.step)).toEqual([0, 1, 2]);
    expect([...a.previews[0].png.subarray(1, 4)].map((x) => String.fromCharCode(x)).join('')).toBe('PNG');
    expect(a.recorded).toEqual([{ seeds: { sample: [5, 6] } }]);
    // the batch as one grid PNG artifact (2 tiles of 32 px at scale 2, side by side), so a reopened run shows it
    expect(a.artifacts.map((f) => [f.name, f.mime])).toEqual([['samples.png', 'image/png']]);
    const png = Buffer.from(a.artifacts[0].bytes);
    const [width, height] = [png.readUInt32BE(16), png.readUInt32BE(20)];
    expect(height).toBeGreaterThanOrEqual(64);
    expect(width).toBeGreaterThanOrEqual(2 * 64);
    tf.dispose([a1, a0]);
    for (const r of [a, b, c]) r.images.dispose();
  });

  it('Sample stops with CancelledError when the run is cancelled mid-way, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const c = context(ac.signal);
    const origPreview = c.ctx.preview;
    c.ctx.preview = (png, step, label) => { origPreview(png, step, label); if (step === 1) ac.abort(); };
    const err = await node('Sample').execute(c.ctx, { model, prompts: { prompts: ['a star'], seeds: [1] } }, node('Sample').params.parse({ steps: 10 })).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(c.previews.length).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaks no tensors across 10 samples', async () => {
    await (await sample(['a red star'], [1], { steps: 2 })).images.dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) (await sample(['a green heart', ''], [i, i + 1], { steps: 2, cfg: i % 2 ? 1 : 3, eta: i % 3 ? 0 : 1 })).images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
