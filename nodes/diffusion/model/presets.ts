// Architecture presets: `micro` (trains in seconds; tests and CI) and `tiny` (the shipped shapes-tiny model).
import { DEFAULT_SCHEDULER } from '../scheduler.ts';
import { makeConfig, type ModelConfig } from './config.ts';
import { defaultVocab } from './tokenizer.ts';

export type PresetName = 'micro' | 'tiny';

export function presetConfig(name: PresetName): ModelConfig {
  const common = { attentionLevels: [false, true, true], heads: 1, textLayers: 1, maxLength: 12, vocab: defaultVocab(), scheduler: DEFAULT_SCHEDULER };
  if (name === 'micro') return makeConfig({ ...common, blockOutChannels: [16, 24, 32], normGroups: 8, textWidth: 32 });
  return makeConfig({ ...common, blockOutChannels: [32, 48, 64], normGroups: 8, textWidth: 64 });
}
