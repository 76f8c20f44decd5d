/**
 * The demo page in headless Chromium (Debian's `chromium`, driven by playwright-core; no browser is
 * downloaded) on WASM, WebGL and WebGPU: the page loads bundles made by the test through
 * `vaekit serve-demo`, and its greedy generations equal Node's for the same z (images within a
 * tolerance). The real bundles are made by the product: `vaekit train` then `vaekit export
 * --webgl-variant`, whose `webgl/` graphs are what WebGL runs. Under CI the test fails when Chromium
 * is missing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { loadVae, samplePrior } from '@vaekit/runtime';
import { tempDir, trainedBundle, trainedTextBundle, vaekitOk } from './helpers.js';
import { assertGreedyIsTeacherForcedArgmax } from './text-helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { HAVE_CHROMIUM, launchChromium, requireChromium } from './fixtures/chromium.mjs';
// @ts-expect-error plain .mjs fixture without types
import { serveDemo as serve } from './fixtures/serve-demo.mjs';
// @ts-expect-error plain .mjs fixture without types
import { writeToyTextBundle } from './fixtures/toy-text-bundle.mjs';

const BACKENDS = ['wasm', 'webgl', 'webgpu'] as const;

async function open(page: Page, url: string, backend: string): Promise<string> {
  await page.goto(`${url}?backend=${backend}&autoload=1`);
  await page.waitForFunction(() => (globalThis as unknown as { vaekitDemo?: { ready: boolean } }).vaekitDemo?.ready, null, { timeout: 120_000 });
  return (await page.textContent('#status')) ?? '';
}

describe('demo page in headless Chromium', { timeout: 900_000 }, () => {
  let browser: Browser | undefined;
  const servers: ChildProcess[] = [];

  before(async () => {
    if (!HAVE_CHROMIUM) return;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const s of servers) s.kill();
  });

  it('Chromium is installed (required under CI)', (t) => requireChromium(t, 'the browser tests are'));

  it('text bundle: greedy generations equal Node on wasm, webgl and webgpu; the page samples, reconstructs, interpolates', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const dir = path.join(tempDir(), 'toy');
    await writeToyTextBundle(dir, { webglVariant: true });
    const z = samplePrior(16, 8, 12);
    const node = await loadVae(dir, { kind: 'text' });
    const expected = await node.generate({ z, maxTokens: 12 });
    const beamExpected = await node.generate({ z: z.slice(0, 2), maxTokens: 8, strategy: 'beam', beamWidth: 3 });
    const sampled = await node.generate({ z: z.slice(0, 4), maxTokens: 8, strategy: 'sample', seed: 9, topP: 0.9 });
    await node.dispose();
    const { url, proc } = await serve(dir);
    servers.push(proc);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    for (const backend of BACKENDS) {
      const status = await open(page, url, backend);
      assert.match(status, new RegExp(`text bundle on ${backend} \\(graphs: ${backend === 'webgl' ? 'webgl' : 'default'}`), status);
      const z2 = z.map((v) => Array.from(v));
      type Out = Array<{ text: string; tokenIds: number[]; logprobs: number[] }>;
      const got = (await page.evaluate(([zz]) => (globalThis as any).vaekitDemo.generate(zz, { maxTokens: 12 }), [z2] as const)) as Out;
      assert.deepEqual(got.map((g) => g.tokenIds), expected.map((g) => g.tokenIds), `${backend}: same greedy tokens as Node`);
      got.forEach((g, i) => g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - expected[i]!.logprobs[j]!) < 1e-3, `${backend} seq ${i} token ${j}`)));
      const beam = (await page.evaluate(([zz]) => (globalThis as any).vaekitDemo.generate(zz, { maxTokens: 8, strategy: 'beam', beamWidth: 3 }), [z2.slice(0, 2)] as const)) as Out;
      assert.deepEqual(beam.map((g) => g.tokenIds), beamExpected.map((g) => g.tokenIds), `${backend}: same beam search result`);
      const samp = (await page.evaluate(([zz]) => (globalThis as any).vaekitDemo.generate(zz, { maxTokens: 8, strategy: 'sample', seed: 9, topP: 0.9 }), [z2.slice(0, 4)] as const)) as Out;
      assert.deepEqual(samp.map((g) => g.tokenIds), sampled.map((g) => g.tokenIds), `${backend}: seeded sampling repeats across platforms`);
    }
    // The controls, on the default backend.
    await open(page, url, 'wasm');
    assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true, 'COOP/COEP make the page cross-origin isolated');
    await page.click('#sample');
    await page.waitForFunction(() => document.querySelectorAll('#samples li').length === 5);
    await page.fill('#sentence', 'we are here to stay .');
    await page.click('#reconstruct');
    await page.waitForFunction(() => document.querySelectorAll('#reconstruction li').length === 1);
    await page.fill('#steps', '4');
    await page.click('#interpolate');
    await page.waitForFunction(() => document.querySelectorAll('#interpolation li').length === 4);
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /failed/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  for (const cell of ['gru', 'lstm'] as const) {
    it(`real ${cell} text bundle (vaekit train text + export --webgl-variant): Node's greedy output is tfjs' teacher-forced argmax, and Chromium's equals Node's`, async (t) => {
      if (!browser) return t.skip('no Chromium');
      const { runDir, bundleDir } = trainedTextBundle(cell);
      const manifest = JSON.parse(readFileSync(path.join(bundleDir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.variants.webgl.profile, 'webgl');
      for (const g of Object.values(manifest.variants.webgl.graphs) as Array<{ file: string }>) {
        assert.match(g.file, /^webgl\//);
        assert.ok(manifest.files[g.file].sha256, `${g.file} is hashed in the manifest`);
      }
      const T = manifest.text.maxLength + 1;
      const node = await loadVae(bundleDir, { kind: 'text' });
      const sentences = ['the cat sat on the mat today .', 'a dog reads a book', 'our team went home early at night .'];
      const encoded = await node.encode(sentences);
      // Posterior means give real sentences (the tiny run's posterior is far from the prior); prior draws too.
      const z = [...encoded.mu, ...samplePrior(3, manifest.latentSize, 21)];
      const expected = await node.generate({ z, maxTokens: T });
      await node.dispose();

      // Node's greedy tokens are the argmax of the training decoder fed the same tokens (teacher forcing).
      const checked = await assertGreedyIsTeacherForcedArgmax(runDir, { T, bos: manifest.text.specialTokens.bos }, z, expected, cell);
      assert.ok(checked >= expected.length * 2, `${checked} tokens checked`);
      t.diagnostic(`${cell}: ${checked} greedy tokens equal tfjs' teacher-forced argmax; e.g. ${JSON.stringify(expected.slice(0, 2).map((g) => g.text))}`);

      const { url, proc } = await serve(bundleDir);
      servers.push(proc);
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      // onnxruntime-web 1.30's WebGPU LSTM kernel is wrong and the webgl graphs run on WebGL only.
      const backends = cell === 'gru' ? BACKENDS : (['wasm', 'webgl'] as const);
      for (const backend of backends) {
        const status = await open(page, url, backend);
        assert.match(status, new RegExp(`text bundle on ${backend} \\(graphs: ${backend === 'webgl' ? 'webgl' : 'default'}`), status);
        type Out = Array<{ text: string; tokenIds: number[]; logprobs: number[] }>;
        const got = (await page.evaluate(([zz, m]) => (globalThis as any).vaekitDemo.generate(zz, { maxTokens: m }), [z.map((v) => Array.from(v)), T] as const)) as Out;
        assert.deepEqual(got.map((g) => g.tokenIds), expected.map((g) => g.tokenIds), `${backend}: same greedy tokens as Node`);
        got.forEach((g, i) => g.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - expected[i]!.logprobs[j]!) < 1e-3, `${backend} seq ${i} token ${j}`)));
        const enc = (await page.evaluate((s) => (globalThis as any).vaekitDemo.encode(s), sentences)) as { mu: number[][] };
        let maxErr = 0;
        enc.mu.forEach((row, i) => row.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - encoded.mu[i]![j]!)))));
        assert.ok(maxErr < 1e-4, `${backend}: encoder mu max abs error ${maxErr}`);
        t.diagnostic(`${cell} ${backend}: greedy tokens equal Node's; encoder mu max abs error ${maxErr.toExponential(2)}`);
      }
      if (cell === 'lstm') {
        assert.match(await open(page, url, 'webgpu'), /load failed: This bundle cannot run on webgpu: onnxruntime-web's WebGPU LSTM kernel/);
        assert.match(await open(page, url, 'webgpu,webgl'), /text bundle on webgl \(graphs: webgl/);
      }
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  it('a backend list falls back past backends that cannot run the bundle (LSTM on WebGPU, no webgl variant) and says which it used', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const dir = path.join(tempDir(), 'toy-lstm');
    await writeToyTextBundle(dir, { cell: 'lstm', seed: 2 });
    const { url, proc } = await serve(dir);
    servers.push(proc);
    const page = await browser.newPage();
    assert.match(await open(page, url, 'webgpu,webgl,wasm'), /text bundle on wasm \(graphs: default/, 'no webgl variant: WebGL is skipped too');
    assert.match(await open(page, url, 'webgpu,wasm'), /text bundle on wasm \(graphs: default/);
    assert.match(await open(page, url, 'webgpu'), /load failed: This bundle cannot run on webgpu: onnxruntime-web's WebGPU LSTM kernel gives wrong results/);
    await page.close();
  });

  for (const arch of ['dense', 'conv'] as const) {
    it(`${arch} image bundle (vaekit export --webgl-variant): decoded images match Node within 1e-4 on wasm, webgl and webgpu; the page draws a grid and a strip`, async (t) => {
      if (!browser) return t.skip('no Chromium');
      const trained = trainedBundle(arch);
      const bundleDir = path.join(tempDir(), 'bundle');
      vaekitOk(['export', trained.runDir, bundleDir, '--webgl-variant']);
      const node = await loadVae(bundleDir, { kind: 'image' });
      const z = samplePrior(8, node.latentSize, 5);
      const expected = await node.decode(z);
      await node.dispose();
      const { url, proc } = await serve(bundleDir);
      servers.push(proc);
      const page = await browser.newPage();
      for (const backend of BACKENDS) {
        const status = await open(page, url, backend);
        assert.match(status, new RegExp(`image bundle on ${backend} \\(graphs: ${backend === 'webgl' ? 'webgl' : 'default'}`), status);
        const got = (await page.evaluate(([zz]) => (globalThis as any).vaekitDemo.decode(zz), [z.map((v) => Array.from(v))] as const)) as number[][];
        let maxErr = 0;
        got.forEach((row, i) => row.forEach((v, j) => (maxErr = Math.max(maxErr, Math.abs(v - expected[i]![j]!)))));
        assert.ok(maxErr < 1e-4, `${arch} ${backend}: max abs error ${maxErr}`);
        t.diagnostic(`${arch} ${backend}: decode max abs error vs Node ${maxErr.toExponential(2)}`);
      }
      await page.click('#imageSample');
      await page.waitForFunction(() => (document.getElementById('grid') as HTMLCanvasElement).width === 8 * 28);
      await page.click('#imageInterpolate');
      await page.waitForFunction(() => (document.getElementById('strip') as HTMLCanvasElement).width === 10 * 28);
      assert.doesNotMatch((await page.textContent('#status')) ?? '', /failed/);
      await page.close();
    });
  }
});
