/**
 * The latent-space metrics of the text-VAE literature, defined once, as plain functions over
 * row-major `[N, Z]` matrices of posterior means and log-variances (float64 math, no tfjs).
 */

import { logSumExp } from '@vaekit/core';

const LOG_2PI = Math.log(2 * Math.PI);

/** The threshold of {@link activeUnits}: a dimension is active when Var_x E_q[z_d] >= 0.01 (Burda et al. 2016). */
export const ACTIVE_UNIT_THRESHOLD = 0.01;

/**
 * Active units: the number of latent dimensions whose posterior mean varies across the data,
 * `Var_x(mu_d) >= threshold`. Also returns each dimension's variance.
 */
export function activeUnits(
  mu: ArrayLike<number>,
  count: number,
  latent: number,
  threshold = ACTIVE_UNIT_THRESHOLD,
): { active: number; variances: number[] } {
  const mean = new Float64Array(latent);
  for (let i = 0; i < count; i++) for (let d = 0; d < latent; d++) mean[d]! += mu[i * latent + d]! / count;
  const variances = Array.from({ length: latent }, () => 0);
  // The unbiased (N-1) variance, as the reference implementations (torch.var) use.
  const denom = Math.max(1, count - 1);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < latent; d++) {
      const diff = mu[i * latent + d]! - mean[d]!;
      variances[d]! += (diff * diff) / denom;
    }
  }
  return { active: variances.filter((v) => v >= threshold).length, variances };
}

/** log N(z; mu, diag(exp(logvar))) for one z and one posterior. */
function logDensity(z: ArrayLike<number>, zOffset: number, mu: ArrayLike<number>, logvar: ArrayLike<number>, offset: number, latent: number): number {
  let s = 0;
  for (let d = 0; d < latent; d++) {
    const lv = logvar[offset + d]!;
    const diff = z[zOffset + d]! - mu[offset + d]!;
    s += lv + (diff * diff) / Math.exp(lv);
  }
  return -0.5 * (latent * LOG_2PI + s);
}

/**
 * Mutual information I_q(x; z) between data and code under the aggregate posterior, the estimator of
 * He et al. (2019): `E_x[E_q(z|x) log q(z|x)] - E_{z~q(z)}[log q(z)]`, with the first term in closed form
 * (the negative entropy of each Gaussian) and `q(z)` approximated by the mixture of the N posteriors
 * given, evaluated at one sample `z_i ~ q(z|x_i)` per example (`samples`, `[N, Z]`).
 * It is at most log N, reached when every posterior is a distinct point mass.
 */
export function mutualInformation(
  mu: ArrayLike<number>,
  logvar: ArrayLike<number>,
  samples: ArrayLike<number>,
  count: number,
  latent: number,
): number {
  let negEntropy = 0;
  for (let i = 0; i < count; i++) {
    let s = 0;
    for (let d = 0; d < latent; d++) s += 1 + logvar[i * latent + d]!;
    negEntropy += -0.5 * latent * LOG_2PI - 0.5 * s;
  }
  negEntropy /= count;
  let logQz = 0;
  const terms = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let max = -Infinity;
    for (let j = 0; j < count; j++) {
      const v = logDensity(samples, i * latent, mu, logvar, j * latent, latent);
      terms[j] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let j = 0; j < count; j++) sum += Math.exp(terms[j]! - max);
    logQz += max + Math.log(sum) - Math.log(count);
  }
  logQz /= count;
  return negEntropy - logQz;
}

/** log(mean(exp(values))), computed stably (the runtime's log-sum-exp, minus log n). */
export function logMeanExp(values: ArrayLike<number>): number {
  return logSumExp(values) - Math.log(values.length);
}

/**
 * The log importance weight of one sample for the IW bound (Burda et al. 2016):
 * `log p(x|z) + log p(z) - log q(z|x)`, given `log p(x|z)` and the sample and posterior.
 */
export function logImportanceWeight(
  logLikelihood: number,
  z: ArrayLike<number>,
  zOffset: number,
  mu: ArrayLike<number>,
  logvar: ArrayLike<number>,
  offset: number,
  latent: number,
): number {
  let logPrior = -0.5 * latent * LOG_2PI;
  for (let d = 0; d < latent; d++) logPrior -= 0.5 * z[zOffset + d]! ** 2;
  return logLikelihood + logPrior - logDensity(z, zOffset, mu, logvar, offset, latent);
}
