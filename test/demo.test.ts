/**
 * The demo page's views in headless Chromium (Debian's `chromium` with SwiftShader for WebGL and
 * WebGPU), per backend: it opens working (byte progress, automatic backend choice with reasons),
 * streams generations token by token, decodes clicks on the latent map, reconstructs and interpolates;
 * image bundles encode a digit drawn with the mouse and walk two latent directions with sliders. What
 * the page shows is checked against Node's runtime on the same inputs. Under CI the test fails when
 * Chromium is missing.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { loadVae } from '@vaekit/runtime';
import { tempDir, trainedBundle, vaekitOk } from './helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { HAVE_CHROMIUM, launchChromium, requireChromium } from './fixtures/chromium.mjs';
// @ts-expect-error plain .mjs fixture without types
import { serveDemo as serve } from './fixtures/serve-demo.mjs';
// @ts-expect-error plain .mjs fixture without types
import { writeToyTextBundle } from './fixtures/toy-text-bundle.mjs';
// @ts-expect-error plain .mjs fixture without types
import { syntheticReviews } from './fixtures/reviews.mjs';

type Demo = {
  ready: boolean;
  busy: number;
  streamUpdates: number;
  encodings: number;
  lastMapZ?: number[];
  lastWalkZ?: number[];
  lastClassification?: { label: string; probabilities: Record<string, number> };
  progress: { loaded: number; total: number; files: Map<string, number> };
  drawnPixels(): number[] | undefined;
  encode(x: number[][]): Promise<{ mu: number[][] }>;
  decode(z: number[][]): Promise<number[][]>;
};
declare const vaekitDemo: Demo;

/** Opens the page (optionally asking for backends) and waits until it has loaded and finished its first work. */
async function open(page: Page, url: string, backend?: string): Promise<string> {
  await page.goto(backend ? `${url}?backend=${backend}` : url);
  await page.waitForFunction(() => (globalThis as unknown as { vaekitDemo?: Demo }).vaekitDemo?.ready, null, { timeout: 180_000 });
  await idle(page);
  return (await page.textContent('#status')) ?? '';
}
const idle = (page: Page) => page.waitForFunction(() => vaekitDemo.busy === 0, null, { timeout: 120_000 });

/** A sentence as the page shows it: tokens without `<eos>`, " …" when the token limit cut it, "(empty)" for none. */
function shown(g: { tokens: string[]; finished: boolean }): string {
  const words = g.finished ? g.tokens.slice(0, -1) : g.tokens;
  return words.join(' ') + (g.finished ? '' : ' …') + (words.length === 0 ? '(empty)' : '');
}

