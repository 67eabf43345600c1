// Small dense linear algebra in float64 for the Fréchet distance: mean, covariance, symmetric eigen-
// decomposition (cyclic Jacobi) and the square root of a positive semi-definite matrix.
// Matrices are row-major Float64Arrays of n×n. Sizes here are the embedding width (≤ a few hundred).

/** Column means of `rows` (n × d, row-major). */
export function mean(rows: Float64Array | Float32Array, n: number, d: number): Float64Array {
  if (n < 1) throw new Error('mean: need at least one row');
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += rows[i * d + j];
  for (let j = 0; j < d; j++) mu[j] /= n;
  return mu;
}

/** Unbiased covariance (divides by n − 1, as numpy.cov) of `rows` (n × d). */
export function covariance(rows: Float64Array | Float32Array, n: number, d: number): Float64Array {
  if (n < 2) throw new Error('covariance: need at least two rows');
  const mu = mean(rows, n, d);
  const c = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) centred[j] = rows[i * d + j] - mu[j];
    for (let a = 0; a < d; a++) {
      const ca = centred[a];
      if (ca === 0) continue;
      const row = a * d;
      for (let b = a; b < d; b++) c[row + b] += ca * centred[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = c[a * d + b] / (n - 1);
      c[a * d + b] = v;
      c[b * d + a] = v;
    }
  }
  return c;
}

/** C = A·B for n×n matrices. */
export function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  return c;
}

export function trace(a: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  values: Float64Array;
  /** Eigenvectors as columns of a row-major n×n matrix (V[:, i] belongs to values[i]). */
  vectors: Float64Array;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations. Accurate to ~1e-12 relative for the
 * well-scaled covariances here; throws if the input is not symmetric (a caller bug, not a numerical issue).
 */
export function symmetricEigen(m: Float64Array, n: number, maxSweeps = 100): SymmetricEigen {
  const a = Float64Array.from(m);
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale = Math.max(scale, Math.abs(a[i]));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (Math.abs(a[i * n + j] - a[j * n + i]) > 1e-9 * Math.max(scale, 1e-300)) {
        throw new Error(`symmetricEigen: matrix is not symmetric at (${i}, ${j})`);
      }
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * Math.max(scale * scale, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        // Rotation angle that zeroes a[p][q] (Golub & Van Loan, symmetric Schur decomposition).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i] - a[j * n + j]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = a[src * n + src];
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/**
 * The principal square root of a symmetric positive semi-definite matrix: V·diag(√λ)·Vᵀ.
 * Eigenvalues below zero (round-off of a PSD matrix) are clamped to 0.
 */
export function sqrtmPsd(m: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(m, n);
  const root = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vik = vectors[i * n + k] * s;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) root[i * n + j] += vik * vectors[j * n + k];
    }
  }
  return root;
}
