/** `vaekit reconstruct` on a text bundle: a sentence encoded, and its posterior mean decoded. */
import type { DecodingStrategy, TextVae } from '@vaekit/runtime';
import { printGenerations, warnIgnoredDecodingOptions, warnUnusableInput } from './text-output.js';

/** Options of the text reconstruction. */
export interface TextReconstructOptions {
  strategy: DecodingStrategy;
  temperature: number;
  topK: number;
  topP: number;
  beam: number;
  maxTokens: number;
  seed: number;
  json?: boolean;
}

/** Reconstructs `sentence` and prints it (JSON fields as in text-output.ts). */
export async function reconstructText(vae: TextVae, sentence: string, opts: TextReconstructOptions, givenOnCli: (key: string) => boolean): Promise<void> {
  warnIgnoredDecodingOptions(opts.strategy, givenOnCli);
  warnUnusableInput(vae, sentence);
  const decoding = { strategy: opts.strategy, temperature: opts.temperature, topK: opts.topK, topP: opts.topP, beamWidth: opts.beam, maxTokens: opts.maxTokens, seed: opts.seed };
  const [g] = await vae.reconstruct(sentence, decoding);
  printGenerations([g!], Boolean(opts.json), { input: sentence, strategy: opts.strategy, seed: opts.seed, maxTokens: opts.maxTokens, device: vae.backend });
}
