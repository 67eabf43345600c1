// A randomly initialised micro model written to a temp folder (fast, independent of the shipped weights).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import { initWeights } from '../../nodes/diffusion/model/network.ts';
import { presetConfig } from '../../nodes/diffusion/model/presets.ts';
import { exportModel } from '../../nodes/diffusion/train/checkpoint.ts';
import { layoutOf } from '../../nodes/diffusion/train/gradients.ts';

export async function writeRandomMicroModel(seed = 3): Promise<string> {
  await initRuntime();
  const dir = join(mkdtempSync(join(tmpdir(), 'cadflow-diffusion-')), 'micro');
  const cfg = presetConfig('micro');
  const w = initWeights(cfg, seed);
  const layout = layoutOf(new Map([...w].map(([k, t]) => [k, [...t.shape]])));
  const flat = new Float32Array(layout.total);
  layout.names.forEach((n, i) => flat.set(w.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
  tf.dispose([...w.values()]);
  await exportModel(dir, flat, layout, cfg, { seed: String(seed) });
  return dir;
}
