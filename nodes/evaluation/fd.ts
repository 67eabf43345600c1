// Fréchet distance between two Gaussian fits of embedding sets (FID's formula on shapes-CLIP embeddings):
//   FD = ‖μ₁ − μ₂‖² + tr(Σ₁) + tr(Σ₂) − 2·tr((Σ₁Σ₂)^½).
// tr((Σ₁Σ₂)^½) is computed as tr((Σ₁^½ Σ₂ Σ₁^½)^½): the two matrices are similar, and the second is symmetric
// PSD, so its root comes from a symmetric eigen-decomposition instead of scipy's general (complex) sqrtm.
import { covariance, matmul, mean, symmetricEigen, sqrtmPsd, trace } from './linalg.ts';

export interface GaussianFit {
  mu: Float64Array;
  sigma: Float64Array;
  dim: number;
  count: number;
}

/** Mean and unbiased covariance of n embeddings of width d (row-major). */
export function fitGaussian(embeddings: Float32Array | Float64Array, n: number, d: number): GaussianFit {
  if (embeddings.length !== n * d) throw new Error(`fitGaussian: expected ${n}×${d} values, got ${embeddings.length}`);
  return { mu: mean(embeddings, n, d), sigma: covariance(embeddings, n, d), dim: d, count: n };
}

/** tr((A·B)^½) for symmetric PSD A and B. */
export function traceSqrtProduct(a: Float64Array, b: Float64Array, n: number): number {
  const ra = sqrtmPsd(a, n);
  const m = matmul(matmul(ra, b, n), ra, n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = s;
      m[j * n + i] = s;
    }
  }
  const { values } = symmetricEigen(m, n);
  let t = 0;
  for (const v of values) t += Math.sqrt(Math.max(v, 0));
  return t;
}

export function frechetDistanceOfFits(p: GaussianFit, q: GaussianFit): number {
  if (p.dim !== q.dim) throw new Error(`frechetDistance: widths differ (${p.dim} vs ${q.dim})`);
  const d = p.dim;
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (p.mu[i] - q.mu[i]) ** 2;
  const fd = meanTerm + trace(p.sigma, d) + trace(q.sigma, d) - 2 * traceSqrtProduct(p.sigma, q.sigma, d);
  // Round-off can leave a tiny negative value for identical sets; a distance is never negative.
  return Math.max(fd, 0);
}

/** FD between two embedding sets (n₁ × d and n₂ × d, row-major). */
export function frechetDistance(
  a: Float32Array | Float64Array, na: number, b: Float32Array | Float64Array, nb: number, d: number,
): number {
  return frechetDistanceOfFits(fitGaussian(a, na, d), fitGaussian(b, nb, d));
}
