#!/usr/bin/env node
// `npm run bench -- [name...]`: runs bench/<name>.mjs (all benchmarks when no name is given).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const all = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').map((f) => f.slice(0, -4));
const names = process.argv.slice(2);
for (const name of names) {
  if (!all.includes(name)) {
    console.error(`Unknown benchmark "${name}". Should be one of: ${all.join(', ')}.`);
    process.exit(2);
  }
}
for (const name of names.length ? names : all) {
  const r = spawnSync(process.execPath, [path.join(here, `${name}.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
