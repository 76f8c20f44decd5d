/**
 * Sample-quality statistics on feature vectors, the same for every kind that has features: the Fréchet
 * distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017), and precision and
 * recall of k-nearest-neighbour manifolds (Kynkäänniemi et al. 2019). Plain arrays in, numbers out; the
 * features come from {@link MnistClassifier} for images.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** A set of `count` feature vectors of length `dim`, row-major. */
export interface FeatureSet {
  values: Float64Array | Float32Array;
  count: number;
  dim: number;
}

/** Mean and (unbiased, n - 1) covariance of a feature set. */
export interface GaussianStats {
  mean: Float64Array;
  /** `dim x dim`, row-major. */
  cov: Float64Array;
  dim: number;
}

/** Mean and unbiased covariance (divided by n - 1, as numpy's `np.cov` and the reference FID code do). */
export function featureStats(set: FeatureSet): GaussianStats {
  const { values, count, dim } = set;
  if (count < 2) throw new RangeError(`Feature statistics need at least 2 vectors, got ${count}.`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < count; i++) for (let d = 0; d < dim; d++) mean[d]! += values[i * dim + d]!;
  for (let d = 0; d < dim; d++) mean[d]! /= count;
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) centred[d] = values[i * dim + d]! - mean[d]!;
    for (let a = 0; a < dim; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      for (let b = a; b < dim; b++) cov[a * dim + b]! += ca * centred[b]!;
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b]! / (count - 1);
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }
  return { mean, cov, dim };
}

function toMatrix(flat: Float64Array, dim: number): Matrix {
  return new Matrix(Array.from({ length: dim }, (_, r) => Array.from(flat.subarray(r * dim, (r + 1) * dim))));
}

/** The square root of a symmetric positive semi-definite matrix (eigenvalues below 0 from rounding are taken as 0). */
function sqrtSym(m: Matrix): Matrix {
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = evd.eigenvectorMatrix;
  const s = Matrix.diag(evd.realEigenvalues.map((l) => Math.sqrt(Math.max(0, l))));
  return v.mmul(s).mmul(v.transpose());
}

/**
 * The Fréchet distance between N(m1, C1) and N(m2, C2):
 * `|m1 - m2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2))`. The trace of the square root is computed as
 * `sum_i sqrt(lambda_i)` over the eigenvalues of the symmetric `C1^(1/2) C2 C1^(1/2)` (similar to C1 C2),
 * which needs no general (non-symmetric) matrix square root and stays real.
 */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  if (a.dim !== b.dim) throw new RangeError(`Feature sizes differ: ${a.dim} and ${b.dim}.`);
  const dim = a.dim;
  let meanTerm = 0;
  for (let d = 0; d < dim; d++) meanTerm += (a.mean[d]! - b.mean[d]!) ** 2;
  let trace = 0;
  for (let d = 0; d < dim; d++) trace += a.cov[d * dim + d]! + b.cov[d * dim + d]!;
  const s1 = sqrtSym(toMatrix(a.cov, dim));
  const inner = s1.mmul(toMatrix(b.cov, dim)).mmul(s1);
  // Symmetrise against rounding before the symmetric eigensolver.
  const sym = inner.add(inner.transpose()).mul(0.5);
  const eig = new EigenvalueDecomposition(sym, { assumeSymmetric: true }).realEigenvalues;
  const traceSqrt = eig.reduce((s, l) => s + Math.sqrt(Math.max(0, l)), 0);
  return Math.max(0, meanTerm + trace - 2 * traceSqrt);
}

/** FID between two feature sets (Gaussians fitted to each). */
export function fid(real: FeatureSet, fake: FeatureSet): number {
  return frechetDistance(featureStats(real), featureStats(fake));
}

function squaredDistances(a: FeatureSet, b: FeatureSet): Float64Array {
  const out = new Float64Array(a.count * b.count);
  const { dim } = a;
  for (let i = 0; i < a.count; i++) {
    for (let j = 0; j < b.count; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const diff = a.values[i * dim + d]! - b.values[j * dim + d]!;
        s += diff * diff;
      }
      out[i * b.count + j] = s;
    }
  }
  return out;
}

/** Squared radius of each vector's k-NN ball within its own set (the k-th nearest other vector). */
function knnRadii(set: FeatureSet, k: number): Float64Array {
  const d = squaredDistances(set, set);
  const radii = new Float64Array(set.count);
  const row = new Float64Array(set.count - 1);
  for (let i = 0; i < set.count; i++) {
    let n = 0;
    for (let j = 0; j < set.count; j++) if (j !== i) row[n++] = d[i * set.count + j]!;
    radii[i] = row.sort()[k - 1]!;
  }
  return radii;
}

/** Share of `queries` inside the k-NN manifold of `support` (some ball around a support vector holds it). */
function coverage(support: FeatureSet, queries: FeatureSet, k: number): number {
  const radii = knnRadii(support, k);
  const d = squaredDistances(queries, support);
  let inside = 0;
  for (let q = 0; q < queries.count; q++) {
    for (let s = 0; s < support.count; s++) {
      if (d[q * support.count + s]! <= radii[s]!) {
        inside++;
        break;
      }
    }
  }
  return inside / queries.count;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): the manifold of a set is the union of balls
 * around its vectors, each reaching its k-th nearest neighbour in the set. Precision is the share of fake
 * vectors inside the real manifold (are samples realistic?), recall the share of real vectors inside the
 * fake manifold (do samples cover the data?). The paper uses k = 3.
 */
export function precisionRecall(real: FeatureSet, fake: FeatureSet, k = 3): { precision: number; recall: number } {
  if (real.dim !== fake.dim) throw new RangeError(`Feature sizes differ: ${real.dim} and ${fake.dim}.`);
  if (!Number.isInteger(k) || k < 1 || k >= Math.min(real.count, fake.count)) {
    throw new RangeError(`k must be an integer in [1, ${Math.min(real.count, fake.count) - 1}], got ${k}.`);
  }
  return { precision: coverage(real, fake, k), recall: coverage(fake, real, k) };
}

/** Share of rows of class probabilities `[count, classes]` whose largest probability is at least `threshold`. */
export function confidentShare(probs: Float32Array | Float64Array, classes: number, threshold = 0.9): number {
  const count = probs.length / classes;
  // float32 probabilities are compared with the float32 threshold (0.9 as float32 is below 0.9).
  const t = probs instanceof Float32Array ? Math.fround(threshold) : threshold;
  let n = 0;
  for (let i = 0; i < count; i++) {
    let max = 0;
    for (let c = 0; c < classes; c++) max = Math.max(max, probs[i * classes + c]!);
    if (max >= t) n++;
  }
  return count > 0 ? n / count : 0;
}
