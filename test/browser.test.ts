/**
 * The demo page in headless Chromium (Debian's `chromium`, driven by playwright-core; no browser is
 * downloaded) on WASM, WebGL and WebGPU: the page loads bundles made by the test through
 * `vaekit serve-demo`, and its greedy generations equal Node's for the same z (images within a
 * tolerance). Under CI the test fails when Chromium is missing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { convertLayersModel, serializeModel } from '@vaekit/exporter';
import { loadCheckpoint } from '@vaekit/trainer';
import { loadVae, samplePrior, sha256Hex } from '@vaekit/runtime';
import { tempDir, trainedBundle } from './helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { CHROMIUM_PATH, launchChromium } from './fixtures/chromium.mjs';
// @ts-expect-error plain .mjs fixture without types
import { serveDemo as serve } from './fixtures/serve-demo.mjs';
// @ts-expect-error plain .mjs fixture without types
import { writeToyTextBundle } from './fixtures/toy-text-bundle.mjs';

const BACKENDS = ['wasm', 'webgl', 'webgpu'] as const;
const haveChromium = existsSync(CHROMIUM_PATH);

/**
 * Adds a `webgl` variant to an exported image bundle: the same graphs with dynamic dimensions written
 * as 0, as a webgl export profile must (docs/runtime.md), until the exporter writes one itself.
 */
async function addWebglVariant(runDir: string, bundleDir: string): Promise<void> {
  await tf.setBackend('cpu');
  const { encoder, decoder } = await loadCheckpoint(runDir);
  const manifest = JSON.parse(await fs.readFile(path.join(bundleDir, 'manifest.json'), 'utf8'));
  await fs.mkdir(path.join(bundleDir, 'webgl'), { recursive: true });
  const graphs: Record<string, unknown> = {};
  for (const [key, model] of [['encoder', encoder], ['decoder', decoder]] as const) {
    const { model: ir } = convertLayersModel(model);
    for (const v of [...ir.graph.inputs, ...ir.graph.outputs]) v.shape = v.shape.map((d) => (typeof d === 'string' ? 0 : d));
    const bytes = serializeModel(ir);
    const file = `webgl/${key}.onnx`;
    await fs.writeFile(path.join(bundleDir, file), bytes);
    manifest.files[file] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
    graphs[key] = { ...manifest.graphs[key], file };
  }
  manifest.variants = { webgl: { profile: 'webgl', graphs } };
  await fs.writeFile(path.join(bundleDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

async function open(page: Page, url: string, backend: string): Promise<string> {
  await page.goto(`${url}?backend=${backend}&autoload=1`);
  await page.waitForFunction(() => (globalThis as unknown as { vaekitDemo?: { ready: boolean } }).vaekitDemo?.ready, null, { timeout: 120_000 });
  return (await page.textContent('#status')) ?? '';
}

describe('demo page in headless Chromium', { timeout: 900_000 }, () => {
  let browser: Browser | undefined;
  const servers: ChildProcess[] = [];

  before(async () => {
    if (!haveChromium) return;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const s of servers) s.kill();
  });

  it('Chromium is installed (required under CI)', (t) => {
    if (!haveChromium) {
      if (process.env.CI) assert.fail(`Chromium not found at ${CHROMIUM_PATH}: install it with apt-get install -y chromium (the browser tests are required under CI).`);
      t.skip(`Chromium not found at ${CHROMIUM_PATH}; apt-get install -y chromium`);
    }
  });

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

  it('image bundle: decoded images match Node within 1e-4 on wasm, webgl and webgpu; the page draws a grid and a strip', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const trained = trainedBundle('dense');
    const bundleDir = path.join(tempDir(), 'bundle');
    await fs.cp(trained.bundleDir, bundleDir, { recursive: true });
    await addWebglVariant(trained.runDir, bundleDir);
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
      assert.ok(maxErr < 1e-4, `${backend}: max abs error ${maxErr}`);
    }
    await page.click('#imageSample');
    await page.waitForFunction(() => (document.getElementById('grid') as HTMLCanvasElement).width === 8 * 28);
    await page.click('#imageInterpolate');
    await page.waitForFunction(() => (document.getElementById('strip') as HTMLCanvasElement).width === 10 * 28);
    assert.doesNotMatch((await page.textContent('#status')) ?? '', /failed/);
    await page.close();
  });
});