describe('demo page views in headless Chromium', { timeout: 1_200_000 }, () => {
  let browser: Browser | undefined;
  const servers: ChildProcess[] = [];
  before(async () => {
    if (HAVE_CHROMIUM) browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    for (const s of servers) s.kill();
  });

  it('Chromium is installed (required under CI)', (t) => requireChromium(t, 'the browser tests are'));

  it('text view on wasm, webgl and webgpu: opens with byte progress, streams tokens, decodes map clicks, reconstructs and interpolates as Node does', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const dir = path.join(tempDir(), 'toy');
    await writeToyTextBundle(dir, { webglVariant: true });
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const node = await loadVae(dir, { kind: 'text' });
    const { url, proc } = await serve(dir);
    servers.push(proc);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    for (const backend of ['wasm', 'webgl', 'webgpu']) {
      const status = await open(page, url, backend);
      assert.match(status, new RegExp(`text bundle on ${backend} \\(graphs: ${backend === 'webgl' ? 'webgl' : 'default'}`), status);
      // Byte progress: every graph of the variant, the tokenizer and onnxruntime's wasm were counted to the end.
      const progress = await page.evaluate(() => ({ loaded: vaekitDemo.progress.loaded, total: vaekitDemo.progress.total, files: [...vaekitDemo.progress.files.keys()] }));
      const variant = backend === 'webgl' ? manifest.variants.webgl.graphs : manifest.graphs;
      const bundleBytes = Object.values(variant as Record<string, { file: string }>).reduce((s, g) => s + manifest.files[g.file].bytes, 0);
      // WebGL runs in JavaScript: only wasm and webgpu (whose kernels live in the wasm build) download the .wasm.
      const wasm = backend !== 'webgl';
      assert.ok(progress.loaded >= bundleBytes + (wasm ? 1e6 : 0), `${backend}: ${progress.loaded} bytes counted (bundle graphs ${bundleBytes}${wasm ? ', plus the wasm' : ''})`);
      assert.ok(Math.abs(progress.loaded - progress.total) / progress.total < 0.01, `${backend}: progress ends at its total (${progress.loaded} of ${progress.total})`);
      assert.equal(progress.files.some((f) => f.endsWith('.wasm')), wasm, 'the wasm download is counted');
      assert.equal(await page.evaluate(() => document.getElementById('progressBox')!.classList.contains('done')), true, 'the bar goes away once loaded');

      // Streaming generation: one page update per token, and the same sentences as Node for the same settings.
      await page.selectOption('#strategy', 'sample');
      for (const [id, v] of [['#n', '4'], ['#temperature', '0.9'], ['#topK', '10'], ['#topP', '0.9'], ['#repetition', '1.3'], ['#maxTokens', '9'], ['#seed', '3']] as const) await page.fill(id, v);
      await page.click('#sample');
      await idle(page);
      const expected = await node.generate({ n: 4, seed: 3, strategy: 'sample', temperature: 0.9, topK: 10, topP: 0.9, repetitionPenalty: 1.3, maxTokens: 9 });
      const items = await page.$$eval('#samples li', (lis) => lis.map((li) => li.textContent));
      assert.deepEqual(items, expected.map(shown), `${backend}: streamed sentences equal Node's`);
      const updates = await page.evaluate(() => vaekitDemo.streamUpdates);
      assert.equal(updates, expected.reduce((s, g) => s + g.tokenIds.length, 0), `${backend}: the list was updated once per token`);

      // The latent map: a click decodes the point under it.
      const box = (await page.locator('#map').boundingBox())!;
      await page.locator('#map').click({ position: { x: box.width * 0.8, y: box.height * 0.25 } });
      await page.waitForFunction(() => vaekitDemo.lastMapZ !== undefined);
      await idle(page);
      const z = Float32Array.from((await page.evaluate(() => vaekitDemo.lastMapZ))!);
      const [fromMap] = await node.generate({ z: [z], maxTokens: 9 });
      assert.equal(await page.textContent('#mapOut'), shown(fromMap!), `${backend}: map click decodes like Node`);
      await page.evaluate(() => (vaekitDemo.lastMapZ = undefined));

      await page.fill('#sentence', 'we are here to stay .');
      await page.click('#reconstruct');
      await idle(page);
      const [rec] = await node.reconstruct('we are here to stay .', { maxTokens: 9 });
      assert.deepEqual(await page.$$eval('#reconstruction li', (lis) => lis.map((li) => li.textContent)), [shown(rec!)]);
      await page.fill('#steps', '4');
      await page.click('#interpolate');
      await idle(page);
      assert.equal(await page.locator('#interpolation li').count(), 4);
      assert.doesNotMatch((await page.textContent('#status')) ?? '', /failed/);
      t.diagnostic(`${backend}: ${progress.loaded} bytes loaded, ${updates} streamed tokens`);
    }
    await node.dispose();
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('opens on the best backend by itself and says why it skipped the others; only usable backends are offered', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const gru = path.join(tempDir(), 'gru');
    await writeToyTextBundle(gru, {});
    const lstm = path.join(tempDir(), 'lstm');
    await writeToyTextBundle(lstm, { cell: 'lstm', seed: 2 });
    const page = await browser.newPage();
    for (const [dir, chosen] of [[gru, 'webgpu'], [lstm, 'wasm']] as const) {
      const { url, proc } = await serve(dir);
      servers.push(proc);
      assert.match(await open(page, url), new RegExp(`text bundle on ${chosen} `));
      const why = await page.$$eval('#why li', (lis) => lis.map((li) => li.textContent));
      assert.match(why.find((w) => w!.startsWith(chosen))!, /chosen/);
      assert.match(why.find((w) => w!.startsWith('webgl'))!, /skipped \(the bundle has no webgl-profile graphs.*--webgl-variant/);
      if (dir === lstm) assert.match(why.find((w) => w!.startsWith('webgpu'))!, /skipped \(onnxruntime-web's WebGPU LSTM kernel/);
      const disabled = await page.$$eval('#backend option', (os) => (os as HTMLOptionElement[]).filter((o) => o.disabled).map((o) => o.value));
      assert.deepEqual(disabled, dir === lstm ? ['webgpu', 'webgl'] : ['webgl']);
      assert.ok((await page.locator('#samples li').count()) > 0, 'sentences are generated on open');
      assert.ok((await page.locator('#reconstruction li').count()) === 1, 'a reconstruction is shown on open');
    }
    await page.close();
  });

  it('a failed load says what failed and clears the previous results', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const dir = path.join(tempDir(), 'plain');
    await writeToyTextBundle(dir, {});
    const { url, proc } = await serve(dir);
    servers.push(proc);
    const page = await browser.newPage();
    await open(page, url, 'wasm');
    assert.ok((await page.locator('#samples li').count()) > 0);
    // Switch to a backend this bundle cannot use (as a user could by URL).
    await page.evaluate(() => {
      const s = document.getElementById('backend') as HTMLSelectElement;
      s.add(new Option('webgl only', 'webgl,webgl'));
      s.value = 'webgl,webgl';
      s.dispatchEvent(new Event('change'));
    });
    await page.waitForFunction(() => /load failed/.test(document.getElementById('status')!.textContent ?? ''));
    await idle(page);
    assert.match((await page.textContent('#status'))!, /^load failed: This bundle cannot run on webgl: the bundle has no webgl-profile graphs/);
    assert.equal(await page.locator('#samples li').count(), 0, 'stale sentences are cleared');
    assert.equal(await page.isHidden('#text'), true);
    await page.close();
  });

  it('image view on wasm, webgl and webgpu: a digit drawn with the mouse is encoded and reconstructed live; sliders, grid and strip decode as Node does', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const trained = trainedBundle('dense');
    const bundleDir = path.join(tempDir(), 'bundle');
    vaekitOk(['export', trained.runDir, bundleDir, '--webgl-variant']);
    const node = await loadVae(bundleDir, { kind: 'image' });
    const { url, proc } = await serve(bundleDir);
    servers.push(proc);
    const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    for (const backend of ['wasm', 'webgl', 'webgpu']) {
      const status = await open(page, url, backend);
      assert.match(status, new RegExp(`image bundle on ${backend} `), status);
      assert.equal(await page.evaluate(() => (document.getElementById('grid') as HTMLCanvasElement).width), 8 * 28, 'a sample grid on open');

      // Draw a "7" with the mouse.
      await page.locator('#pad').scrollIntoViewIfNeeded();
      const pad = (await page.locator('#pad').boundingBox())!;
      const stroke = [[70, 70], [210, 70], [150, 220]] as const;
      await page.mouse.move(pad.x + stroke[0][0], pad.y + stroke[0][1]);
      await page.mouse.down();
      for (let i = 1; i < stroke.length; i++) {
        for (let s = 1; s <= 8; s++) {
          const [x0, y0] = stroke[i - 1]!;
          const [x1, y1] = stroke[i]!;
          await page.mouse.move(pad.x + x0 + ((x1 - x0) * s) / 8, pad.y + y0 + ((y1 - y0) * s) / 8);
        }
      }
      await page.mouse.up();
      await page.waitForFunction(() => vaekitDemo.encodings > 0);
      await idle(page);
      const pixels = (await page.evaluate(() => vaekitDemo.drawnPixels()))!;
      assert.equal(pixels.length, 784);
      const ink = pixels.filter((v) => v > 0.5).length;
      assert.ok(ink > 30 && ink < 400, `the drawing fills part of the 28x28 input (${ink} pixels)`);
      const { mu } = await node.encode([Float32Array.from(pixels)]);
      const codes = await page.$$eval('#code span', (s) => s.map((e) => Number(e.textContent)));
      assert.equal(codes.length, node.latentSize);
      codes.forEach((c, d) => assert.ok(Math.abs(c - mu[0]![d]!) < 0.006, `${backend}: shown code z${d} ${c} vs Node ${mu[0]![d]}`));
      const reconInk = await page.evaluate(() => {
        const c = document.getElementById('recon') as HTMLCanvasElement;
        return Array.from(c.getContext('2d')!.getImageData(0, 0, 28, 28).data).filter((v, i) => i % 4 === 0 && v > 0).length;
      });
      assert.ok(reconInk > 100, 'the reconstruction is drawn');

      // Sliders walk from the drawing's code along the chosen latent axes.
      await page.selectOption('#dimA', '2');
      await page.evaluate(() => {
        for (const [id, v] of [['sliderA', '2'], ['sliderB', '-1.5']]) {
          const el = document.getElementById(id!) as HTMLInputElement;
          el.value = v!;
          el.dispatchEvent(new Event('input'));
        }
      });
      await idle(page);
      const walkZ = (await page.evaluate(() => vaekitDemo.lastWalkZ))!;
      const want = Array.from(mu[0]!);
      want[2]! += 2;
      want[1]! += -1.5;
      walkZ.forEach((v, d) => assert.ok(Math.abs(v - want[d]!) < 1e-4, `${backend}: walk z${d} ${v} vs ${want[d]}`));
      const [page1] = await page.evaluate((z) => vaekitDemo.decode([z]), walkZ);
      const [node1] = await node.decode([Float32Array.from(walkZ)]);
      const err = Math.max(...page1!.map((v, i) => Math.abs(v - node1![i]!)));
      assert.ok(err < 1e-4, `${backend}: walk decode max abs error ${err}`);

      await page.click('#imageInterpolate');
      await idle(page);
      assert.equal(await page.isVisible('#strip'), true);
      assert.equal(await page.evaluate(() => (document.getElementById('strip') as HTMLCanvasElement).width), 10 * 28);
      assert.doesNotMatch((await page.textContent('#status')) ?? '', /failed/);
      await page.click('#clear');
      await idle(page);
      assert.equal(await page.locator('#code span').count(), 0);
    }
    await node.dispose();
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('classifier view on wasm: type a review, see the probabilities Node computes', async (t) => {
    if (!browser) return t.skip('no Chromium');
    const dir = tempDir();
    const data = path.join(dir, 'reviews.jsonl');
    writeFileSync(data, syntheticReviews(200).map((r: object) => JSON.stringify(r)).join('\n') + '\n');
    const run = path.join(dir, 'run');
    vaekitOk(['train', 'classify', '--data', data, '--model', 'supervised', '--encoder', 'gru', '--bow-skip', '0', '--labels', '40', '--valid-size', '20', '--max-length', '12', '--min-count', '1', '--embedding', '8', '--hidden', '8', '--epochs', '2', '--out', run]);
    const bundle = path.join(dir, 'bundle');
    vaekitOk(['export', run, bundle]);
    const node = await loadVae(bundle, { kind: 'classifier' });
    const { url, proc } = await serve(bundle);
    servers.push(proc);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    assert.match(await open(page, url, 'wasm'), /classifier bundle on wasm/);
    for (const review of ['the film was superb and lovely', 'boring and awful, a weak plot']) {
      await page.fill('#review', review);
      await page.click('#classify');
      await idle(page);
      const shownResult = (await page.evaluate(() => vaekitDemo.lastClassification))!;
      const [expected] = await node.classify([review]);
      assert.equal(shownResult.label, expected!.label);
      for (const [label, p] of Object.entries(expected!.probabilities)) assert.ok(Math.abs(shownResult.probabilities[label]! - p) < 1e-4, `${label}: ${shownResult.probabilities[label]} vs ${p}`);
      assert.equal(await page.textContent('#verdict'), expected!.label);
      assert.equal(await page.locator('#probabilities li').count(), 2);
    }
    await node.dispose();
    assert.deepEqual(errors, []);
    await page.close();
  });
});
