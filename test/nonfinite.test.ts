/**
 * NaN and infinite losses during `vaekit train image`: training stops before the bad update with a clear
 * message (exit 1) and the last good checkpoint stays in charge, or, with --skip-nonfinite, bad batches
 * are skipped and named. Divergence is made real and deterministic by raising the saved learning rate
 * of a trained run to 10 (Adam's first steps then blow the weights up) and resuming it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

const TRAIN = ['train', 'image', '--limit', '256', '--batch-size', '64', '--hidden', '16', '--latent', '3', '--seed', '7'];

/** A run with one good epoch whose saved learning rate is then raised to 10. */
function divergingRun(): { run: string; snapshot: () => string[] } {
  const run = path.join(tempDir(), 'run');
  vaekitOk([...TRAIN, '--epochs', '1', '--out', run]);
  const configFile = path.join(run, 'config.json');
  writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), learningRate: 10 }));
  const ckpt = path.join(run, 'checkpoints', 'epoch-0001');
  const snapshot = () =>
    ['encoder/weights.bin', 'decoder/weights.bin', 'optimizer.bin', 'state.json', '../../latest.json', '../../metrics.jsonl'].map((f) =>
      readFileSync(path.join(ckpt, f)).toString('base64'),
    );
  return { run, snapshot };
}

test('a NaN loss stops training before the bad update; the last good checkpoint stays and still exports', () => {
  const { run, snapshot } = divergingRun();
  const before = snapshot();
  const r = vaekit(['train', 'image', '--resume', '--epochs', '3', '--out', run]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /vaekit: Training stopped: the loss is NaN at epoch 2, batch 2 of 4; the last complete checkpoint \(epoch 1\) is kept\. Lower the learning rate, or skip such batches \(vaekit: --skip-nonfinite\)\./);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.deepEqual(snapshot(), before, 'checkpoint, pointer and metrics untouched');
  assert.deepEqual(readdirSync(path.join(run, 'checkpoints')), ['epoch-0001']);
  vaekitOk(['export', run, path.join(path.dirname(run), 'bundle')]);
});

test('--skip-nonfinite skips the bad batches, names them, and stops when nothing finite is left', () => {
  const { run, snapshot } = divergingRun();
  const before = snapshot();
  const r = vaekit(['train', 'image', '--resume', '--epochs', '3', '--skip-nonfinite', '--out', run]);
  assert.equal(r.code, 1, r.stderr);
  for (const b of [2, 3, 4]) assert.match(r.stderr, new RegExp(`epoch 2, batch ${b}: skipped \\(loss NaN, or a gradient, is not finite\\)`));
  assert.match(r.stderr, /Training stopped: .*the last complete checkpoint \(epoch 1\) is kept/);
  assert.deepEqual(snapshot(), before);
});

test('divergence in the first epoch of a fresh run leaves no run folder behind', () => {
  const run = path.join(tempDir(), 'run');
  const r = vaekit([...TRAIN, '--epochs', '2', '--lr', '10', '--out', run]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Training stopped: the loss is (NaN|Infinity) at epoch 1, batch \d of 4; no checkpoint was written yet/);
  assert.ok(!existsSync(run));
});
