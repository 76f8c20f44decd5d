/**
 * `--adversarial` and its options for `vaekit train image` (VAE-GAN) and `vaekit train text` (the latent
 * critic); see docs/adversarial.md.
 */
import type { Command } from 'commander';
import { defaultImageAdversarial, defaultTextAdversarial, type ImageAdversarialConfig, type TextAdversarialConfig } from '@vaekit/core';
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
  gradientPenalty?: number;
  priorWeight?: number;
  encoderFool?: boolean;
  resume?: boolean;
}

const FLAGS: Array<[keyof ImageAdversarialOptions, string, keyof ImageAdversarialConfig]> = [
  ['adversarialWeight', '--adversarial-weight', 'weight'],
  ['featureWeight', '--feature-weight', 'featureWeight'],
  ['pixelWeight', '--pixel-weight', 'pixelWeight'],
  ['discLr', '--disc-lr', 'discLearningRate'],
  ['labelSmoothing', '--label-smoothing', 'labelSmoothing'],
  ['discBalance', '--disc-balance', 'balance'],
  ['gradientPenalty', '--gradient-penalty', 'gradientPenalty'],
  ['priorWeight', '--prior-weight', 'priorWeight'],
  ['encoderFool', '--no-encoder-fool', 'encoderFool'],
];

/**
 * The adversarial configuration the options ask for, or undefined for a plain VAE. Options of a mode
 * given without `--adversarial`, or with `--resume` (the saved configuration applies), are refused.
 */
export function adversarialFromOptions(opts: ImageAdversarialOptions, cmd: Command): ImageAdversarialConfig | undefined {
  // A negatable flag (`--no-encoder-fool`) has a default value: only a value the user gave counts.
  const given = FLAGS.filter(([key]) => cmd.getOptionValueSource(key) === 'cli' || (cmd.getOptionValueSource(key) !== 'default' && opts[key] !== undefined));
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

/** The adversarial options of `train text` (commander's camel-case names). */
export interface TextAdversarialOptions {
  adversarial?: 'latent';
  adversarialWeight?: number;
  criticLr?: number;
  criticHidden?: number;
  resume?: boolean;
  model?: 'vae' | 'lm';
}

const TEXT_FLAGS: Array<[keyof TextAdversarialOptions, string, keyof TextAdversarialConfig]> = [
  ['adversarialWeight', '--adversarial-weight', 'weight'],
  ['criticLr', '--critic-lr', 'criticLearningRate'],
  ['criticHidden', '--critic-hidden', 'criticHidden'],
];

/**
 * The text run's adversarial configuration the options ask for, or undefined for a plain VAE; the same
 * rules as {@link adversarialFromOptions} (no mode options without `--adversarial`, none with
 * `--resume`), and `--adversarial latent` needs `--model vae`.
 */
export function textAdversarialFromOptions(opts: TextAdversarialOptions, cmd: Command): TextAdversarialConfig | undefined {
  const given = TEXT_FLAGS.filter(([key]) => cmd.getOptionValueSource(key) === 'cli' || opts[key] !== undefined);
  if (opts.resume && (opts.adversarial || given.length)) {
    throw new UsageError(`--resume continues with the run's saved configuration; drop ${opts.adversarial ? '--adversarial' : given[0]![1]}.`);
  }
  if (!opts.adversarial) {
    if (given.length) throw new UsageError(`${given[0]![1]} applies to adversarial training only; add --adversarial latent.`);
    return undefined;
  }
  if (opts.model === 'lm') throw new UsageError('--adversarial latent regularises the encoder of a sentence VAE; it needs --model vae.');
  const overrides: Partial<TextAdversarialConfig> = {};
  for (const [key, , field] of given) (overrides as Record<string, unknown>)[field] = opts[key];
  return defaultTextAdversarial(overrides);
}
