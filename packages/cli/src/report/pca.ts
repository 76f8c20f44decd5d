/** Principal component analysis of a few hundred latent vectors, small enough to do by hand. */

/**
 * Projects the rows of `x` (`count` rows of `dim` values) onto their first two principal components.
 * Eigenvectors of the covariance come from power iteration with deflation; each is signed so its
 * largest component is positive, so repeated reports draw the same map. A dimension of 1 gives a
 * second coordinate of 0.
 */
export function pca2(x: Float32Array, count: number, dim: number): { points: Array<[number, number]>; explained: [number, number] } {
  if (count === 0 || dim === 0) return { points: [], explained: [0, 0] };
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]! / count;
  const cov = new Float64Array(dim * dim);
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < dim; a++) {
      const va = x[i * dim + a]! - mean[a]!;
      for (let b = a; b < dim; b++) cov[a * dim + b]! += (va * (x[i * dim + b]! - mean[b]!)) / Math.max(1, count - 1);
    }
  }
  for (let a = 0; a < dim; a++) for (let b = 0; b < a; b++) cov[a * dim + b] = cov[b * dim + a]!;
  let total = 0;
  for (let d = 0; d < dim; d++) total += cov[d * dim + d]!;
  const components: Float64Array[] = [];
  const values: number[] = [];
  for (let c = 0; c < Math.min(2, dim); c++) {
    let v = new Float64Array(dim).map((_, d) => 1 + d * 0.01);
    let lambda = 0;
    for (let iter = 0; iter < 500; iter++) {
      const w = new Float64Array(dim);
      for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) w[a]! += cov[a * dim + b]! * v[b]!;
      const norm = Math.hypot(...w);
      if (norm < 1e-12) {
        lambda = 0;
        break;
      }
      const next = w.map((e) => e / norm);
      const delta = next.reduce((s, e, d) => s + Math.abs(e - v[d]!), 0);
      v = next;
      lambda = norm;
      if (delta < 1e-10) break;
    }
    let big = 0;
    for (let d = 0; d < dim; d++) if (Math.abs(v[d]!) > Math.abs(v[big]!)) big = d;
    if (v[big]! < 0) v = v.map((e) => -e);
    components.push(v);
    values.push(lambda);
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b]! -= lambda * v[a]! * v[b]!;
  }
  const points = Array.from({ length: count }, (_, i): [number, number] => {
    const p = components.map((comp) => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += (x[i * dim + d]! - mean[d]!) * comp[d]!;
      return s;
    });
    return [p[0] ?? 0, p[1] ?? 0];
  });
  return { points, explained: [total > 0 ? (values[0] ?? 0) / total : 0, total > 0 ? (values[1] ?? 0) / total : 0] };
}
