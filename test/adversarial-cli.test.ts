/**
 * `--adversarial` from the command line: bad input is one line and exit 2; a VAE-GAN run exports to an
 * ordinary image bundle whose manifest records the recipe and which holds no discriminator.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

const firstLine = (s: string) => s.trim().split('\n')[0]!;

test('bad adversarial input: exit 2 with one line naming the problem and what is accepted', () => {
  const out = path.join(tempDir(), 'run');
  const cases: Array<[string[], RegExp]> = [
    [['train', 'image', '--adversarial', 'gan', '--out', out], /--adversarial <mode>' argument 'gan' is invalid. Should be one of: vaegan/],
    [['train', 'image', '--adversarial', 'vaegan', '--adversarial-weight', '-1', '--out', out], /--adversarial-weight <w>' argument '-1' is invalid. Expected a number from 0/],
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
  assert.deepEqual(manifest.training.adversarial, { mode: 'vaegan', weight: 0.5, featureWeight: 1, pixelWeight: 1, discLearningRate: 2e-4, labelSmoothing: 0.1, balance: 0.3 });
  assert.deepEqual(Object.keys(manifest.graphs).sort(), ['decoder', 'encoder']);
  assert.ok(!readdirSync(bundle).some((f) => /discriminator/.test(f)), readdirSync(bundle).join(', '));
  const r = vaekit(['eval', run, '--k', '5']);
  assert.equal(r.code, 2);
  assert.match(firstLine(r.stderr), /--k applies to text runs; .* is an image run/);
});
