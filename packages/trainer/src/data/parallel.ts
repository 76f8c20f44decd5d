/**
 * Parallel sentences for translation: a TSV file read and checked line by line, the standard setting
 * (pairs of at most N tokens a side), a seeded group split by unique target sentence (no target sentence
 * in two splits: near-duplicate pairs such as "I'm tired." with three French variants would otherwise
 * leak into the test set), and one vocabulary per side from the training split.
 */
import { promises as fs } from 'node:fs';
import { WordTokenizer, createRng, permutation, splitWords, type TranslateDataConfig } from '@vaekit/core';
import { DataError } from '../errors.js';

/** One sentence pair, with the line it came from (1-based). */
export interface SentencePair {
  source: string;
  target: string;
  line: number;
}

/**
 * Parses TSV text: one pair a line, two tab-separated columns (`target<TAB>source`, or
 * `source<TAB>target` with `reverse`); further columns (attribution) are ignored; blank lines are
 * skipped. Throws {@link DataError} naming the first bad line: no tab, or an empty side.
 */
export function parseParallelTsv(text: string, options: { reverse: boolean; name?: string }): SentencePair[] {
  const name = options.name ?? 'the data file';
  const pairs: SentencePair[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const cols = raw.split('\t');
    if (cols.length < 2) {
      throw new DataError(`${name} line ${i + 1} has no tab: each line must be two columns, ${options.reverse ? 'source<TAB>target' : 'target<TAB>source (English first, as the Tatoeba fra-eng.tsv)'}.`);
    }
    const [first, second] = [cols[0]!.trim(), cols[1]!.trim()];
    const [source, target] = options.reverse ? [first, second] : [second, first];
    if (source === '' || target === '') {
      throw new DataError(`${name} line ${i + 1} has an empty ${source === '' ? 'source' : 'target'} side.`);
    }
    pairs.push({ source, target, line: i + 1 });
  }
  if (pairs.length === 0) throw new DataError(`${name} has no sentence pairs.`);
  return pairs;
}

/** Reads and parses a TSV file of sentence pairs (see {@link parseParallelTsv}). */
export async function readParallelTsv(file: string, reverse: boolean): Promise<SentencePair[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(
      code === 'ENOENT'
        ? `The data file ${file} does not exist. Get the standard one (fra-eng.txt of manythings.org/anki, from Tatoeba) or pass any source<TAB>target file with --reverse.`
        : `Cannot read the data file ${file}: ${(err as Error).message}`,
    );
  }
  return parseParallelTsv(text, { reverse, name: file });
}

/** Pairs as token ids (no `<bos>`/`<eos>`), with their original text (the references of BLEU). */
export interface PairSet {
  source: Int32Array[];
  target: Int32Array[];
  sourceText: string[];
  targetText: string[];
}

/** A prepared translation corpus. */
export interface ParallelCorpus {
  sourceTokenizer: WordTokenizer;
  targetTokenizer: WordTokenizer;
  train: PairSet;
  valid: PairSet;
  test: PairSet;
  /** Padded length of both sides: maxTokens + 1 (room for `<eos>`, or `<bos>` on the decoder input). */
  seqLength: number;
  stats: {
    pairs: number;
    kept: number;
    uniqueTargets: number;
    train: number;
    valid: number;
    test: number;
    sourceVocab: number;
    targetVocab: number;
  };
}

function toSet(pairs: SentencePair[], src: WordTokenizer, tgt: WordTokenizer): PairSet {
  return {
    source: pairs.map((p) => Int32Array.from(src.encode(p.source))),
    target: pairs.map((p) => Int32Array.from(tgt.encode(p.target))),
    sourceText: pairs.map((p) => p.source),
    targetText: pairs.map((p) => p.target),
  };
}

/**
 * The standard setting: pairs with at most `maxTokens` tokens a side; the unique target sentences
 * shuffled with `seed` and cut into train/valid/test by the fractions (every pair follows its target
 * sentence); each split in a seeded random order; vocabularies from the training pairs (`minCount`,
 * `maxVocab`); `trainLimit`/`evalLimit` take the first pairs of each (shuffled) split.
 */
