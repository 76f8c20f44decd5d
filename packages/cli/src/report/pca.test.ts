import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pca2 } from './pca.js';

describe('pca2', () => {
  it('finds the directions of largest variance, ordered, with their share of the variance', () => {
    // Points spread 10x more along (1, 1, 0)/√2 than along (1, -1, 0)/√2, none along z.
    const rows: number[] = [];
    for (let i = -5; i <= 5; i++) for (const j of [-1, 1]) rows.push(i + j * 0.1 * 5, i - j * 0.1 * 5, 0);
    const { points, explained } = pca2(Float32Array.from(rows), rows.length / 3, 3);
    assert.equal(points.length, 22);
    assert.ok(explained[0] > 0.9 && explained[0] < 1, `first share ${explained[0]}`);
    assert.ok(Math.abs(explained[0] + explained[1] - 1) < 1e-6, 'two axes hold all the variance of planar data');
    // First coordinate: the position along (1, 1) times √2; second: ±0.5·√2.
    points.forEach(([x, y], k) => {
      const i = Math.floor(k / 2) - 5;
      assert.ok(Math.abs(Math.abs(x) - Math.abs(i) * Math.SQRT2) < 1e-4, `point ${k}: x ${x}`);
      assert.ok(Math.abs(Math.abs(y) - 0.5 * Math.SQRT2) < 1e-4, `point ${k}: y ${y}`);
    });
  });

  it('is deterministic in sign and handles one dimension and no rows', () => {
    const a = pca2(Float32Array.from([1, 2, 3, 4]), 4, 1);
    assert.deepEqual(a.points.map((p) => p[1]), [0, 0, 0, 0]);
    assert.deepEqual(a.points.map((p) => p[0]), [-1.5, -0.5, 0.5, 1.5]);
    assert.deepEqual(pca2(new Float32Array(0), 0, 3), { points: [], explained: [0, 0] });
  });
});
