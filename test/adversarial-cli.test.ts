/**
 * `--adversarial` from the command line: bad input is one line and exit 2; a VAE-GAN run exports to an
 * ordinary image bundle whose manifest records the recipe and which holds no discriminator; an
 * adversarial text run likewise (no critic), and `vaekit eval --samples` reports its sample quality.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

const firstLine = (s: string) => s.trim().split('\n')[0]!;

test('bad adversarial input: exit 2 with one line naming the problem and what is accepted', () => {
  const out = path.join(tempDir(), 'run');
  const cases: Array<[string[], RegExp]> = [
    [['train', 'image', '--adversarial', 'gan', '--out', out], /--adversarial <mode>' argument 'gan' is invalid. Should be one of: vaegan/],
    [['train', 'image', '--adversarial', 'vaegan', '--adversarial-weight', '-1', '--out', out], /--adversarial-weight <w>' argument '-1' is invalid. Expected a number from 0/],
    [['train', 'image', '--adversarial', 'vaegan', '--gradient-penalty', '-1', '--out', out], /--gradient-penalty <gamma>' argument '-1' is invalid. Expected a number from 0/],
    [['train', 'image', '--gradient-penalty', '10', '--out', out], /--gradient-penalty applies to adversarial training only; add --adversarial vaegan/],
    [['train', 'image', '--adversarial', 'vaegan', '--prior-weight', 'x', '--out', out], /--prior-weight <w>' argument 'x' is invalid. Expected a number from 0/],
    [['train', 'image', '--prior-weight', '3', '--out', out], /--prior-weight applies to adversarial training only; add --adversarial vaegan/],
    [['train', 'image', '--no-encoder-fool', '--out', out], /--no-encoder-fool applies to adversarial training only; add --adversarial vaegan/],
    [['train', 'image', '--disc-lr', '0.001', '--out', out], /--disc-lr applies to adversarial training only; add --adversarial vaegan/],
    [['train', 'image', '--adversarial', 'vaegan', '--feature-weight', '0', '--pixel-weight', '0', '--out', out], /cannot both be 0/],
    [['train', 'image', '--resume', '--adversarial', 'vaegan', '--out', out], /--resume continues with the run's saved configuration; drop --adversarial/],
  ];
  for (const [args, pattern] of cases) {
    const r = vaekit(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(firstLine(r.stderr), pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.throws(() => readdirSync(out), 'nothing was written');
});

test('a VAE-GAN run exports to a plain image bundle: recipe in the manifest, no discriminator; eval refuses text options', () => {
  const dir = tempDir();
  const run = path.join(dir, 'run');
  vaekitOk(['train', 'image', '--adversarial', 'vaegan', '--adversarial-weight', '0.5', '--epochs', '1', '--limit', '128', '--batch-size', '64', '--hidden', '16', '--latent', '3', '--out', run]);
  const bundle = path.join(dir, 'bundle');
  vaekitOk(['export', run, bundle]);
  const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.equal(manifest.kind, 'image');
  assert.deepEqual(manifest.training.adversarial, { mode: 'vaegan', weight: 0.5, featureWeight: 5, pixelWeight: 1, discLearningRate: 2e-4, labelSmoothing: 0.1, balance: 0.3, gradientPenalty: 0 });
  assert.deepEqual(Object.keys(manifest.graphs).sort(), ['decoder', 'encoder']);
  assert.ok(!readdirSync(bundle).some((f) => /discriminator/.test(f)), readdirSync(bundle).join(', '));
  const r = vaekit(['eval', run, '--k', '5']);
  assert.equal(r.code, 2);
  assert.match(firstLine(r.stderr), /--k applies to text runs; .* is an image run/);
});

test('text: bad adversarial input is one line and exit 2', () => {
  const out = path.join(tempDir(), 'run');
  const cases: Array<[string[], RegExp]> = [
    [['train', 'text', '--adversarial', 'vaegan', '--out', out], /--adversarial <mode>' argument 'vaegan' is invalid. Should be one of: latent/],
    [['train', 'text', '--adversarial', 'latent', '--adversarial-weight', '-1', '--out', out], /--adversarial-weight <w>' argument '-1' is invalid. Expected a number from 0/],
    [['train', 'text', '--critic-lr', '0.001', '--out', out], /--critic-lr applies to adversarial training only; add --adversarial latent/],
    [['train', 'text', '--model', 'lm', '--adversarial', 'latent', '--out', out], /--adversarial latent regularises the encoder of a sentence VAE; it needs --model vae/],
    [['train', 'text', '--resume', '--adversarial', 'latent', '--out', out], /--resume continues with the run's saved configuration; drop --adversarial/],
    [['train', 'translate', '--adversarial', 'latent', '--out', out], /unknown option '--adversarial'/],
    [['train', 'classify', '--adversarial-weight', '1', '--out', out], /unknown option '--adversarial-weight'/],
  ];
  for (const [args, pattern] of cases) {
    const r = vaekit(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(firstLine(r.stderr), pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.throws(() => readdirSync(out), 'nothing was written');
});

test('text --adversarial latent exports to a plain text bundle (recipe in the manifest, no critic); eval --samples reports sample quality', () => {
  const dir = tempDir();
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  let state = 11;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648);
  const corpus = path.join(dir, 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 200 }, () => Array.from({ length: 3 + (next() % 5) }, () => words[next() % words.length]).join(' ')).join('\n') + '\n');
  const COMMON = ['--data', corpus, '--epochs', '1', '--latent', '3', '--embedding', '8', '--hidden', '8', '--batch-size', '64', '--k', '0', '--max-length', '8', '--eval-limit', '20'];
  const run = path.join(dir, 'run');
  const lm = path.join(dir, 'lm');
  const r = vaekitOk(['train', 'text', ...COMMON, '--adversarial', 'latent', '--adversarial-weight', '2', '--beta', '0', '--critic-hidden', '8', '--out', run]);
  assert.match(r.stderr, /critic loss \d+\.\d+ \(updated 100%\), fool \d+\.\d+/);
  vaekitOk(['train', 'text', ...COMMON, '--model', 'lm', '--out', lm]);
  const bundle = path.join(dir, 'bundle');
  vaekitOk(['export', run, bundle]);
  const manifest = JSON.parse(readFileSync(path.join(bundle, 'manifest.json'), 'utf8'));
  assert.equal(manifest.kind, 'text');
  assert.deepEqual(manifest.training.adversarial, { mode: 'latent', weight: 2, criticLearningRate: 5e-4, criticHidden: 8 });
  assert.ok(!readdirSync(bundle).some((f) => /critic/.test(f)), readdirSync(bundle).join(', '));
  const e = vaekitOk(['eval', run, '--k', '0', '--baseline', lm, '--samples', '30', '--reverse-epochs', '1', '--examples', '0', '--json']);
  const q = JSON.parse(e.stdout).sampleQuality;
  assert.equal(q.samples, 30);
  for (const k of ['forwardPpl', 'reversePpl', 'distinct1', 'distinct2', 'selfBleu']) assert.ok(Number.isFinite(q[k]), `${k}: ${q[k]}`);
  assert.deepEqual(JSON.parse(readFileSync(path.join(run, 'eval.json'), 'utf8')).sampleQuality, q);
  const bad = vaekit(['eval', run, '--reverse-epochs', '1']);
  assert.equal(bad.code, 2);
  assert.match(firstLine(bad.stderr), /--reverse-epochs applies to the sample-quality metrics of a text run; add --samples N/);
});
