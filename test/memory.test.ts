/**
 * Memory stays flat in long-lived processes: loading and disposing a bundle many times does not grow
 * the process (ONNX Runtime sessions are released), and sampling 10,000 times from one loaded bundle
 * does not grow the JS heap. Bounds are generous (several times the measured noise) but far below what
 * a leak costs: keeping the 300 VAEs instead of disposing them grows RSS by about 150 MB for the small
 * bundle of the probe this was calibrated with, and more for the one here.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { loadVae } from '@vaekit/runtime';
import { trainedBundle, MB, memoryAfterGc as usage } from './helpers.js';


let bundleDir: string;
before(() => {
  ({ bundleDir } = trainedBundle('dense'));
});

test('300 load/dispose cycles do not grow the process (sessions are released)', async (t) => {
  for (let i = 0; i < 30; i++) await (await loadVae(bundleDir)).dispose(); // warm-up: allocator pools, code
  const before = usage();
  for (let i = 0; i < 300; i++) await (await loadVae(bundleDir)).dispose();
  const after = usage();
  const rss = (after.rss - before.rss) / MB;
  const heap = (after.heapUsed - before.heapUsed) / MB;
  t.diagnostic(`RSS ${rss.toFixed(1)} MB, heap ${heap.toFixed(1)} MB over 300 cycles`);
  assert.ok(rss < 60, `RSS grew by ${rss.toFixed(1)} MB (bound 60)`);
  assert.ok(heap < 10, `heap grew by ${heap.toFixed(1)} MB (bound 10)`);
});

test('10,000 samples in a loop do not grow the heap', async (t) => {
  const vae = await loadVae(bundleDir);
  for (let i = 0; i < 500; i++) await vae.sample(1, { seed: i });
  const before = usage();
  for (let i = 0; i < 10_000; i++) await vae.sample(1, { seed: i });
  const after = usage();
  await vae.dispose();
  const rss = (after.rss - before.rss) / MB;
  const heap = (after.heapUsed - before.heapUsed) / MB;
  t.diagnostic(`RSS ${rss.toFixed(1)} MB, heap ${heap.toFixed(1)} MB over 10,000 samples`);
  assert.ok(heap < 10, `heap grew by ${heap.toFixed(1)} MB (bound 10)`);
  assert.ok(rss < 50, `RSS grew by ${rss.toFixed(1)} MB (bound 50)`);
});
