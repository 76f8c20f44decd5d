#!/usr/bin/env node
// Screenshots of the demo page's views (and of a training report) for the README, taken with Debian's
// Chromium through playwright-core. Build first (npm run build). Usage:
//
//   node scripts/demo-screenshots.mjs --text TEXT_BUNDLE --image IMAGE_BUNDLE [--report RUN] [--out docs/img]
//
// Writes demo-text.png, demo-image.png (desktop width), demo-text-phone.png (390 px wide) and, with
// --report, report.png (the report of RUN, made first if RUN/report.html is missing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../test/fixtures/chromium.mjs';
import { serveDemo } from '../test/fixtures/serve-demo.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({ options: { text: { type: 'string' }, image: { type: 'string' }, report: { type: 'string' }, out: { type: 'string', default: path.join(root, 'docs', 'img') } } });
if (!values.text && !values.image && !values.report) {
  console.error('Usage: node scripts/demo-screenshots.mjs --text BUNDLE --image BUNDLE [--report RUN] [--out FOLDER]');
  process.exit(2);
}
const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });
const browser = await launchChromium();
const wrote = (f) => console.log(`wrote ${path.relative(process.cwd(), f)}`);

async function shoot(bundle, name, act) {
  const { url, proc } = await serveDemo(bundle);
  try {
    for (const [suffix, viewport] of [['', { width: 1100, height: 900 }], ['-phone', { width: 390, height: 844 }]]) {
      const page = await browser.newPage({ viewport, deviceScaleFactor: suffix ? 2 : 1 });
      await page.goto(url);
      await page.waitForFunction(() => globalThis.vaekitDemo?.ready, null, { timeout: 180_000 });
      await page.waitForFunction(() => globalThis.vaekitDemo.busy === 0);
      await act(page);
      await page.waitForFunction(() => globalThis.vaekitDemo.busy === 0);
      await page.evaluate(() => window.scrollTo(0, 0));
      const file = path.join(out, `demo-${name}${suffix}.png`);
      await page.screenshot({ path: file, fullPage: !suffix });
      wrote(file);
      await page.close();
    }
  } finally {
    proc.kill();
  }
}

if (values.text) {
  await shoot(values.text, 'text', async (page) => {
    const map = page.locator('#map');
    const box = await map.boundingBox();
    await map.click({ position: { x: box.width * 0.62, y: box.height * 0.4 } });
    await page.click('#interpolate');
  });
}
if (values.image) {
  await shoot(values.image, 'image', async (page) => {
    // A "2", drawn as a person would: an arc, a diagonal, a base.
    await page.locator('#pad').scrollIntoViewIfNeeded();
    const b = await page.locator('#pad').boundingBox();
    const s = b.width / 280;
    const pts = [[80, 90], [110, 60], [160, 55], [195, 85], [190, 125], [150, 170], [90, 220], [200, 220]];
    await page.mouse.move(b.x + pts[0][0] * s, b.y + pts[0][1] * s);
    await page.mouse.down();
    for (let i = 1; i < pts.length; i++) {
      for (let k = 1; k <= 6; k++) {
        const x = pts[i - 1][0] + ((pts[i][0] - pts[i - 1][0]) * k) / 6;
        const y = pts[i - 1][1] + ((pts[i][1] - pts[i - 1][1]) * k) / 6;
        await page.mouse.move(b.x + x * s, b.y + y * s);
      }
    }
    await page.mouse.up();
    await page.waitForFunction(() => globalThis.vaekitDemo.encodings > 0);
    await page.click('#imageInterpolate');
    await page.evaluate(() => window.scrollTo(0, 0));
  });
}
if (values.report) {
  const html = path.join(values.report, 'report.html');
  if (!existsSync(html)) spawnSync(process.execPath, [path.join(root, 'packages', 'cli', 'dist', 'main.js'), 'report', values.report], { stdio: 'inherit' });
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  await page.goto(`file://${path.resolve(html)}`);
  const file = path.join(out, 'report.png');
  await page.screenshot({ path: file, fullPage: false });
  wrote(file);
  await page.close();
}
await browser.close();
