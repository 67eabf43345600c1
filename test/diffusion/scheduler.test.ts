// Scheduler identities: add noise then the exact ε (or v) gives back x0; DDIM with the exact ε reconstructs x0.
import { beforeAll, describe, expect, it } from 'vitest';
import { initRuntime, tf } from '../../nodes/sdk/runtime.ts';
import type { Tensor4D } from '@tensorflow/tfjs';
import { DEFAULT_SCHEDULER, Scheduler } from '../../nodes/diffusion/scheduler.ts';
import { seededNoise } from '../../nodes/diffusion/noise.ts';

const maxAbs = (a: Tensor4D, b: Tensor4D) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

beforeAll(async () => {
  await initRuntime();
});

describe('Scheduler', () => {
  const v = new Scheduler(DEFAULT_SCHEDULER);
  const e = new Scheduler({ ...DEFAULT_SCHEDULER, prediction_type: 'epsilon' });

  it('ᾱ decreases from ≈1 to ≈0 and DDIM timesteps run from T−1 down to exactly 0', () => {
    expect(v.alphaBar(0)).toBeCloseTo(1 - 1e-4, 6);
    expect(v.alphaBar(999)).toBeLessThan(1e-4);
    expect(v.alphaBar(-1)).toBe(1);
    const ts = v.ddimTimesteps(25);
    expect(ts.length).toBe(25);
    expect(ts[0]).toBe(999);
    expect(ts[24]).toBe(0);
    for (let i = 1; i < ts.length; i++) expect(ts[i]).toBeLessThan(ts[i - 1]);
    expect(() => v.ddimTimesteps(0)).toThrow(/steps/);
  });

  it('add noise, then the exact target recovers x0 and ε (both prediction types)', () => {
    tf.tidy(() => {
      const x0 = tf.sub(tf.mul(seededNoise([1, 2, 3], [4, 4, 3], 7), 0.3), 0.1) as Tensor4D;
      const eps = seededNoise([4, 5, 6], [4, 4, 3], 8);
      const ts = [10, 500, 990];
      for (const s of [v, e]) {
        const xt = s.addNoise(x0, eps, ts);
        const out = s.target(x0, eps, ts);
        expect(maxAbs(s.x0FromOutput(out, xt, ts), x0)).toBeLessThan(2e-3);
        expect(maxAbs(s.epsFromOutput(out, xt, ts), eps)).toBeLessThan(1e-4);
        expect(maxAbs(s.epsFromX0(x0, xt, ts), eps)).toBeLessThan(2e-3);
      }
      // v = √ᾱ·ε − √(1−ᾱ)·x0 and ε = √ᾱ·v + √(1−ᾱ)·x_t
      const xt = v.addNoise(x0, eps, ts);
      const vel = v.velocity(x0, eps, ts);
      expect(maxAbs(v.epsFromOutput(vel, xt, ts), eps)).toBeLessThan(1e-4);
    });
  });

  it('DDIM (eta 0 and 1) with the exact ε reconstructs x0', () => {
    for (const eta of [0, 1]) {
      tf.tidy(() => {
        const x0 = tf.clipByValue(seededNoise([11, 12], [4, 4, 3], 3), -1, 1) as Tensor4D;
        const ts = v.ddimTimesteps(10);
        let x = v.addNoise(x0, seededNoise([13, 14], [4, 4, 3], 4), [ts[0], ts[0]]);
        ts.forEach((t, i) => {
          const tt = [t, t];
          const eps = v.epsFromX0(x0, x, tt); // the exact ε for this x_t
          const tPrev = i + 1 < ts.length ? ts[i + 1] : -1;
          x = v.ddimStep(eps, x0, t, tPrev, eta, seededNoise([15, 16], [4, 4, 3], 100 + i));
        });
        expect(maxAbs(x, x0)).toBeLessThan(1e-4);
      });
    }
  });
});
