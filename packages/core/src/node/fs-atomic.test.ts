import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { removeStaleTemps, tempSibling, writeFileAtomic, writeFolderAtomic } from './fs-atomic.js';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'vaekit-core-'));
}

/** The pid of a process that has exited (so certainly not running). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('removeStaleTemps removes temporaries of dead writers only, never of a live one', async () => {
  const dir = await tempDir();
  const dead = `.file.tmp-${deadPid()}-0`;
  const mine = path.basename(tempSibling(path.join(dir, 'file')));
  const other = `.file.tmp-${process.ppid}-3`; // our parent is alive
  for (const n of [dead, mine, other, 'file', 'plain.tmp']) await fs.writeFile(path.join(dir, n), 'x');
  assert.deepEqual(await removeStaleTemps(dir), [dead]);
  assert.deepEqual((await fs.readdir(dir)).sort(), [mine, other, 'file', 'plain.tmp'].sort());
  await fs.rm(dir, { recursive: true, force: true });
});

test('writeFileAtomic replaces a file and leaves no temporary behind', async () => {
  const dir = await tempDir();
  const file = path.join(dir, 'a.json');
  await writeFileAtomic(file, 'one');
  await writeFileAtomic(file, 'two');
  assert.equal(await fs.readFile(file, 'utf8'), 'two');
  assert.deepEqual(await fs.readdir(dir), ['a.json']);
  await fs.rm(dir, { recursive: true, force: true });
});

test('writeFolderAtomic writes nested files, replaces the old folder whole and cleans dead temporaries', async () => {
  const dir = await tempDir();
  const target = path.join(dir, 'bundle');
  await writeFolderAtomic(target, [{ path: 'a.txt', bytes: new TextEncoder().encode('old') }, { path: 'old-only.txt', bytes: new Uint8Array(1) }]);
  await fs.mkdir(path.join(dir, `bundle.tmp-${deadPid()}-1`));
  await writeFolderAtomic(target, [{ path: 'a.txt', bytes: new TextEncoder().encode('new') }, { path: 'sub/b.txt', bytes: new Uint8Array(2) }]);
  assert.equal(await fs.readFile(path.join(target, 'a.txt'), 'utf8'), 'new');
  assert.deepEqual((await fs.readdir(target)).sort(), ['a.txt', 'sub']);
  assert.deepEqual(await fs.readdir(dir), ['bundle']);
  await fs.rm(dir, { recursive: true, force: true });
});
