/**
 * The path a user walks, outside the monorepo: every workspace package is packed with `npm pack`, the
 * tarballs are installed into a fresh project in the system's temp folder (from the npm cache where
 * possible; `ONNXRUNTIME_NODE_INSTALL=skip` so onnxruntime-node downloads nothing), and the guides'
 * marked code is run as written:
 *
 * - docs/guide-node-app.md: `npx vaekit train text` / `npx vaekit export` (the CLI's bin from its
 *   tarball), a Node ESM app that loads the bundle and generates, and a TypeScript app that
 *   type-checks against the packages with `tsc` (`skipLibCheck: false`);
 * - docs/guide-web-app.md: the page bundled with esbuild and with Vite (production build), run in
 *   Chromium on `wasm` with no configuration; without the `.wasm` the error says what to set.
 *
 * Blocks marked `<!-- test: file NAME -->` are written to NAME, blocks marked `<!-- test: run -->` run
 * with bash in the project; the guides' `npm install` lines are replaced by installing the tarballs.
 * Under CI the test fails, rather than skips, when Chromium is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from './helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { CHROMIUM_PATH, HAVE_CHROMIUM, requireChromium } from './fixtures/chromium.mjs';


interface Block {
  kind: 'file' | 'run';
  name?: string;
  code: string;
}

/** The marked code blocks of a guide, in order. */
export function guideBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const re = /<!-- test: (?:file (\S+)|run) -->\n```[^\n]*\n([\s\S]*?)\n```/g;
  for (const m of markdown.matchAll(re)) blocks.push(m[1] ? { kind: 'file', name: m[1], code: m[2]! + '\n' } : { kind: 'run', code: m[2]! });
  return blocks;
}

const guide = (name: string) => guideBlocks(readFileSync(path.join(ROOT, 'docs', name), 'utf8'));

/** Versions the monorepo installed, so the app's install is served by the same npm cache. */
const installed = (pkg: string) => (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = {}): { code: number; out: string; stdout: string } {
  const r = spawnSync('bash', ['-c', command], {
    cwd,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, CI: process.env.CI ?? '', ONNXRUNTIME_NODE_INSTALL: 'skip', VAEKIT_SKIP_NATIVE: '1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...env },
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

/** Runs a command, fails with its output unless it exits 0, returns its stdout. */
function shOk(command: string, cwd: string, env?: NodeJS.ProcessEnv): string {
  const r = sh(command, cwd, env);
  assert.equal(r.code, 0, `${command} exited ${r.code}:\n${r.out.slice(-4000)}`);
  return r.stdout;
}

function writeBlocks(blocks: Block[], app: string): void {
  for (const b of blocks.filter((b) => b.kind === 'file')) {
    mkdirSync(path.dirname(path.join(app, b.name!)), { recursive: true });
    writeFileSync(path.join(app, b.name!), b.code);
  }
}

/** A static file server for the web app (the guide leaves the choice of server to the reader). */
function serve(dir: string): Promise<{ url: string; close: () => void }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = path.join(dir, pathname.endsWith('/') ? `${pathname}index.html` : pathname);
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      return res.end('not found');
    }
    res.setHeader('content-type', types[path.extname(file)] ?? 'application/octet-stream');
    res.end(readFileSync(file));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.close() });
    }),
  );
}

