/**
 * Diversity of a set of generated sentences (for example the n samples a model draws for one source):
 * distinct-n (Li et al., 2016) and self-BLEU (Zhu et al., 2018, Texygen). Both use sacreBLEU's 13a
 * tokenization so they agree with {@link corpusBleu} on what a token is.
 */
import { InputError } from '../errors.js';
import { sentenceBleu, tokenize13a, type BleuOptions } from './bleu.js';

/** Options of {@link distinctN}. */
export interface DistinctOptions {
  /** Lower-case before counting. Default false. */
  lowercase?: boolean;
  /** `13a` (default) or `none` (split on whitespace only). */
  tokenize?: '13a' | 'none';
}

/**
 * distinct-n: the number of distinct n-grams over all sentences divided by the number of n-grams
 * (0 when the sentences have no n-gram of that order). 1 means no n-gram repeats anywhere in the set.
 */
export function distinctN(sentences: readonly string[], n: number, options: DistinctOptions = {}): number {
  if (!Number.isInteger(n) || n < 1) throw new InputError(`distinct-n needs a positive integer n, got ${String(n)}.`);
  const seen = new Set<string>();
  let total = 0;
  for (const raw of sentences) {
    const cased = options.lowercase ? raw.toLowerCase() : raw;
    const line = (options.tokenize ?? '13a') === '13a' ? tokenize13a(cased) : cased;
    const tokens = line.split(/\s+/).filter((t) => t.length > 0);
    for (let i = 0; i + n <= tokens.length; i++) {
      seen.add(tokens.slice(i, i + n).join('\u0000'));
      total += 1;
    }
  }
  return total === 0 ? 0 : seen.size / total;
}

/**
 * Self-BLEU: the mean over the sentences of each one's sentence BLEU (sacreBLEU's {@link sentenceBleu},
 * 0–100) against all the others as references. High means the set repeats itself; lower is more diverse.
 * Needs at least two sentences.
 */
export function selfBleu(sentences: readonly string[], options: BleuOptions = {}): number {
  if (sentences.length < 2) throw new InputError(`Self-BLEU needs at least two sentences, got ${sentences.length}.`);
  let sum = 0;
  sentences.forEach((hyp, i) => {
    const others = sentences.filter((_, j) => j !== i);
    sum += sentenceBleu(hyp, others, options).score;
  });
  return sum / sentences.length;
}
