#!/usr/bin/env node
// Start-up: time to first output of `vaekit --version` and `vaekit generate BUNDLE --n 1`, for this
// checkout ("after") and an earlier commit ("before", default 22ee0c4: the last commit before the CLI
// loaded its commands and engines lazily, 9826b71), in fresh processes, interleaved round by round,
// median of STARTUP_ROUNDS (default 7). Time to first output = spawn to the first byte on stdout.
// And the first token in the browser demo: each tree's `vaekit serve-demo BUNDLE` in Debian's Chromium
// (playwright-core, a fresh browser context per round, so nothing is cached), on wasm, from the start
// of the navigation (`?backend=wasm&autoload=1`) to the first generated sentence on the page
// (the first `#samples li` with text, i.e. the first token; the before page generates only when asked, so its Sample button is clicked as soon
// as it has loaded the bundle), median of STARTUP_BROWSER_ROUNDS (default 3; 0 skips the browser row).
//
//   npm run build && npm run bench -- startup
//   STARTUP_BEFORE=<commit> STARTUP_ROUNDS=11 npm run bench -- startup
//
// The before tree is a git worktree in bench/out/startup-before/ built with `tsc -b`, its node_modules
// linking this checkout's (its own @vaekit/* packages). The bundle is the generation benchmark's
// SOTU bundle (bench/lib/sotu-bundle.mjs; trained on first use). Writes bench/results/startup.json.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchChromium } from '../test/fixtures/chromium.mjs';
import { sotuBundle } from './lib/sotu-bundle.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const BEFORE = process.env.STARTUP_BEFORE ?? '22ee0c4';
const ROUNDS = Number(process.env.STARTUP_ROUNDS ?? 7);
const BROWSER_ROUNDS = Number(process.env.STARTUP_BROWSER_ROUNDS ?? 3);
const loadStart = os.loadavg();

const git = (...a) => spawnSync('git', a, { cwd: root, encoding: 'utf8' });

/** A built worktree of `commit` whose packages resolve to its own sources. */
async function beforeTree(commit) {
  const dir = path.join(root, 'bench/out/startup-before');
  const stamp = path.join(dir, '.built');
  if (existsSync(stamp) && (await fs.readFile(stamp, 'utf8')) === commit) return dir;
  git('worktree', 'remove', '--force', dir);
  await fs.rm(dir, { recursive: true, force: true });
  const add = git('worktree', 'add', '--detach', '--force', dir, commit);
  if (add.status !== 0) throw new Error(`git worktree add failed: ${add.stderr}`);
  const nm = path.join(dir, 'node_modules');
  await fs.mkdir(path.join(nm, '@vaekit'), { recursive: true });
  for (const e of await fs.readdir(path.join(root, 'node_modules'))) {
    if (e !== '@vaekit') await fs.symlink(path.join(root, 'node_modules', e), path.join(nm, e));
  }
  for (const p of await fs.readdir(path.join(dir, 'packages'))) {
    if (p !== 'cli') await fs.symlink(`../../packages/${p}`, path.join(nm, '@vaekit', p));
  }
  console.error(`Building ${commit} in ${dir} (tsc -b)`);
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: dir, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error(`tsc -b failed in the before tree (${commit})`);
  const demo = spawnSync(process.execPath, [path.join(dir, 'packages/cli/scripts/build-demo.mjs')], { cwd: dir, stdio: 'inherit' });
  if (demo.status !== 0) throw new Error(`the demo page did not build in the before tree (${commit})`);
  await fs.writeFile(stamp, commit);
  return dir;
}

/** Starts `node cli serve-demo bundle --port 0`; resolves with `{ url, proc }`. */
function serveDemo(cli, bundle) {
  const proc = spawn(process.execPath, [cli, 'serve-demo', bundle, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const seen = (d) => {
      out += String(d);
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ url: m[1], proc });
    };
    proc.stdout.on('data', seen);
    proc.stderr.on('data', seen);
    proc.once('exit', (code) => reject(new Error(`serve-demo exited ${code}: ${out}`)));
  });
}

