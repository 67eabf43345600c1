// Argument parsing and model-card writing shared by the evaluation training scripts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../sdk/files.ts';
import { existsSync } from 'node:fs';
import { readSafetensors } from '../../diffusion/safetensors.ts';
import { flatFrom, type ParamLayout } from '../params.ts';
import { cpus } from 'node:os';

/** `--key value` pairs over defaults; numbers stay strings until the caller converts them. */
export function parseArgs(argv: string[], defaults: Record<string, string | number>): Record<string, string | number> {
  const out: Record<string, string | number> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)$/.exec(argv[i]);
    if (!m || !(m[1] in defaults)) throw new Error(`unknown argument ${argv[i]} (known: ${Object.keys(defaults).map((k) => '--' + k).join(' ')})`);
    const v = argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    out[m[1]] = typeof defaults[m[1]] === 'number' ? Number(v) : v;
  }
  return out;
}

/** The command as run, without --history (which the card prints on its own line). */
export function commandLine(script: string, argv: string[]): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--history') { i++; continue; }
    kept.push(argv[i]);
  }
  return ['npx tsx', script, ...kept].join(' ');
}

export interface ModelCard {
  title: string;
  what: string;
  command: string;
  data: string;
  metrics: unknown;
  sha256: string;
  trainSeconds: number;
}

/** MODEL_CARD.md from what the training run measured (atomic write). */
export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  const text = [
    `# ${card.title}`, '', card.what, '',
    '## How it was trained', '', '```', card.command, '```', '',
    `Wall time: ${(card.trainSeconds / 60).toFixed(1)} min on ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'} ` +
      '(TensorFlow.js wasm backend, one thread, sharing the machine with the shipped diffusion model\'s training and ' +
      'other jobs, so wall time is far above CPU time).', '',
    '## Data', '', card.data, '',
    '## Metrics (measured by the training script)', '', '```json', JSON.stringify(card.metrics, null, 2), '```', '',
    '## Files', '', `- \`model.safetensors\` sha256 \`${card.sha256}\``, '- `config.json`: architecture and class names', '',
  ].join('\n');
  const path = join(dir, 'MODEL_CARD.md');
  await writeFileAtomic(path, text);
}

/** A raw training checkpoint (flat parameters + seconds trained): `<path>.f32` and `<path>.json`. */
export async function writeCheckpoint(path: string, flat: Float32Array, seconds: number): Promise<void> {
  await writeFileAtomic(path + '.f32', new Uint8Array(flat.buffer, flat.byteOffset, flat.byteLength));
  await writeFileAtomic(path + '.json', JSON.stringify({ size: flat.length, seconds }));
}

/** A `.f32`/`.json` checkpoint, or a model folder (model.safetensors + metrics.json) to continue training from. */
export async function readCheckpoint(path: string, layout: ParamLayout): Promise<{ flat: Float32Array; seconds: number }> {
  if (existsSync(join(path, 'model.safetensors'))) {
    const file = await readSafetensors(join(path, 'model.safetensors'));
    const metrics = JSON.parse(await readFile(join(path, 'metrics.json'), 'utf8')) as { train_seconds?: number };
    return { flat: flatFrom(layout, file.tensors, path), seconds: metrics.train_seconds ?? 0 };
  }
  const meta = JSON.parse(await readFile(path + '.json', 'utf8')) as { size: number; seconds: number };
  if (meta.size !== layout.size) throw new Error(`${path}: checkpoint has ${meta.size} values, the network ${layout.size}`);
  const bytes = await readFile(path + '.f32');
  return { flat: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), seconds: meta.seconds };
}
