/**
 * `vaekit report`, `vaekit plot` and `vaekit train ... --report` on tiny real runs: the HTML is one
 * offline file with an SVG chart per metric (a point per split and epoch), the images and the latent
 * map of every held-out example; PNG plots have the asked size; bad input exits 2 naming what is accepted.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

/** The `<figure>`s of a report, by their data-metric / data-chart name. */
function figures(html: string): Map<string, string> {
  return new Map([...html.matchAll(/<figure data-(?:metric|chart)="([^"]+)">([\s\S]*?)<\/figure>/g)].map((m) => [m[1]!, m[2]!]));
}
const count = (s: string, what: string) => s.split(what).length - 1;
const points = (svg: string) => count(svg, 'aria-roledescription="point"');

function pngSize(buf: Buffer): { width: number; height: number } {
  const png = PNG.sync.read(buf);
  return { width: png.width, height: png.height };
}

/** Nothing in the page is fetched: no script, stylesheet or image from anywhere but the file itself. */
function assertOffline(html: string): void {
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /<link[^>]+href=/i);
  assert.doesNotMatch(html, /(?:src|href)="(?!data:)/i, 'every src/href is a data URI');
  assert.doesNotMatch(html, /url\((?!data:)/i);
}

describe('training reports', { timeout: 600_000 }, () => {
  const dir = tempDir('vaekit-report-');
  const imageRun = path.join(dir, 'image');
  const textRun = path.join(dir, 'text');

  it('vaekit train image --report writes the report after each epoch and prints where; the HTML has a chart per metric, images and a latent map of all held-out digits', () => {
    const r = vaekitOk(['train', 'image', '--epochs', '2', '--limit', '256', '--latent', '4', '--hidden', '32', '--out', imageRun, '--report']);
    const file = path.join(imageRun, 'report.html');
    assert.match(r.stderr, new RegExp(`report \\(epoch 1\\): ${file}`));
    assert.match(r.stderr, new RegExp(`report \\(epoch 2\\): ${file}`));
    assert.match(r.stdout, new RegExp(`Report: ${file}`));
    assert.deepEqual(readdirSync(imageRun).filter((f) => f.includes('.tmp')), [], 'no temporary file is left');
    const html = readFileSync(file, 'utf8');
    assertOffline(html);
    const figs = figures(html);
    assert.deepEqual([...figs.keys()], ['elbo', 'reconstruction', 'kl', 'latent-map']);
    for (const m of ['elbo', 'reconstruction', 'kl']) {
      assert.equal(count(figs.get(m)!, '<svg'), 1, m);
      assert.equal(points(figs.get(m)!), 4, `${m}: train and test, 2 epochs`);
    }
    // MNIST's 10,000 digits, 10% held out by default: all 1,000 are on the map, coloured by 10 labels.
    const map = figs.get('latent-map')!;
    assert.equal(count(map, 'aria-roledescription="circle"'), 1000);
    for (let d = 0; d < 10; d++) assert.ok(map.includes(`label: ${d}`), `digit ${d} is on the map`);
    const images = [...html.matchAll(/src="data:image\/png;base64,([^"]+)"/g)].map((m) => pngSize(Buffer.from(m[1]!, 'base64')));
    // 28x28 digits at scale 2 with 2-pixel borders: 8x8 samples, 2x10 reconstructions, 1x10 interpolation.
    const cell = 28 * 2 + 2;
    assert.deepEqual(images, [
      { width: 8 * cell + 2, height: 8 * cell + 2 },
      { width: 10 * cell + 2, height: 2 * cell + 2 },
      { width: 10 * cell + 2, height: cell + 2 },
    ]);
    assert.match(html, /<td>test<\/td>/, 'last-epoch table');
  });

  it('vaekit plot draws one metric as SVG (a point per split and epoch) or PNG of the asked width', () => {
    const svgFile = path.join(dir, 'elbo.svg');
    assert.match(vaekitOk(['plot', imageRun, '--metric', 'elbo', '--out', svgFile]).stdout, /Plotted train\.elbo, test\.elbo over 2 epochs/);
    const svg = readFileSync(svgFile, 'utf8');
    assert.match(svg, /^<svg/);
    assert.equal(points(svg), 4);
    vaekitOk(['plot', imageRun, '--metric', 'test.kl', '--out', path.join(dir, 'kl.svg')]);
    assert.equal(points(readFileSync(path.join(dir, 'kl.svg'), 'utf8')), 2, 'one series');
    const pngFile = path.join(dir, 'elbo.png');
    vaekitOk(['plot', imageRun, '--metric', 'elbo', '--out', pngFile, '--width', '640']);
    const size = pngSize(readFileSync(pngFile));
    assert.equal(size.width, 640);
    assert.ok(size.height > 200 && size.height < 640, `height ${size.height}`);
  });

  it('bad input exits 2 with one line naming the bad value and the accepted ones', () => {
    const bad = vaekit(['plot', imageRun, '--metric', 'nll', '--out', path.join(dir, 'x.svg')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unknown metric "nll" for .*\. Should be one of: elbo, reconstruction, kl, train\.elbo/);
    const ext = vaekit(['plot', imageRun, '--metric', 'elbo', '--out', path.join(dir, 'x.gif')]);
    assert.equal(ext.code, 2);
    assert.match(ext.stderr, /unsupported format "\.gif"\. Should be one of: \.svg, \.png\./);
    const notRun = vaekit(['report', dir]);
    assert.equal(notRun.code, 2);
    assert.match(notRun.stderr, /is not a run folder \(no config\.json\)/);
    const noFolder = vaekit(['report', imageRun, '--out', path.join(dir, 'missing', 'r.html')]);
    assert.equal(noFolder.code, 2);
    assert.match(noFolder.stderr, /folder .*missing does not exist/);
    assert.equal(vaekit(['plot', imageRun, '--metric', 'elbo', '--out', path.join(dir, 'x.png'), '--width', '9']).code, 2);
    assert.equal(vaekit(['plot', imageRun, '--out', path.join(dir, 'x.png')]).code, 2, '--metric is required');
    for (const cmd of ['report', 'plot']) {
      const h = vaekit([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`Usage: vaekit ${cmd} \\[options\\] <run>`));
    }
    assert.match(vaekit(['train', 'image', '--help']).stdout, /--report/);
    assert.match(vaekit(['train', 'text', '--help']).stdout, /--report/);
  });

  it('a run without a checkpoint still gets its curves, with a note; --curves-only skips the model', () => {
    const early = path.join(dir, 'early');
    mkdirSync(early);
    writeFileSync(path.join(early, 'config.json'), readFileSync(path.join(imageRun, 'config.json')));
    writeFileSync(path.join(early, 'metrics.jsonl'), [1, 2, 3].map((e) => JSON.stringify({ epoch: e, train: { elbo: 200 - e }, test: { elbo: 210 - e } })).join('\n') + '\n{"epoch": 4, "tr');
    const r = vaekitOk(['report', early]);
    assert.match(r.stderr, /note: No samples or latent map: No checkpoint/);
    const figs = figures(readFileSync(path.join(early, 'report.html'), 'utf8'));
    assert.deepEqual([...figs.keys()], ['elbo']);
    assert.equal(points(figs.get('elbo')!), 6, 'the partial last line (a run being written) is left out');
    const out = path.join(dir, 'curves.html');
    const c = vaekitOk(['report', imageRun, '--curves-only', '--out', out]);
    assert.match(c.stdout, /\(3 charts\)/);
    assert.doesNotMatch(readFileSync(out, 'utf8'), /data:image\/png/);
  });

  it('text run: curves of every logged metric, sentences, reconstructions, interpolation, eval table and a map of the held-out sentences', () => {
    const corpus = path.join(dir, 'sentences.txt');
    const who = ['the cat', 'a dog', 'my friend', 'the teacher', 'our team', 'the bird'];
    const what = ['sat on the mat', 'ran to the park', 'reads a book', 'went home early', 'likes the rain'];
    writeFileSync(corpus, Array.from({ length: 240 }, (_, i) => `${who[i % 6]} ${what[(i * 7) % 5]} today .`).join('\n') + '\n');
    const r = vaekitOk([
      'train', 'text', '--data', corpus, '--max-length', '8', '--min-count', '1', '--embedding', '16', '--hidden', '24', '--latent', '4',
      '--batch-size', '16', '--epochs', '3', '--lr', '0.01', '--k', '5', '--out', textRun, '--report',
    ]);
    assert.match(r.stdout, /Report: .*report\.html/);
    const html = readFileSync(path.join(textRun, 'report.html'), 'utf8');
    assertOffline(html);
    const figs = figures(html);
    for (const m of ['elbo', 'loss', 'reconstruction', 'kl', 'klWeight', 'mi', 'au', 'ppl']) assert.ok(figs.has(m), `${m} chart`);
    assert.equal(points(figs.get('reconstruction')!), 6, 'train and valid, 3 epochs');
    assert.equal(points(figs.get('mi')!), 3, 'valid only');
    assert.match(html, /Sentences from the prior/);
    assert.equal(count(html.slice(html.indexOf('Sentences from the prior')), '<li>') >= 16, true, '8 greedy + 8 sampled sentences');
    assert.match(html, /<th>reconstruction<\/th>/);
    assert.match(html, /Evaluation \(<code>eval\.json<\/code>\)/);
    assert.match(html, /<td>VAE<\/td>/);
    // 240 sentences, the default 5% test split: every one is a point of the map.
    const test = Number(/Latent map: (\d+) held-out/.exec(figs.get('latent-map') ?? '')?.[1]);
    assert.ok(test > 0, 'latent map title');
    assert.equal(count(figs.get('latent-map')!, 'aria-roledescription="circle"'), test);
  });
});