describe('packed packages installed into a fresh project run the guides', { timeout: 420_000 }, () => {
  let work: string;
  let app: string;
  const tarballs: Record<string, string> = {};

  before(() => {
    work = mkdtempSync(path.join(tmpdir(), 'vaekit-pack-'));
    const workspaces = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    for (const ws of workspaces) {
      const out = shOk(`npm pack --ignore-scripts --json --pack-destination ${JSON.stringify(work)}`, path.join(ROOT, ws));
      const [info] = JSON.parse(out) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
      tarballs[info!.name] = path.join(work, info!.filename);
      const files = info!.files.map((f) => f.path);
      for (const need of ['package.json', 'README.md', 'LICENSE']) assert.ok(files.includes(need), `${info!.name} ships ${need}`);
      assert.deepEqual(files.filter((f) => /\.test\.ts$/.test(f)), [], `${info!.name} ships no tests`);
    }
    app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'my-app', private: true, type: 'module' }, null, 2));
    // The guides' `npm install @vaekit/runtime onnxruntime-node` etc., with the tarballs for the
    // unpublished packages; --prefer-offline serves the rest from the npm cache.
    const deps = [
      ...Object.values(tarballs),
      `onnxruntime-node@${installed('onnxruntime-node')}`,
      `onnxruntime-web@${installed('onnxruntime-web')}`,
      `esbuild@${installed('esbuild')}`,
      `vite@${installed('vite')}`,
      `typescript@${installed('typescript')}`,
      `@types/node@${installed('@types/node')}`,
    ];
    shOk(`npm install --prefer-offline --no-audit --no-fund --loglevel=error ${deps.map((d) => JSON.stringify(d)).join(' ')}`, app);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs every package with its metadata, and source maps that resolve to shipped sources', () => {
    for (const [name] of Object.entries(tarballs)) {
      const dir = path.join(app, 'node_modules', ...name.split('/'));
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      assert.equal(pkg.license, 'MIT', name);
      assert.equal(pkg.engines?.node, '>=20', name);
      assert.match(pkg.repository?.directory ?? '', /^packages\//, name);
      const maps = readdirSync(path.join(dir, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.map') && !f.startsWith('demo'));
      assert.ok(maps.length > 0, `${name} has source maps`);
      for (const m of maps) {
        const map = JSON.parse(readFileSync(path.join(dir, 'dist', m), 'utf8')) as { sources: string[] };
        for (const s of map.sources) assert.ok(existsSync(path.resolve(path.dirname(path.join(dir, 'dist', m)), s)), `${name}: ${m} points at ${s}, which is not shipped (a stale dist file? rebuild from a clean dist)`);
      }
    }
    const runtime = JSON.parse(readFileSync(path.join(app, 'node_modules/@vaekit/runtime/package.json'), 'utf8'));
    assert.deepEqual(runtime.peerDependenciesMeta, { 'onnxruntime-node': { optional: true }, 'onnxruntime-web': { optional: true } });
    assert.equal(runtime.dependencies?.['onnxruntime-node'], undefined, 'a browser app does not install onnxruntime-node');
  });

  it('docs/guide-node-app.md: the CLI trains and exports, the Node app generates, the TypeScript app type-checks', () => {
    const words = 'the a cat dog sat on mat ran fast slow big small red blue house tree saw heard'.split(' ');
    let s = 1;
    const rnd = (n: number) => ((s = (s * 1103515245 + 12345) % 2147483648), s % n);
    const lines = Array.from({ length: 300 }, () => Array.from({ length: 3 + rnd(6) }, () => words[rnd(words.length)]).join(' '));
    writeFileSync(path.join(app, 'corpus.txt'), lines.join('\n') + '\n');
    const blocks = guide('guide-node-app.md');
    assert.deepEqual(blocks.map((b) => b.name ?? b.kind), ['run', 'app.mjs', 'tsconfig.json', 'app.ts']);
    for (const b of blocks.filter((b) => b.kind === 'run')) shOk(b.code, app);
    assert.ok(existsSync(path.join(app, 'bundle', 'manifest.json')), 'npx vaekit export wrote the bundle');
    writeBlocks(blocks, app);

    const out = shOk('node app.mjs', app).replace(/\n$/, '').split('\n');
    const summary = JSON.parse(out.at(-1)!) as { backend: string; latent: number; generated: number; reconstruction: string };
    assert.deepEqual([summary.backend, summary.latent, summary.generated], ['cpu', 4, 3]);
    assert.equal(typeof summary.reconstruction, 'string');
    assert.equal(out.length, 4, 'three sentences, then the summary');

    shOk('npx tsc -p tsconfig.json', app);
    // The check is real: a wrong backend name is a type error.
    writeFileSync(path.join(app, 'bad.ts'), "import { loadVae } from '@vaekit/runtime';\nawait loadVae('bundle', { backend: 'gpu' });\nexport {};\n");
    const bad = sh('npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 --types node bad.ts', app);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /bad\.ts\(2,\d+\): error TS\d+:[\s\S]*'"gpu"' is not assignable/);

    // A Node app without onnxruntime-node is told what to install.
    const moved = path.join(app, 'node_modules', 'onnxruntime-node-away');
    cpSync(path.join(app, 'node_modules', 'onnxruntime-node', 'package.json'), path.join(work, 'ort-node-package.json'));
    shOk(`mv node_modules/onnxruntime-node ${JSON.stringify(moved)}`, app);
    try {
      const r = sh('node app.mjs', app);
      assert.notEqual(r.code, 0);
      assert.match(r.out, /BackendUnavailableError: The cpu backend needs onnxruntime-node, which is not installed\. Install it with: npm install onnxruntime-node/);
    } finally {
      shOk(`mv ${JSON.stringify(moved)} node_modules/onnxruntime-node`, app);
    }
  });

  it('Chromium is installed (required under CI)', (t) => requireChromium(t, 'the web app test is'));

  it('docs/guide-web-app.md: the esbuild and Vite pages generate on wasm in Chromium; without the .wasm it says what to set', async (t) => {
    if (!HAVE_CHROMIUM) return t.skip('no Chromium');
    assert.ok(existsSync(path.join(app, 'bundle', 'manifest.json')), 'the Node guide made the bundle');
    const blocks = guide('guide-web-app.md');
    assert.deepEqual(blocks.map((b) => b.name ?? b.kind), ['web/main.js', 'public/index.html', 'run', 'vite-app/index.html', 'run']);
    writeBlocks(blocks, app);
    cpSync(path.join(app, 'bundle'), path.join(app, 'public', 'bundle'), { recursive: true });
    for (const b of blocks.filter((b) => b.kind === 'run')) shOk(b.code, app);

    const { chromium } = await import('playwright-core');
    const server = await serve(path.join(app, 'public'));
    const viteServer = await serve(path.join(app, 'vite-app', 'dist'));
    const browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    /** Opens the page and waits for its status; returns the .wasm paths it fetched. */
    const generates = async (url: string): Promise<string[]> => {
      const page = await (await browser.newContext()).newPage();
      const wasm: string[] = [];
      const errors: string[] = [];
      page.on('request', (r) => r.url().endsWith('.wasm') && wasm.push(new URL(r.url()).pathname));
      page.on('pageerror', (e) => errors.push(e.message));
      const response = await page.goto(url);
      assert.equal(response?.status(), 200);
      await Promise.race([
        page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('ready on'), null, { timeout: 60_000 }),
        page.waitForEvent('pageerror', { timeout: 60_000 }),
      ]);
      assert.deepEqual(errors, []);
      assert.equal(await page.textContent('#status'), 'ready on wasm');
      assert.equal((await page.textContent('#out'))!.split('\n').length, 3);
      return wasm;
    };
    try {
      assert.deepEqual(await generates(server.url), ['/dist/ort-wasm-simd-threaded.wasm'], 'esbuild: only the plain WASM build is fetched');
      const viteWasm = await generates(viteServer.url);
      assert.equal(viteWasm.length, 1);
      assert.match(viteWasm[0]!, /^\/assets\/ort-wasm-simd-threaded-[\w-]+\.wasm$/, 'Vite copied the plain WASM file without configuration');

      // Without the copied .wasm the error names the fix, not the model.
      rmSync(path.join(app, 'public', 'dist', 'ort-wasm-simd-threaded.wasm'));
      const page2 = await (await browser.newContext()).newPage(); // its own HTTP cache
      const failed = page2.waitForEvent('pageerror', { timeout: 60_000 });
      await page2.goto(server.url);
      const err = await failed;
      assert.match(err.message, /onnxruntime-web could not load its WebAssembly file ort-wasm-simd-threaded\.wasm .*configureWasm\(\{ wasmPaths/);
      assert.doesNotMatch(err.message, /encoder\.onnx/);
    } finally {
      await browser.close();
      server.close();
      viteServer.close();
    }
  });
});
