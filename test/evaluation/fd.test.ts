// Matrix square root and Fréchet distance against known values and against numpy/scipy fixtures.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frechetDistance, frechetDistanceOfFits, type GaussianFit } from '../../nodes/evaluation/fd.ts';
import { covariance, matmul, sqrtmPsd, symmetricEigen } from '../../nodes/evaluation/linalg.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A random symmetric positive-definite matrix R = Q·diag(λ)·Qᵀ with λ in [0.5, 3]: the known root of R². */
function randomSpd(n: number, seed: number): Float64Array {
  const rnd = lcg(seed);
  const b = Float64Array.from({ length: n * n }, rnd);
  const { vectors: q } = symmetricEigen(matmul(b, transpose(b, n), n), n);
  const r = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const lambda = 0.5 + 2.5 * (rnd() + 0.5);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) r[i * n + j] += lambda * q[i * n + k] * q[j * n + k];
  }
  return r;
}

function transpose(a: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = a[i * n + j];
  return t;
}

describe('matrix square root', () => {
  it('gives known roots of small matrices', () => {
    expect(maxAbsDiff(sqrtmPsd(Float64Array.of(4, 0, 0, 9), 2), [2, 0, 0, 3])).toBeLessThan(1e-12);
    expect(maxAbsDiff(sqrtmPsd(Float64Array.of(5, 4, 4, 5), 2), [2, 1, 1, 2])).toBeLessThan(1e-12);
    // [[2,-1,0],[-1,2,-1],[0,-1,2]]² = [[5,-4,1],[-4,6,-4],[1,-4,5]] (the root is positive definite).
    const a = Float64Array.of(5, -4, 1, -4, 6, -4, 1, -4, 5);
    expect(maxAbsDiff(sqrtmPsd(a, 3), [2, -1, 0, -1, 2, -1, 0, -1, 2])).toBeLessThan(1e-10);
  });

  it('recovers the known root R of R² for random 48×48 SPD matrices', () => {
    for (const seed of [1, 2]) {
      const r = randomSpd(48, seed);
      const root = sqrtmPsd(matmul(r, r, 48), 48);
      expect(maxAbsDiff(root, r)).toBeLessThan(1e-9);
    }
  });

  it('handles singular PSD matrices (rank-deficient covariance)', () => {
    // v·vᵀ with ‖v‖ = 3 has root v·vᵀ/3.
    const v = [1, 2, 2];
    const a = Float64Array.from({ length: 9 }, (_, k) => v[Math.floor(k / 3)] * v[k % 3]);
    expect(maxAbsDiff(sqrtmPsd(a, 3), Array.from(a, (x) => x / 3))).toBeLessThan(1e-12);
  });

  it('rejects a non-symmetric matrix', () => {
    expect(() => sqrtmPsd(Float64Array.of(1, 2, 0, 1), 2)).toThrow(/not symmetric/);
  });
});

describe('Fréchet distance', () => {
  it('matches the closed form for diagonal Gaussians: ‖Δμ‖² + Σ(√a − √b)²', () => {
    const fit = (mu: number[], diag: number[]): GaussianFit => {
      const d = mu.length;
      const sigma = new Float64Array(d * d);
      diag.forEach((x, i) => (sigma[i * d + i] = x));
      return { mu: Float64Array.from(mu), sigma, dim: d, count: 0 };
    };
    const fd = frechetDistanceOfFits(fit([0, 1, 2], [1, 4, 9]), fit([1, 1, 0], [4, 4, 1]));
    expect(fd).toBeCloseTo(1 + 4 + (1 + 0 + 4), 10);
  });

  it('is ≈ 0 for a set with itself and grows with a known shift', () => {
    const n = 400;
    const d = 16;
    const rnd = lcg(7);
    const x = Float32Array.from({ length: n * d }, rnd);
    expect(frechetDistance(x, n, x, n, d)).toBeLessThan(1e-9);
    let last = 0;
    for (const shift of [0.1, 0.2, 0.4]) {
      const y = x.map((v, i) => (i % d === 0 ? v + shift : v));
      const fd = frechetDistance(x, n, y, n, d);
      // Shifting one coordinate by s changes only the mean term: FD = s² exactly.
      expect(fd).toBeCloseTo(shift * shift, 6);
      expect(fd).toBeGreaterThan(last);
      last = fd;
    }
  });

  it('uses the unbiased covariance (n − 1), as numpy.cov', () => {
    const c = covariance(Float64Array.of(1, 2, 3, 6), 2, 2);
    expect(Array.from(c)).toEqual([2, 4, 4, 8]);
  });

  it('matches FD computed by numpy + scipy.linalg.sqrtm (committed fixtures)', () => {
    const fixtures = JSON.parse(readFileSync(new URL('./fixtures/fd-scipy.json', import.meta.url), 'utf8')) as {
      cases: { n1: number; n2: number; d: number; a: number[]; b: number[]; fd: number }[];
    };
    expect(fixtures.cases.length).toBeGreaterThan(0);
    for (const c of fixtures.cases) {
      const fd = frechetDistance(Float64Array.from(c.a), c.n1, Float64Array.from(c.b), c.n2, c.d);
      expect(Math.abs(fd - c.fd)).toBeLessThan(1e-8 * Math.max(1, c.fd));
    }
  });
});
