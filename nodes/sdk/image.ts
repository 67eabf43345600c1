// Images as bytes: a dependency-free PNG encoder (RGB 8-bit, node:zlib), grid tiling of [N,H,W,3] batches,
// and helpers from tensors / Float32Arrays in [0,1] to PNGs. Used by previews, PreviewImage, model cards, server.
import { deflateSync } from 'node:zlib';
import type * as tfType from '@tensorflow/tfjs';

/** A batch of HWC RGB images in [0,1], flat: pixels.length = n·height·width·3. */
export interface ImageBatch { pixels: Float32Array; n: number; height: number; width: number }

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return c;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  const crc = crc32(data, crc32(out.subarray(4, 8))) ^ 0xffffffff;
  out.writeUInt32BE(crc >>> 0, 8 + data.length);
  return out;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes 8-bit RGB pixels (row-major, length width·height·3) as a PNG. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodePng: bad size ${width}×${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new Error(`encodePng: expected ${width * height * 3} bytes for ${width}×${height} RGB, got ${rgb.length}`);
  }
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height); // filter byte 0 (None) per row
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 6 })), chunk('IEND', new Uint8Array(0))]);
}

/** [0,1] floats → bytes (clamped, rounded; NaN → 0). */
export function toBytes(pixels: Float32Array): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]!;
    out[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
  }
  return out;
}

function checkBatch(b: ImageBatch): void {
  if (b.pixels.length !== b.n * b.height * b.width * 3) {
    throw new Error(`image batch: ${b.pixels.length} values for [${b.n},${b.height},${b.width},3]`);
  }
}

export interface GridOptions {
  /** Images per row (default ⌈√n⌉). */
  columns?: number;
  /** Nearest-neighbour upscaling of every image, for visibility (default 1). */
  scale?: number;
  /** Gap between tiles in output pixels (default 2). */
  gap?: number;
  /** Colour of the gaps and empty tiles, RGB in [0,1] (default mid-dark gray). */
  gapColour?: readonly [number, number, number];
}

/** Tiles a batch into one image (HWC RGB in [0,1]). */
export function imageGrid(batch: ImageBatch, opts: GridOptions = {}): ImageBatch {
  checkBatch(batch);
  const { n, height: h, width: w } = batch;
  if (n < 1) throw new Error('imageGrid: empty batch');
  const cols = Math.max(1, Math.min(n, opts.columns ?? Math.ceil(Math.sqrt(n))));
  const rows = Math.ceil(n / cols);
  const scale = Math.max(1, Math.floor(opts.scale ?? 1));
  const gap = Math.max(0, Math.floor(opts.gap ?? 2));
  const [gr, gg, gb] = opts.gapColour ?? [0.2, 0.2, 0.2];
  const tw = w * scale, th = h * scale;
  const W = cols * tw + (cols + 1) * gap, H = rows * th + (rows + 1) * gap;
  const out = new Float32Array(W * H * 3);
  for (let i = 0; i < out.length; i += 3) { out[i] = gr; out[i + 1] = gg; out[i + 2] = gb; }
  for (let k = 0; k < n; k++) {
    const x0 = gap + (k % cols) * (tw + gap), y0 = gap + Math.floor(k / cols) * (th + gap);
    const src = k * h * w * 3;
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < tw; x++) {
        const s = src + (sy * w + Math.floor(x / scale)) * 3;
        const d = ((y0 + y) * W + x0 + x) * 3;
        out[d] = batch.pixels[s]!; out[d + 1] = batch.pixels[s + 1]!; out[d + 2] = batch.pixels[s + 2]!;
      }
    }
  }
  return { pixels: out, n: 1, height: H, width: W };
}

/** One PNG for a single image of a batch (or the only image). */
export function imagePng(batch: ImageBatch, index = 0): Uint8Array {
  checkBatch(batch);
  if (index < 0 || index >= batch.n) throw new Error(`imagePng: index ${index} outside batch of ${batch.n}`);
  const size = batch.height * batch.width * 3;
  return encodePng(toBytes(batch.pixels.subarray(index * size, (index + 1) * size)), batch.width, batch.height);
}

/** One PNG per image. */
export function batchPngs(batch: ImageBatch): Uint8Array[] {
  return Array.from({ length: batch.n }, (_, i) => imagePng(batch, i));
}

/** The whole batch as one grid PNG. */
export function gridPng(batch: ImageBatch, opts: GridOptions = {}): Uint8Array {
  return imagePng(imageGrid(batch, opts));
}

/** Reads a [N,H,W,3] (or [H,W,3]) tensor into a batch; values expected in [0,1]. Does not dispose it. */
export async function tensorToBatch(images: tfType.Tensor): Promise<ImageBatch> {
  const shape = images.shape.length === 3 ? [1, ...images.shape] : images.shape;
  if (shape.length !== 4 || shape[3] !== 3) throw new Error(`expected images [N,H,W,3], got [${images.shape.join(',')}]`);
  const data = await images.data();
  const pixels = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  return { pixels, n: shape[0]!, height: shape[1]!, width: shape[2]! };
}
