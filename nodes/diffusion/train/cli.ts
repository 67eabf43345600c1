// `cadflow train`: trains a preset (micro | tiny), resumable. Dispatched to by the platform CLI.
import { join, resolve } from 'node:path';
import type { PresetName } from '../model/presets.ts';
import { TRAIN_PRESETS, type TrainSettings } from './presets.ts';
import { initRuntime } from '../../sdk/runtime.ts';
import { writeModelCard } from './model-card.ts';
import { train } from './trainer.ts';

const USAGE = `usage: cadflow train --preset micro|tiny [--resume] [--steps N] [--batch N] [--workers N] [--lr X]
       [--seed N] [--minutes M] [--out DIR] [--checkpoint FILE] [--log FILE] [--models DIR]
       cadflow train --preset micro|tiny --card [--judge-prompts N]   (MODEL_CARD.md + samples.png for the current weights)
Trains the preset's model; writes the EMA weights + config.json to --out (default <models>/<model name>) at every
checkpoint and at the end. Checkpoints (weights, EMA, Adam state, step) go to --checkpoint (tiny: models/shapes-tiny/
training/checkpoint.safetensors; micro: .tmp/train/micro/checkpoint.safetensors); --resume continues from it.`;

export async function trainCommand(argv: string[]): Promise<number> {
  const args = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { process.stdout.write(USAGE + '\n'); return 0; }
    if (a === '--resume' || a === '--card') { flags.add(a.slice(2)); continue; }
    if (!a.startsWith('--') || i + 1 >= argv.length) { process.stderr.write(`cadflow train: unexpected "${a}"\n${USAGE}\n`); return 2; }
    args.set(a.slice(2), argv[++i]);
  }
  const preset = (args.get('preset') ?? 'micro') as PresetName;
  if (!(preset in TRAIN_PRESETS)) { process.stderr.write(`cadflow train: unknown preset "${preset}" (micro | tiny)\n`); return 2; }
  const num = (k: string): number | undefined => {
    const v = args.get(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`cadflow train: --${k} must be a number, got "${v}"`);
    return n;
  };
  const base = TRAIN_PRESETS[preset];
  const settings: TrainSettings = {
    ...base,
    steps: num('steps') ?? base.steps,
    batch: num('batch') ?? base.batch,
    workers: num('workers') ?? base.workers,
    lr: num('lr') ?? base.lr,
    seed: num('seed') ?? base.seed,
  };
  const models = resolve(args.get('models') ?? 'models');
  const outDir = resolve(args.get('out') ?? join(models, settings.modelName));
  const checkpointPath = resolve(args.get('checkpoint') ?? (preset === 'tiny'
    ? join(outDir, 'training', 'checkpoint.safetensors')
    : join('.tmp', 'train', preset, 'checkpoint.safetensors')));
  const logPath = resolve(args.get('log') ?? join('.tmp', `train-${preset}.log`));
  const command = `cadflow train --preset ${preset}`;
  if (flags.has('card')) {
    await initRuntime();
    await writeModelCard({ modelDir: outDir, modelsDir: models, checkpointPath, command, judgePrompts: num('judge-prompts') ?? 300 });
    process.stdout.write(`wrote ${join(outDir, 'MODEL_CARD.md')} and samples.png\n`);
    return 0;
  }
  const r = await train({ settings, outDir, checkpointPath, logPath, resume: flags.has('resume'), maxMinutes: num('minutes') });
  process.stdout.write(`${JSON.stringify({ preset, ...r, outDir, checkpointPath, logPath })}\n`);
  return 0;
}
