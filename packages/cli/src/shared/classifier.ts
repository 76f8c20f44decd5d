/**
 * What `vaekit train classify`, `vaekit eval` (classifier runs) and `vaekit classify` share: the
 * metrics table, `eval.json` and the file of texts to classify. Loaded inside actions (it loads the
 * trainer).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { evaluateClassifierRun, type ClassifierReport } from '@vaekit/trainer';
import { UsageError } from '../errors.js';
import { registerImdb } from './imdb.js';
import { writeOutput } from './output.js';

/** The classifier evaluation written into the run folder. */
export const CLASSIFIER_EVAL_FILE = 'eval.json';

/** Evaluates a classifier run on its test split and writes `RUN/eval.json`. */
export async function evaluateClassifier(runDir: string): Promise<ClassifierReport> {
  registerImdb();
  const report = await evaluateClassifierRun(runDir);
  await writeOutput(path.join(runDir, CLASSIFIER_EVAL_FILE), JSON.stringify(report, null, 2) + '\n');
  return report;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** The metrics of a report as a plain-text table (test and validation splits), with the confusion matrix of the test split. */
export function classifierTable(r: ClassifierReport): string {
  const rows: Array<[string, string, string]> = [
    ['examples', String(r.test.examples), String(r.valid.examples)],
    ['accuracy', pct(r.test.accuracy), pct(r.valid.accuracy)],
    ['macro-F1', pct(r.test.macroF1), pct(r.valid.macroF1)],
    ['balanced accuracy', pct(r.test.balancedAccuracy), pct(r.valid.balancedAccuracy)],
    ...r.labels.map((l, c): [string, string, string] => [`recall ${l}`, pct(r.test.recall[c]!), pct(r.valid.recall[c]!)]),
    ...r.labels.map((l, c): [string, string, string] => [`AUPRC ${l}`, r.test.auprc[c]!.toFixed(3), r.valid.auprc[c]!.toFixed(3)]),
  ];
  const w = Math.max(...rows.map((x) => x[0].length));
  const lines = [`${'metric'.padEnd(w)}  ${'test'.padStart(8)}  ${'valid'.padStart(8)}`, ...rows.map(([k, a, b]) => `${k.padEnd(w)}  ${a.padStart(8)}  ${b.padStart(8)}`)];
  const cw = Math.max(...r.labels.map((l) => l.length), ...r.test.confusion.flat().map((v) => String(v).length)) + 2;
  lines.push('', `confusion (test; rows true, columns predicted)${r.threshold !== null ? `, threshold ${r.threshold.toFixed(3)} on ${r.minority}` : ''}:`);
  lines.push(' '.repeat(w) + r.labels.map((l) => l.padStart(cw)).join(''));
  r.test.confusion.forEach((row, c) => lines.push(r.labels[c]!.padEnd(w) + row.map((v) => String(v).padStart(cw)).join('')));
  return lines.join('\n');
}

/** Texts to classify: the arguments, or the non-blank lines of `--file` (UTF-8). */
export async function textsToClassify(args: string[], file: string | undefined): Promise<string[]> {
  if (file && args.length) throw new UsageError('Give texts as arguments or --file FILE, not both.');
  if (!file) {
    if (args.length === 0) throw new UsageError('Nothing to classify: give one or more texts, or --file FILE with one text per line.');
    return args;
  }
  let raw: string;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(await fs.readFile(file));
  } catch {
    throw new UsageError(`Cannot read --file ${file}; expected a UTF-8 text file with one text per line.`);
  }
  const lines = raw.split(/\r?\n/).filter((l) => l.trim());
  if (lines.length === 0) throw new UsageError(`--file ${file} has no text (every line is blank).`);
  return lines;
}
