/**
 * The sentence VAE trainer never applies a NaN update: with NaN forced into its embedding weights in
 * the middle of a run, training stops at the next update with NonFiniteLossError and the newest
 * checkpoint stays the last good one (all weights finite); with `nonFinite: 'skip'` every bad update is
 * skipped and reported, and an epoch in which nothing could be applied stops the run.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { createRng } from '@vaekit/core';
import { initBackend } from './backend.js';
import { loadCheckpoint } from './checkpoint.js';
import { defaultTextConfig } from '@vaekit/core';
import { NonFiniteLossError } from './errors.js';
import { trainTextVae } from './train-text.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'vaekit-nonfinite-text-'));
let corpus: string;

before(async () => {
  await initBackend('wasm');
  const rng = createRng(4);
  const words = 'the cat dog sat ran on a mat hat big small red blue and saw it'.split(' ');
  corpus = path.join(tmp(), 'corpus.txt');
  writeFileSync(corpus, Array.from({ length: 300 }, () => Array.from({ length: 3 + rng.int(6) }, () => words[rng.int(words.length)]).join(' ')).join('\n') + '\n');
});

const config = () =>
  defaultTextConfig({ epochs: 3, latent: 4, embedding: 8, hidden: 8, batchSize: 64, seed: 3, data: { ...defaultTextConfig().data, source: corpus, minCount: 1, evalLimit: 20 } });

/** Fills every embedding matrix with NaN (what a diverged update would leave behind). */
function poison(): void {
  for (const v of Object.values(tf.engine().registeredVariables)) {
    if (v.trainable && /embeddings/.test(v.name)) v.assign(tf.fill(v.shape, Number.NaN));
  }
}

test('text: NaN weights stop training at the next update; the newest checkpoint is the last good one', async () => {
  const run = tmp();
  await assert.rejects(
    trainTextVae(config(), run, { onBatch: (b) => b.epoch === 2 && b.batch === 1 && poison() }),
    (e: Error) => e instanceof NonFiniteLossError && e.epoch === 2 && e.batch === 2 && /the last complete checkpoint \(epoch 1\) is kept/.test(e.message),
  );
  assert.equal(JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8')).epoch, 1);
  const ckpt = await loadCheckpoint(run);
  for (const model of [ckpt.encoder!, ckpt.decoder]) {
    for (const w of model.getWeights()) assert.ok(w.dataSync().every(Number.isFinite), `${w.name} is finite in the kept checkpoint`);
  }
  ckpt.encoder?.dispose();
  ckpt.decoder.dispose();
  tf.dispose(Object.values(ckpt.optimizerStates ?? {}).flatMap((ws) => ws.map((w) => w.tensor)));
});

test("text: nonFinite 'skip' skips and reports each bad update, and never saves a checkpoint that is not finite", async () => {
  const run = tmp();
  const notices: string[] = [];
  await assert.rejects(
    trainTextVae(config(), run, { onBatch: (b) => b.epoch === 2 && b.batch === 1 && poison(), onNotice: (m) => notices.push(m) }, { nonFinite: 'skip' }),
    (e: Error) => e instanceof NonFiniteLossError && /the held-out loss after epoch 2 is NaN; the last complete checkpoint \(epoch 1\) is kept/.test(e.message),
  );
  for (const b of [2, 3, 4, 5]) assert.ok(notices.some((n) => n.startsWith(`epoch 2, batch ${b}: update skipped`)), notices.join('\n'));
  assert.equal(JSON.parse(readFileSync(path.join(run, 'latest.json'), 'utf8')).epoch, 1);
});
