/** KL annealing schedules: the weight of the KL term at each optimizer step, before `beta`. */
import type { AnnealConfig } from '@vaekit/core';

/**
 * The KL weight in [0, 1] at optimizer step `step` (0-based) of a run of `totalSteps` steps.
 * See {@link AnnealConfig} for the formulas.
 */
export function klWeight(anneal: AnnealConfig, step: number, totalSteps: number): number {
  switch (anneal.schedule) {
    case 'none':
      return 1;
    case 'linear':
      return anneal.steps > 0 ? Math.min(1, step / anneal.steps) : 1;
    case 'logistic':
      return 1 / (1 + Math.exp(-anneal.k * (step - anneal.x0)));
    case 'cyclical': {
      const period = Math.max(1, totalSteps / Math.max(1, anneal.cycles));
      const tau = (step % period) / period;
      return Math.min(1, tau / anneal.ratio);
    }
  }
}
