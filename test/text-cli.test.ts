/** `vaekit train text` and `vaekit eval` end to end through the built CLI, on a small real-text file. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { tempDir, trainedBundle, vaekit, vaekitOk } from './helpers.js';

let dir = '';
let corpus = '';
const small = ['--max-length', '12', '--min-count', '1', '--embedding', '16', '--hidden', '24', '--latent', '4', '--batch-size', '16', '--epochs', '2', '--k', '10'];

before(() => {
  dir = tempDir('vaekit-text-cli-');
  corpus = path.join(dir, 'sentences.txt');
  const lines: string[] = [];
  const who = ['the president', 'congress', 'the people', 'our nation', 'the army'];
  const what = ['will act', 'has spoken', 'must decide', 'can grow', 'shall rise'];
  for (let i = 0; i < 200; i++) lines.push(`${who[i % 5]} ${what[(i * 3) % 5]} ${i % 2 ? 'today' : 'again'}.`);
  writeFileSync(corpus, lines.join('\n') + '\n');
});

describe('vaekit train text / eval', () => {
  test('trains a VAE and a baseline, and eval reports both with samples', () => {
    const vae = path.join(dir, 'vae');
    const lm = path.join(dir, 'lm');
    const trained = JSON.parse(vaekitOk(['train', 'text', '--data', corpus, ...small, '--out', vae, '--json']).stdout);
    assert.equal(trained.epochs.length, 2);
    assert.ok(trained.test.metrics.iwNll > 0);
    for (const f of ['config.json', 'tokenizer.json', 'metrics.jsonl', 'latest.json', 'eval.json']) assert.ok(existsSync(path.join(vae, f)), f);
    const tokenizer = JSON.parse(readFileSync(path.join(vae, 'tokenizer.json'), 'utf8'));
    assert.equal(tokenizer.model.type, 'WordLevel');
    vaekitOk(['train', 'text', '--data', corpus, ...small, '--model', 'lm', '--out', lm]);

    const report = JSON.parse(vaekitOk(['eval', vae, '--baseline', lm, '--k', '20', '--examples', '2', '--json']).stdout);
    assert.equal(report.vae.metrics.k, 20);
    assert.ok(report.vae.metrics.iwNll <= report.vae.metrics.elbo + 1e-9);
    assert.equal(report.baseline.metrics.pplBound, 'exact');
    assert.equal(report.vae.qualitative.priorGreedy.length, 2);
    const table = vaekitOk(['eval', vae, '--baseline', lm, '--k', '5', '--data', corpus, '--limit', '30']);
    assert.match(table.stdout, /IW-NLL \(K=5\)/);
    assert.match(table.stdout, /LM baseline/);
    assert.match(table.stdout, /Reconstructions/);
    assert.match(table.stdout, /\(30 sentences\)/);
  });

  test('bad input exits 2 with one line naming the problem and leaves no run folder', () => {
    const out = path.join(dir, 'never');
    const cases: Array<[string[], RegExp]> = [
      [['train', 'text', '--data', path.join(dir, 'missing.txt'), '--out', out], /Text file not found/],
      [['train', 'text', '--data', dir, '--out', out], /is a folder/],
      [['train', 'text', '--data', corpus, '--cell', 'rnn', '--out', out], /Should be one of: gru, lstm/],
      [['train', 'text', '--data', corpus, '--aggressive', 'sometimes', '--out', out], /auto, off, or a number of epochs/],
      [['train', 'text', '--data', corpus, '--anneal', 'cosine', '--out', out], /none, linear, logistic, cyclical/],
      [['train', 'text', '--data', corpus, '--word-dropout', '1.5', '--out', out], /from 0 to 0.99/],
      [['train', 'text', '--data', corpus, '--max-length', '1', '--batch-size', '512', '--out', out], /fewer than one batch|too few/],
      [['eval', path.join(dir, 'nope')], /Run folder not found/],
    ];
    for (const [args, message] of cases) {
      const r = vaekit(args);
      assert.equal(r.code, 2, `vaekit ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.ok(!existsSync(out), `vaekit ${args.join(' ')} left ${out} behind`);
    }
    const binary = path.join(dir, 'binary.txt');
    writeFileSync(binary, Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x10]));
    const r = vaekit(['train', 'text', '--data', binary, '--out', out]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not UTF-8 text/);
    const image = trainedBundle('dense').runDir;
    // Image runs are evaluated with their own metrics (docs/adversarial.md); text options are refused.
    const e = vaekit(['eval', image, '--examples', '3']);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /--examples applies to text runs; .* is an image run/);
  });

  test('--resume continues a text run to the requested epoch', () => {
    const run = path.join(dir, 'resume');
    vaekitOk(['train', 'text', '--data', corpus, ...small, '--epochs', '1', '--k', '0', '--out', run]);
    const r = JSON.parse(vaekitOk(['train', 'text', '--resume', '--epochs', '2', '--k', '0', '--out', run, '--json']).stdout);
    assert.deepEqual(r.epochs.map((e: { epoch: number }) => e.epoch), [1, 2]);
  });
});
