// Small numeric helpers shared by masks, validation and baselines: sampling without replacement,
// Pearson correlation and a ridge/least-squares solver (Cholesky on the Gram matrix).

/** `count` distinct indices of [0, n), uniformly at random (partial Fisher–Yates). */
export function sampleIndices(n: number, count: number, rand: () => number): Uint32Array {
  if (count > n) throw new Error(`sampleIndices: cannot draw ${count} of ${n}`);
  const pool = new Uint32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const tmp = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = tmp;
  }
  return pool.slice(0, count);
}

/** A shuffled copy of `values` (seeded). */
export function shuffled(values: Float32Array, rand: () => number): Float32Array {
  const out = Float32Array.from(values);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}

/** Pearson correlation; NaN when either side is constant. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (n !== y.length || n < 2) throw new Error(`pearson: need two equal-length series (got ${n}, ${y.length})`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : Number.NaN;
}

/** Solves the symmetric positive-definite system A x = b in place of a copy (Cholesky). A is n×n row-major. */
export function choleskySolve(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * n + k]! * l[j * n + k]!;
      if (i === j) {
        if (sum <= 0) throw new Error('choleskySolve: matrix is not positive definite');
        l[i * n + i] = Math.sqrt(sum);
      } else {
        l[i * n + j] = sum / l[j * n + j]!;
      }
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * n + k]! * y[k]!;
    y[i] = sum / l[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i]! * x[k]!;
    x[i] = sum / l[i * n + i]!;
  }
  return x;
}

/**
 * Least squares of y on the columns of X (rows = observations, d columns, both already centred), with a small
 * ridge `lambda` so it stays defined when there are fewer observations than columns (then it is the
 * minimum-norm solution as lambda → 0). Solved in whichever of the primal (d×d) or dual (n×n) form is smaller.
 */
export function ridgeRegression(x: Float64Array, y: Float64Array, n: number, d: number, lambda: number): Float64Array {
  if (n <= d) {
    // dual: beta = Xᵀ (X Xᵀ + λI)⁻¹ y
    const gram = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = 0;
        for (let k = 0; k < d; k++) sum += x[i * d + k]! * x[j * d + k]!;
        gram[i * n + j] = sum;
        gram[j * n + i] = sum;
      }
      gram[i * n + i] = gram[i * n + i]! + lambda;
    }
    const alpha = choleskySolve(gram, y, n);
    const beta = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) beta[k] = beta[k]! + x[i * d + k]! * alpha[i]!;
    return beta;
  }
  const gram = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const xij = x[i * d + j]!;
      if (xij === 0) continue;
      rhs[j] = rhs[j]! + xij * y[i]!;
      for (let k = 0; k <= j; k++) gram[j * d + k] = gram[j * d + k]! + xij * x[i * d + k]!;
    }
  }
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) gram[k * d + j] = gram[j * d + k]!;
    gram[j * d + j] = gram[j * d + j]! + lambda;
  }
  return choleskySolve(gram, rhs, d);
}
