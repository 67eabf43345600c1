// Training presets. `micro` trains in seconds (tests, CI, every helper's workflows); `tiny` is the shipped model.
import type { PresetName } from '../model/presets.ts';

export interface TrainSettings {
  preset: PresetName;
  /** Bundled model name written to models/<name>. */
  modelName: string;
  batch: number;
  steps: number;
  lr: number;
  warmupSteps: number;
  emaDecay: number;
  captionDropout: number;
  /** Min-SNR-γ loss weighting (0 = off). */
  minSnrGamma: number;
  gradClip: number;
  /** Data-parallel worker_threads (0 = compute in this thread). */
  workers: number;
  seed: number;
  checkpointSeconds: number;
  /** Log the one-step x0 reconstruction check (EMA and raw weights) at every checkpoint. */
  reconstructionCheck: boolean;
}

export const TRAIN_PRESETS: Record<PresetName, TrainSettings> = {
  micro: {
    preset: 'micro', modelName: 'shapes-micro', batch: 16, steps: 200, lr: 2e-3, warmupSteps: 20, emaDecay: 0.98,
    captionDropout: 0.1, minSnrGamma: 5, gradClip: 1, workers: 0, seed: 1, checkpointSeconds: 60, reconstructionCheck: true,
  },
  tiny: {
    preset: 'tiny', modelName: 'shapes-tiny', batch: 32, steps: 20000, lr: 1e-3, warmupSteps: 200, emaDecay: 0.999,
    captionDropout: 0.1, minSnrGamma: 5, gradClip: 1, workers: 2, seed: 1, checkpointSeconds: 300, reconstructionCheck: true,
  },
};
