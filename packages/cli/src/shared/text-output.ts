/**
 * How the text commands print: the JSON fields they share, sentences cut by `--max-tokens` marked in
 * plain output, and one-line warnings for input that will not do what the user expects.
 *
 * JSON fields, the same in every text command (docs/cli.md lists them):
 * - `input` (encode, reconstruct) or `inputs` (interpolate: the two sentences): what was given;
 * - `device`: the ONNX Runtime engine that ran;
 * - `strategy`, `seed`, `maxTokens`: the decoding (generate, reconstruct, interpolate);
 * - `generations`: `{ text, tokens, tokenIds, logprobs, logprob, finished, z }` per sentence.
 */
import type { Generation, TextVae } from '@vaekit/runtime';
import { printJson } from './output.js';

/** Appended to a sentence in plain output when `--max-tokens` cut it before `<eos>`. */
export const CUT_MARK = ' …';

/** Generations as JSON (with `fields` first) or one sentence per line, cut ones marked with {@link CUT_MARK}. */
export function printGenerations(gens: Generation[], json: boolean, fields: Record<string, unknown> = {}): void {
  if (json) {
    printJson({
      ...fields,
      generations: gens.map((g) => ({
        text: g.text,
        tokens: g.tokens,
        tokenIds: g.tokenIds,
        logprobs: g.logprobs,
        logprob: g.logprob,
        finished: g.finished,
        z: Array.from(g.z),
      })),
    });
  } else {
    process.stdout.write(gens.map((g) => g.text + (g.finished ? '' : CUT_MARK)).join('\n') + '\n');
    const cut = gens.filter((g) => !g.finished).length;
    if (cut > 0) process.stderr.write(`vaekit: ${cut} of ${gens.length} sentence${gens.length > 1 ? 's' : ''} reached --max-tokens before <eos> (marked "${CUT_MARK.trim()}").\n`);
  }
}

/** Prints one warning line on stderr. */
export function warn(message: string): void {
  process.stderr.write(`vaekit: warning: ${message}\n`);
}

/** Warns when a sentence is empty or has no word in the bundle's vocabulary (it is encoded all the same). */
export function warnUnusableInput(vae: TextVae, sentence: string, label = 'the input'): void {
  const ids = vae.tokenizer.encode(sentence);
  if (ids.length === 0) warn(`${label} is empty: it is encoded as a sentence with no words.`);
  else if (ids.every((id) => vae.tokenizer.idToToken(id) === '<unk>')) {
    warn(`none of the words of ${label} (${JSON.stringify(sentence.length > 60 ? sentence.slice(0, 57) + '...' : sentence)}) is in the bundle's vocabulary: it is encoded as ${ids.length} <unk>.`);
  }
}

/** Options that only act under one decoding strategy. */
const STRATEGY_OPTIONS: Array<{ flag: string; key: string; strategy: string }> = [
  { flag: '--temperature', key: 'temperature', strategy: 'sample' },
  { flag: '--top-k', key: 'topK', strategy: 'sample' },
  { flag: '--top-p', key: 'topP', strategy: 'sample' },
  { flag: '--beam', key: 'beam', strategy: 'beam' },
  { flag: '--length-penalty', key: 'lengthPenalty', strategy: 'beam' },
];

/** Warns (one line) about options given on the command line that the chosen strategy ignores. */
export function warnIgnoredDecodingOptions(strategy: string, givenOnCli: (key: string) => boolean): void {
  const ignored = STRATEGY_OPTIONS.filter((o) => o.strategy !== strategy && givenOnCli(o.key));
  if (ignored.length === 0) return;
  const needs = [...new Set(ignored.map((o) => `--strategy ${o.strategy}`))].join(' or ');
  warn(`${ignored.map((o) => o.flag).join(', ')} ${ignored.length > 1 ? 'do' : 'does'} nothing with --strategy ${strategy} (${needs} only); ignored.`);
}