/** ms from the start of the navigation to the first generated sentence on the demo page, in a fresh context. */
async function demoFirstSentence(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const t0 = performance.now();
    await page.goto(`${url}?backend=wasm&autoload=1`);
    const first = () => [...document.querySelectorAll('#samples li')].some((li) => li.textContent.trim() !== '');
    await page.waitForFunction(() => [...document.querySelectorAll('#samples li')].some((li) => li.textContent.trim() !== '') || globalThis.vaekitDemo?.ready === true, null, { timeout: 300_000, polling: 5 });
    if (!(await page.evaluate(first))) await page.click('#sample');
    await page.waitForFunction(first, null, { timeout: 300_000, polling: 5 });
    return performance.now() - t0;
  } finally {
    await context.close();
  }
}

/** Spawns `node cli args`; resolves with ms to the first stdout byte and to exit. */
function timeRun(cli, args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.on('data', () => (first ??= performance.now() - t0));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ firstMs: first ?? Number.NaN, exitMs: performance.now() - t0 }) : reject(new Error(`${cli} ${args.join(' ')} exited ${code}`))));
  });
}

const made = await sotuBundle();
const trees = { before: path.join(await beforeTree(BEFORE), 'packages/cli/dist/main.js'), after: path.join(root, 'packages/cli/dist/main.js') };
const commands = { 'vaekit --version': ['--version'], 'vaekit generate BUNDLE --n 1': ['generate', made.bundleDir, '--n', '1'] };

const samples = {};
for (const cli of Object.values(trees)) for (const a of Object.values(commands)) await timeRun(cli, a); // warm the file cache
for (let r = 0; r < ROUNDS; r++) {
  for (const [cmd, a] of Object.entries(commands)) {
    for (const [tree, cli] of Object.entries(trees)) {
      const t = await timeRun(cli, a);
      (samples[`${cmd}|${tree}`] ??= []).push(t);
    }
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let browserRow;
if (BROWSER_ROUNDS > 0) {
  const servers = { before: await serveDemo(trees.before, made.bundleDir), after: await serveDemo(trees.after, made.bundleDir) };
  const browser = await launchChromium();
  const times = { before: [], after: [] };
  try {
    for (const tree of Object.keys(trees)) await demoFirstSentence(browser, servers[tree].url); // warm the file cache
    for (let r = 0; r < BROWSER_ROUNDS; r++) for (const tree of Object.keys(trees)) times[tree].push(await demoFirstSentence(browser, servers[tree].url));
  } finally {
    await browser.close();
    for (const s of Object.values(servers)) s.proc.kill();
  }
  browserRow = {
    command: 'browser demo (wasm): navigation to the first generated sentence',
    beforeFirstOutputMs: Math.round(median(times.before)),
    afterFirstOutputMs: Math.round(median(times.after)),
    rounds: BROWSER_ROUNDS,
  };
}
const rows = Object.keys(commands).map((cmd) => {
  const m = (tree, k) => Math.round(median(samples[`${cmd}|${tree}`].map((s) => s[k])));
  return {
    command: cmd,
    beforeFirstOutputMs: m('before', 'firstMs'),
    afterFirstOutputMs: m('after', 'firstMs'),
    beforeExitMs: m('before', 'exitMs'),
    afterExitMs: m('after', 'exitMs'),
  };
});
const commit = git('rev-parse', '--short', 'HEAD').stdout.trim();
console.log(`\nCLI start-up, median of ${ROUNDS} interleaved rounds (before = ${BEFORE}, after = ${commit})`);
console.log('command                          first output before / after   exit before / after (ms)');
for (const r of rows) console.log(`${r.command.padEnd(32)} ${String(r.beforeFirstOutputMs).padStart(8)} / ${String(r.afterFirstOutputMs).padEnd(8)}        ${r.beforeExitMs} / ${r.afterExitMs}`);
if (browserRow) console.log(`browser demo, first sentence (wasm) ${browserRow.beforeFirstOutputMs} / ${browserRow.afterFirstOutputMs} ms (median of ${BROWSER_ROUNDS})`);
const result = {
  benchmark: 'startup',
  command: 'node bench/startup.mjs',
  before: BEFORE,
  after: commit,
  rounds: ROUNDS,
  bundle: `bench/lib/sotu-bundle.mjs (V=10000, GRU 256, ${made.command})`,
  statistic: 'median over interleaved rounds of ms from spawn to the first stdout byte (first output) and to exit, fresh node processes',
  machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  load: `load average at start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, at end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (shared machine)`,
  rows: browserRow ? [...rows, browserRow] : rows,
};
console.log('\n' + JSON.stringify(result, null, 2));
const out = path.join(here, 'results', 'startup.json');
await fs.writeFile(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
await fs.rename(`${out}.tmp`, out);