export function prepareParallel(pairs: readonly SentencePair[], data: TranslateDataConfig, seed: number): ParallelCorpus {
  const kept = pairs.filter((p) => {
    const s = splitWords(p.source).length;
    const t = splitWords(p.target).length;
    return s > 0 && t > 0 && s <= data.maxTokens && t <= data.maxTokens;
  });
  if (kept.length === 0) throw new DataError(`No sentence pair has at most ${data.maxTokens} tokens on both sides.`);
  const unique = [...new Set(kept.map((p) => p.target))];
  const order = permutation(unique.length, createRng(seed * 7919 + 17));
  const nTest = Math.round(unique.length * data.testFraction);
  const nValid = Math.round(unique.length * data.validFraction);
  const splitOf = new Map<string, 0 | 1 | 2>();
  order.forEach((u, rank) => splitOf.set(unique[u]!, rank < nTest ? 2 : rank < nTest + nValid ? 1 : 0));
  const parts: [SentencePair[], SentencePair[], SentencePair[]] = [[], [], []];
  for (const p of kept) parts[splitOf.get(p.target)!].push(p);
  // Each split in a seeded random order, so a limited run takes a uniform sample (the file is sorted by length).
  const limit = (set: SentencePair[], n: number, salt: number) => {
    const shuffled = permutation(set.length, createRng(seed * 7919 + salt)).map((i) => set[i]!);
    return n > 0 ? shuffled.slice(0, n) : shuffled;
  };
  const train = limit(parts[0], data.trainLimit, 18);
  const valid = limit(parts[1], data.evalLimit, 19);
  const test = limit(parts[2], data.evalLimit, 20);
  if (train.length === 0 || valid.length === 0 || test.length === 0) {
    throw new DataError(`The split left ${train.length} training, ${valid.length} validation and ${test.length} test pairs; every split needs at least one (use more data).`);
  }
  const buildOptions = { minCount: data.minCount, maxVocab: data.maxVocab };
  const sourceTokenizer = WordTokenizer.build(train.map((p) => p.source), buildOptions);
  const targetTokenizer = WordTokenizer.build(train.map((p) => p.target), buildOptions);
  return {
    sourceTokenizer,
    targetTokenizer,
    train: toSet(train, sourceTokenizer, targetTokenizer),
    valid: toSet(valid, sourceTokenizer, targetTokenizer),
    test: toSet(test, sourceTokenizer, targetTokenizer),
    seqLength: data.maxTokens + 1,
    stats: {
      pairs: pairs.length,
      kept: kept.length,
      uniqueTargets: unique.length,
      train: train.length,
      valid: valid.length,
      test: test.length,
      sourceVocab: sourceTokenizer.vocabSize,
      targetVocab: targetTokenizer.vocabSize,
    },
  };
}

/** A padded batch of pairs as flat int32 arrays `[B, T]`. */
export interface PairBatch {
  batch: number;
  /** Source ids, `<pad>` after the words (no `<eos>`). */
  source: Int32Array;
  /** Target ids then `<eos>`, padded: the decoder's targets (and the posterior's input). */
  target: Int32Array;
  /** `<bos>` then target ids (word dropout applied), padded: the decoder's inputs. */
  decoderInput: Int32Array;
  /** 1 on the target positions scored (words and `<eos>`). */
  targetMask: Float32Array;
  /** Source lengths. */
  sourceLengths: Int32Array;
}

/** Pads a batch; `wordDropout` replaces decoder input words by `<unk>` with that probability (drawn from `uniform`). */
export function makePairBatch(
  source: readonly Int32Array[],
  target: readonly Int32Array[],
  seqLength: number,
  special: { unk: number; bos: number; eos: number },
  wordDropout = 0,
  uniform?: () => number,
): PairBatch {
  const B = source.length;
  const T = seqLength;
  const out: PairBatch = {
    batch: B,
    source: new Int32Array(B * T),
    target: new Int32Array(B * T),
    decoderInput: new Int32Array(B * T),
    targetMask: new Float32Array(B * T),
    sourceLengths: new Int32Array(B),
  };
  for (let b = 0; b < B; b++) {
    const s = source[b]!.subarray(0, T);
    out.source.set(s, b * T);
    out.sourceLengths[b] = s.length;
    const t = target[b]!.subarray(0, T - 1);
    out.target.set(t, b * T);
    out.target[b * T + t.length] = special.eos;
    out.targetMask.fill(1, b * T, b * T + t.length + 1);
    out.decoderInput[b * T] = special.bos;
    for (let i = 0; i < t.length; i++) {
      const drop = wordDropout > 0 && uniform !== undefined && uniform() < wordDropout;
      out.decoderInput[b * T + i + 1] = drop ? special.unk : t[i]!;
    }
  }
  return out;
}
