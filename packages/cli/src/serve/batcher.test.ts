import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DynamicBatcher } from './batcher.js';
import type { WorkerPool } from './pool.js';
import type { Tensor } from './tensors.js';

/** A pool with one worker whose runs finish when the test says so; out = in * 2 row by row. */
function fakePool() {
  const runs: Array<{ feeds: Record<string, Tensor>; finish: () => void }> = [];
  let busy = 0;
  const waiters: Array<() => void> = [];
  const pool = {
    get busy() {
      return busy;
    },
    idle: () => busy === 0,
    whenIdle: () => (busy === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    run(_model: string, feeds: Record<string, Tensor>) {
      busy++;
      return new Promise<Record<string, Tensor>>((resolve) => {
        runs.push({
          feeds,
          finish: () => {
            busy--;
            const x = feeds.x!;
            resolve({ y: { dtype: 'float32', dims: x.dims, data: (x.data as Float32Array).map((v) => v * 2) } });
            waiters.splice(0).forEach((w) => w());
          },
        });
      });
    },
  };
  return { pool: pool as unknown as WorkerPool, runs };
}

const row = (...v: number[]): Record<string, Tensor> => ({ x: { dtype: 'float32', dims: [1, v.length], data: Float32Array.from(v) } });
const tick = () => new Promise((r) => setTimeout(r, 5));

test('an idle pool runs a request at once; requests arriving while it is busy form one batch, split back per request', async () => {
  const { pool, runs } = fakePool();
  const b = new DynamicBatcher('m', pool, { maxBatch: 8, maxDelayMs: 1000 });
  const first = b.submit(row(1, 1));
  await tick();
  assert.equal(runs.length, 1, 'no delay when nothing is running');
  const rest = [b.submit(row(2, 2)), b.submit(row(3, 3)), b.submit(row(4, 4))];
  await tick();
  assert.equal(runs.length, 1, 'the others wait while the worker is busy');
  runs[0]!.finish();
  assert.deepEqual(Array.from((await first).y!.data), [2, 2]);
  await tick();
  assert.equal(runs.length, 2);
  assert.deepEqual(runs[1]!.feeds.x!.dims, [3, 2], 'three requests, one run');
  runs[1]!.finish();
  const outs = await Promise.all(rest);
  assert.deepEqual(outs.map((o) => Array.from(o.y!.data)), [[4, 4], [6, 6], [8, 8]]);
});

test('batches hold at most maxBatch rows, and requests of different shapes are not mixed', async () => {
  const { pool, runs } = fakePool();
  const b = new DynamicBatcher('m', pool, { maxBatch: 2, maxDelayMs: 1000 });
  const blocker = b.submit(row(0));
  await tick();
  const pending = [b.submit(row(1)), b.submit(row(2, 2)), b.submit(row(3)), b.submit(row(4))];
  runs[0]!.finish();
  await blocker;
  await tick();
  assert.deepEqual(runs[1]!.feeds.x!.dims, [2, 1], 'rows 1 and 3 (same shape), capped at 2');
  runs[1]!.finish();
  await tick();
  assert.deepEqual(runs[2]!.feeds.x!.dims, [1, 2], 'the [1, 2] request goes alone');
  runs[2]!.finish();
  await tick();
  assert.deepEqual(runs[3]!.feeds.x!.dims, [1, 1]);
  runs[3]!.finish();
  const outs = await Promise.all(pending);
  assert.deepEqual(outs.map((o) => Array.from(o.y!.data)), [[2], [4, 4], [6], [8]]);
});

test('maxBatch 1 turns batching off: one run per request', async () => {
  const { pool, runs } = fakePool();
  const b = new DynamicBatcher('m', pool, { maxBatch: 1, maxDelayMs: 1000 });
  const all = [b.submit(row(1)), b.submit(row(2)), b.submit(row(3))];
  for (let i = 0; i < 3; i++) {
    await tick();
    assert.deepEqual(runs[i]!.feeds.x!.dims, [1, 1]);
    runs[i]!.finish();
  }
  assert.deepEqual((await Promise.all(all)).map((o) => o.y!.data[0]), [2, 4, 6]);
});

test('requests that arrive in one event-loop turn on an idle pool leave as one batch, without waiting maxDelayMs', async () => {
  const { pool, runs } = fakePool();
  const b = new DynamicBatcher('m', pool, { maxBatch: 8, maxDelayMs: 1000 });
  const started = performance.now();
  const all = [b.submit(row(1, 1)), b.submit(row(2, 2)), b.submit(row(3, 3))];
  await new Promise((r) => setImmediate(r));
  assert.equal(runs.length, 1, 'one run for the three requests of one turn');
  assert.deepEqual(runs[0]!.feeds.x!.dims, [3, 2]);
  runs[0]!.finish();
  const out = await Promise.all(all);
  assert.deepEqual(out.map((o) => Array.from(o.y!.data as Float32Array)), [[2, 2], [4, 4], [6, 6]]);
  assert.ok(performance.now() - started < 500, 'did not wait for maxDelayMs');
});
