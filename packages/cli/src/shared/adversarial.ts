/** `--adversarial` and its options for `vaekit train image` (VAE-GAN); see docs/adversarial.md. */
import type { Command } from 'commander';
import { defaultImageAdversarial, type ImageAdversarialConfig } from '@vaekit/core';
import { UsageError } from '../errors.js';

/** The VAE-GAN options of `train image` (commander's camel-case names). */
export interface ImageAdversarialOptions {
  adversarial?: 'vaegan';
  adversarialWeight?: number;
  featureWeight?: number;
  pixelWeight?: number;
  discLr?: number;
  labelSmoothing?: number;
  discBalance?: number;
  resume?: boolean;
}

const FLAGS: Array<[keyof ImageAdversarialOptions, string, keyof ImageAdversarialConfig]> = [
  ['adversarialWeight', '--adversarial-weight', 'weight'],
  ['featureWeight', '--feature-weight', 'featureWeight'],
  ['pixelWeight', '--pixel-weight', 'pixelWeight'],
  ['discLr', '--disc-lr', 'discLearningRate'],
  ['labelSmoothing', '--label-smoothing', 'labelSmoothing'],
  ['discBalance', '--disc-balance', 'balance'],
];

/**
 * The adversarial configuration the options ask for, or undefined for a plain VAE. Options of a mode
 * given without `--adversarial`, or with `--resume` (the saved configuration applies), are refused.
 */
export function adversarialFromOptions(opts: ImageAdversarialOptions, cmd: Command): ImageAdversarialConfig | undefined {
  const given = FLAGS.filter(([key]) => cmd.getOptionValueSource(key) === 'cli' || opts[key] !== undefined);
  if (opts.resume && (opts.adversarial || given.length)) {
    throw new UsageError(`--resume continues with the run's saved configuration; drop ${opts.adversarial ? '--adversarial' : given[0]![1]}.`);
  }
  if (!opts.adversarial) {
    if (given.length) throw new UsageError(`${given[0]![1]} applies to adversarial training only; add --adversarial vaegan.`);
    return undefined;
  }
  const overrides: Partial<ImageAdversarialConfig> = {};
  for (const [key, , field] of given) (overrides as Record<string, unknown>)[field] = opts[key];
  const config = defaultImageAdversarial(overrides);
  if (config.featureWeight === 0 && config.pixelWeight === 0) throw new UsageError('--feature-weight and --pixel-weight cannot both be 0 (there would be no reconstruction term).');
  return config;
}
