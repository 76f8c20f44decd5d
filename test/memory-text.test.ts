/**
 * Generating 10,000 sentences in a loop from one loaded text VAE does not grow the heap or the process
 * (ONNX Runtime tensors and decoder states are released each step). Uses the hand-made toy text
 * bundle of test/fixtures, so it needs no training. Bounds are generous; a leak of one decoder state
 * per sentence would exceed them.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadVae, type TextVae } from '@vaekit/runtime';
import { tempDir, MB, memoryAfterGc as usage } from './helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { writeToyTextBundle } from './fixtures/toy-text-bundle.mjs';


test('10,000 generated sentences do not grow the heap', { timeout: 600_000 }, async (t) => {
  const dir = path.join(tempDir(), 'toy');
  await writeToyTextBundle(dir);
  const vae = (await loadVae(dir, { kind: 'text' })) as TextVae;
  const batch = async (i: number) => vae.generate({ n: 10, strategy: 'sample', seed: i, maxTokens: 12 });
  for (let i = 0; i < 50; i++) await batch(i); // warm-up
  const before = usage();
  let sentences = 0;
  for (let i = 0; i < 1000; i++) sentences += (await batch(1000 + i)).length;
  const after = usage();
  await vae.dispose();
  assert.equal(sentences, 10_000);
  const heap = (after.heapUsed - before.heapUsed) / MB;
  const rss = (after.rss - before.rss) / MB;
  t.diagnostic(`heap ${heap.toFixed(1)} MB, RSS ${rss.toFixed(1)} MB over 10,000 sentences`);
  assert.ok(heap < 10, `heap grew by ${heap.toFixed(1)} MB (bound 10)`);
  assert.ok(rss < 80, `RSS grew by ${rss.toFixed(1)} MB (bound 80)`);
});
