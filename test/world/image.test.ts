import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { batchPngs, crc32, encodePng, gridPng, imageGrid, tensorToBatch, toBytes } from '../../nodes/sdk/image.ts';
import { tf } from '../../nodes/sdk/index.ts';
import { renderBatch } from '../../nodes/world/index.ts';

/** A strict little PNG reader for what encodePng writes (8-bit RGB, any filter-0 rows): checks every CRC. */
function decodePng(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  const b = Buffer.from(png);
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let pos = 8, width = 0, height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (pos < b.length) {
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    const data = b.subarray(pos + 8, pos + 8 + len);
    expect((crc32(b.subarray(pos + 4, pos + 8 + len)) ^ 0xffffffff) >>> 0, type).toBe(b.readUInt32BE(pos + 8 + len));
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0); height = data.readUInt32BE(4);
      expect([data[8], data[9], data[10], data[11], data[12]]).toEqual([8, 2, 0, 0, 0]);
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  expect(types[0]).toBe('IHDR');
  expect(types.at(-1)).toBe('IEND');
  const raw = inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width * 3 + 1) * height);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width * 3 + 1)]).toBe(0);
    rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  }
  return { width, height, rgb };
}

describe('PNG encoder', () => {
  it('round-trips bytes exactly (decoded with zlib)', () => {
    const w = 7, h = 5;
    const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256);
    const out = decodePng(encodePng(rgb, w, h));
    expect(out).toEqual({ width: w, height: h, rgb });
  });

  it('matches the standard CRC-32 check value', () => {
    expect((crc32(new TextEncoder().encode('123456789')) ^ 0xffffffff) >>> 0).toBe(0xcbf43926);
  });

  it('clamps and rounds [0,1] floats', () => {
    expect([...toBytes(new Float32Array([-1, 0, 0.5, 1, 2, NaN, 0.999]))]).toEqual([0, 0, 128, 255, 255, 0, 255]);
  });

  it('rejects a wrong byte count', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/expected 12 bytes/);
  });
});

describe('imageGrid and batch PNGs', () => {
  const { pixels } = renderBatch(5, 3);
  const batch = { pixels, n: 5, height: 32, width: 32 };

  it('tiles with gaps and upscaling, each tile equal to its image', () => {
    const grid = imageGrid(batch, { columns: 3, scale: 2, gap: 1 });
    expect([grid.width, grid.height]).toEqual([3 * 64 + 4, 2 * 64 + 3]);
    const at = (x: number, y: number) => Array.from(grid.pixels.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3));
    // Image 4 sits at column 1, row 1; its pixel (10, 20) covers output (2·10, 2·20) + tile origin.
    const src = (4 * 32 * 32 + 20 * 32 + 10) * 3;
    const x0 = 1 + 1 * 65, y0 = 1 + 1 * 65;
    expect(at(x0 + 20, y0 + 40)).toEqual(Array.from(pixels.subarray(src, src + 3)));
    expect(at(x0 + 21, y0 + 41)).toEqual(Array.from(pixels.subarray(src, src + 3)));
    expect(at(0, 0)).toEqual([0.2, 0.2, 0.2].map(Math.fround)); // gap
    expect(at(grid.width - 2, grid.height - 2)).toEqual([0.2, 0.2, 0.2].map(Math.fround)); // empty 6th tile
  });

  it('encodes the grid and each image as PNGs that decode to the rendered pixels', () => {
    const png = decodePng(gridPng(batch, { columns: 5, gap: 0 }));
    expect([png.width, png.height]).toEqual([160, 32]);
    const pngs = batchPngs(batch);
    expect(pngs).toHaveLength(5);
    const one = decodePng(pngs[2]!);
    expect(one.rgb).toEqual(toBytes(pixels.subarray(2 * 3072, 3 * 3072)));
    // Same pixel in the grid (image 2 starts at x = 64).
    expect(png.rgb.subarray((5 * 160 + 64 + 7) * 3, (5 * 160 + 64 + 7) * 3 + 3)).toEqual(one.rgb.subarray((5 * 32 + 7) * 3, (5 * 32 + 7) * 3 + 3));
  });

  it('reads a [N,H,W,3] tensor into a batch without disposing it', async () => {
    await tf.setBackend('cpu');
    const t = tf.tensor4d(pixels, [5, 32, 32, 3]);
    const b = await tensorToBatch(t);
    expect(b).toMatchObject({ n: 5, height: 32, width: 32 });
    expect(b.pixels).toEqual(pixels);
    expect(t.isDisposed).toBe(false);
    t.dispose();
    const bad = tf.zeros([2, 4, 4]);
    await expect(tensorToBatch(bad)).rejects.toThrow(/expected images \[N,H,W,3\]/);
    bad.dispose();
  });
});
