import { inflateSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { previewImageNode } from '../../nodes/diffusion/nodes/preview-image.ts';
import { NodeInputError, NodeParamError, tf, type ArtifactRef, type ImagesValue, type NodeContext } from '../../nodes/sdk/index.ts';
import worldPack, { buildPrompts, parsePrompt, renderBatch } from '../../nodes/world/index.ts';

/** A minimal NodeContext that keeps what a node writes. */
function fakeContext() {
  const artifacts: { ref: ArtifactRef; bytes: Uint8Array }[] = [];
  const previews: { png: Uint8Array; step: number; label?: string }[] = [];
  const recorded: unknown[] = [];
  const ctx: NodeContext = {
    runId: 'r1', nodeId: 'n1', signal: new AbortController().signal, dirs: { data: '.', models: '.' },
    progress() {}, log() {}, throwIfAborted() {},
    preview(png, step, label) { previews.push({ png, step, label }); },
    record(info) { recorded.push(info); },
    async writeArtifact(name, bytes, mime) {
      const ref = { id: createHash('sha256').update(bytes).digest('hex'), name, mime, bytes: bytes.length };
      artifacts.push({ ref, bytes });
      return ref;
    },
  };
  return { ctx, artifacts, previews, recorded };
}

const prompts = worldPack.nodes.find((n) => n.type === 'Prompts')!;
const params = (p: Record<string, unknown>) => prompts.params.parse(p) as Parameters<typeof buildPrompts>[0];

describe('Prompts node', () => {
  it('is the world pack\'s node with defaults that validate', () => {
    expect(worldPack.name).toBe('world');
    expect(prompts.outputs.prompts!.type).toBe('PROMPTS');
    expect(() => buildPrompts(params({}))).toThrow(NodeParamError);
  });

  it('fills a template over every combination, holding the concept fixed, with exact labels and seeds', async () => {
    const { ctx, recorded } = fakeContext();
    const out = await prompts.execute(ctx, {}, params({
      template: '{a} {colour} {shape} on {a} {background} background', concept: 'circle', seed: 100,
    }));
    const v = out.prompts as ReturnType<typeof buildPrompts>;
    expect(v.prompts).toHaveLength(6 * 4);
    expect(v.prompts[0]).toBe('a red circle on a black background');
    expect(v.seeds).toEqual(Array.from({ length: 24 }, (_, i) => 100 + i));
    v.prompts.forEach((p, i) => {
      expect(v.labels![i]!.shape).toBe('circle');
      expect(parsePrompt(p)).toEqual(v.labels![i]);
    });
    expect(new Set(v.prompts).size).toBe(24);
    expect(recorded).toEqual([{ seeds: { prompts: v.seeds } }]);
  });

  it('mixes explicit prompts (labelled by parsing) with template prompts from chosen values', () => {
    const v = buildPrompts(params({
      prompts: ['an outlined blue heart', 'a photo of a dog'], template: '{a} {style} {colour} {shape}',
      colours: ['yellow', 'white'], shapes: ['star'], seeds: [5, 6, 7, 8, 9, 10],
    }));
    expect(v.prompts).toEqual([
      'an outlined blue heart', 'a photo of a dog',
      'a filled yellow star', 'an outlined yellow star', 'a filled white star', 'an outlined white star',
    ]);
    expect(v.labels![0]).toEqual({ style: 'outline', colour: 'blue', shape: 'heart' });
    expect(v.labels![1]).toEqual({});
    expect(v.labels![3]).toEqual({ shape: 'star', colour: 'yellow', style: 'outline' });
    expect(v.seeds).toEqual([5, 6, 7, 8, 9, 10]);
  });

  it('draws random combinations deterministically and cycles "all" to count', () => {
    const r = (seed: number) => buildPrompts(params({ template: '{a} {colour} {shape}', sampling: 'random', count: 30, seed }));
    expect(r(1)).toEqual(r(1));
    expect(r(1).prompts).not.toEqual(r(2).prompts);
    const all = buildPrompts(params({ template: '{a} {style} {shape}', count: 14 }));
    expect(all.prompts[12]).toBe(all.prompts[0]);
    expect(all.prompts).toHaveLength(14);
  });

  it('accepts a style word or free text for the concept', () => {
    const outlined = buildPrompts(params({ template: '{a} {style} {shape}', concept: 'outlined' }));
    expect(outlined.labels!.every((l) => l.style === 'outline')).toBe(true);
    const free = buildPrompts(params({ template: 'a painting in the style of {concept}', concept: 'Van Gogh', count: 2 }));
    expect(free.prompts).toEqual(['a painting in the style of Van Gogh', 'a painting in the style of Van Gogh']);
    expect(free.labels).toEqual([{}, {}]);
    // Words written into the template (or a world value in {concept}) are labelled too.
    const literal = buildPrompts(params({ template: '{a} {colour} {concept} on a striped background', concept: 'heart', colours: ['red'] }));
    expect(literal).toMatchObject({ prompts: ['a red heart on a striped background'], labels: [{ shape: 'heart', colour: 'red', background: 'striped' }] });
  });

  it('names the param in its errors', () => {
    const fails = (p: Record<string, unknown>, param: string) => {
      try { buildPrompts(params(p)); } catch (err) {
        expect(err).toBeInstanceOf(NodeParamError);
        expect((err as NodeParamError).param).toBe(param);
        return;
      }
      throw new Error(`expected a NodeParamError on ${param}`);
    };
    fails({ template: '{a} {size} {shape}' }, 'template');
    fails({ template: '{a} {shape}', concept: 'dragon' }, 'concept');
    fails({ template: '{a} {shape}', concept: 'red' }, 'concept'); // a colour, but no {colour} slot
    fails({ prompts: ['x'], concept: 'circle' }, 'concept');
    fails({ prompts: ['a', 'b'], seeds: [1] }, 'seeds');
    fails({ template: '{a} {colour} {shape}', colours: ['light blue'] }, 'colours');
    fails({ template: 'x {concept}' }, 'concept');
  });
});

describe('PreviewImage node', () => {
  it('writes one grid PNG artifact, previews it and returns its id', async () => {
    await tf.setBackend('cpu');
    const { pixels, captions } = renderBatch(6, 1);
    const images = tf.tensor4d(pixels, [6, 32, 32, 3]);
    const value: ImagesValue = { images, prompts: captions, dispose: () => images.dispose() };
    const { ctx, artifacts, previews } = fakeContext();
    const before = tf.memory().numTensors;
    const out = await previewImageNode.execute(ctx, { images: value }, previewImageNode.params.parse({ columns: 3, scale: 2 }));
    expect(tf.memory().numTensors).toBe(before);
    expect(artifacts).toHaveLength(1);
    expect(out.artifact).toBe(artifacts[0]!.ref.id);
    expect(artifacts[0]!.ref).toMatchObject({ name: 'preview.png', mime: 'image/png' });
    expect(previews).toHaveLength(1);
    expect(previews[0]!.png).toEqual(artifacts[0]!.bytes);
    const png = Buffer.from(artifacts[0]!.bytes);
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([3 * 64 + 4 * 2, 2 * 64 + 3 * 2]);
    expect(inflateSync(png.subarray(41, 41 + png.readUInt32BE(33))).length).toBeGreaterThan(0);
    expect(previewImageNode.summarize!('artifact', out.artifact)).toEqual({ artifact: out.artifact, mime: 'image/png' });
    images.dispose();
  });

  it('rejects a wrong input naming it', async () => {
    const { ctx } = fakeContext();
    const bad = tf.zeros([2, 8, 8]) as unknown as tf.Tensor4D;
    await expect(previewImageNode.execute(ctx, { images: { images: bad, dispose() {} } }, previewImageNode.params.parse({})))
      .rejects.toThrow(NodeInputError);
    bad.dispose();
  });
});
