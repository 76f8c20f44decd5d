/**
 * The kind modules and the checkpoint module import each other's pieces (a kind loads checkpoints, a
 * checkpoint accepts the registered kinds' configurations): whichever of them a program imports first,
 * it loads, and the loop then finds the built-in kinds. Each case runs in a fresh process, since the
 * module cache would hide an import-order failure (an import cycle through a kind's module threw
 * "Cannot access 'textKind' before initialization").
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

const src = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

// test/dependency-graph.test.ts checks every package for import cycles statically; this checks the effect.
for (const first of ['kinds/text.ts', 'checkpoint.ts']) {
  test(`importing ${first} first loads, and the loop finds the built-in kinds`, () => {
    const script = `await import(${JSON.stringify(path.join(src, first))});
await import(${JSON.stringify(path.join(src, 'loop.ts'))});
const { trainingKinds } = await import(${JSON.stringify(path.join(src, 'kinds/registry.ts'))});
console.log(JSON.stringify(trainingKinds()));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const kinds = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    for (const k of ['image', 'text', 'classifier']) assert.ok(kinds.includes(k), `${k} missing from ${kinds.join(', ')}`);
  });
}
