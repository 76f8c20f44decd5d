/**
 * The seq2seq kind end to end on real Tatoeba pairs (../shared/data, a slice of the short sentences):
 * data checks, training and exact resume, the `--init` warm start, export with parity and the official
 * checker, the runtime's translations against tfjs, and the CLI's answers to bad input.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { defaultTranslateConfig, type TranslateTrainConfig } from '@vaekit/core';
import { exportBundle } from '@vaekit/exporter';
import { loadVae } from '@vaekit/runtime';
import {
  TrainerError,
  applyInitWeights,
  buildSeq2Seq,
  initBackend,
  loadCheckpoint,
  loadTranslateRun,
  parseParallelTsv,
  prepareParallel,
  readInitWeights,
  resumeTranslate,
  trainTranslate,
  translateIds,
} from '@vaekit/trainer';
import { runOnnxChecker } from '../packages/exporter/src/test-helpers.js';
import { ROOT, tempDir, vaekit } from './helpers.js';
// @ts-expect-error plain .mjs fixture without types
import { HAVE_CHROMIUM, launchChromium, requireChromium } from './fixtures/chromium.mjs';
// @ts-expect-error plain .mjs fixture without types
import { serveDemo } from './fixtures/serve-demo.mjs';

const SHARED = path.resolve(ROOT, '../shared/data/tatoeba-fra-eng/fra-eng.tsv');
const dir = tempDir('vaekit-translate-');
const data = path.join(dir, 'pairs.tsv');

before(async () => {
  assert.ok(existsSync(SHARED), `${SHARED} is missing (CI has ../shared beside the checkout)`);
  // 1,500 short pairs: a vocabulary small enough for tiny models to learn something in a few steps.
  writeFileSync(data, readFileSync(SHARED, 'utf8').split('\n').slice(2000, 3500).join('\n') + '\n');
  // Training on WASM with vaekit's native kernels (the fused GRU), as users train.
  await initBackend('wasm');
});

function config(overrides: Partial<TranslateTrainConfig> = {}): TranslateTrainConfig {
  return defaultTranslateConfig({
    embedding: 16,
    hidden: 16,
    epochs: 2,
    batchSize: 32,
    learningRate: 5e-3,
    ...overrides,
    data: { ...defaultTranslateConfig().data, source: data, maxTokens: 8, minCount: 1, trainLimit: 128, evalLimit: 24, ...(overrides.data ?? {}) },
  });
}

test('TSV lines are checked one by one and the split groups pairs by target sentence', () => {
  assert.throws(() => parseParallelTsv('Hi.\tSalut.\nno tab here\n', { reverse: false, name: 'x.tsv' }), (e: unknown) => e instanceof TrainerError && /x\.tsv line 2 has no tab/.test(e.message));
  assert.throws(() => parseParallelTsv('Hi.\t \n', { reverse: false }), /line 1 has an empty source side/);
  assert.throws(() => parseParallelTsv('\tSalut.\n', { reverse: false }), /line 1 has an empty target side/);
  const [p] = parseParallelTsv('Salut.\tHi.\textra column\n', { reverse: true });
  assert.deepEqual({ source: p!.source, target: p!.target, line: p!.line }, { source: 'Salut.', target: 'Hi.', line: 1 });

  const pairs = parseParallelTsv(readFileSync(data, 'utf8'), { reverse: false });
  const c = config({ data: { ...config().data, trainLimit: 0, evalLimit: 0 } }).data;
  const a = prepareParallel(pairs, c, 1);
  const b = prepareParallel(pairs, c, 1);
  assert.deepEqual(a.test.targetText, b.test.targetText, 'the split is seeded');
  const seen = new Map<string, string>();
  for (const [name, set] of [['train', a.train], ['valid', a.valid], ['test', a.test]] as const) {
    for (const t of set.targetText) {
      assert.ok(!seen.has(t) || seen.get(t) === name, `"${t}" is in ${seen.get(t)} and ${name}`);
      seen.set(t, name);
    }
  }
  assert.ok(a.valid.source.length > 0 && a.test.source.length > 0);
  assert.ok(a.stats.kept <= a.stats.pairs);
  // Vocabulary from the training split only.
  const trainWords = new Set(a.train.sourceText.flatMap((s) => s.toLowerCase().split(/\s+/)));
  assert.ok(a.sourceTokenizer.vocabSize <= 4 + trainWords.size * 3);
});

let baselineDir = '';

test('a killed run resumes to the same weights as an uninterrupted one', async () => {
  const whole = path.join(dir, 'whole');
  baselineDir = whole;
  await trainTranslate(config(), whole);
  const killed = path.join(dir, 'killed');
  await assert.rejects(
    trainTranslate(config(), killed, {
      onEpoch: (m) => {
        if (m.epoch === 1) throw new Error('killed');
      },
    }),
    /killed/,
  );
  await resumeTranslate(killed);
  const [x, y] = [await loadCheckpoint(whole), await loadCheckpoint(killed)];
  try {
    for (const key of ['encoder', 'decoder'] as const) {
      const wx = x[key]!.getWeights();
      const wy = y[key]!.getWeights();
      assert.equal(wx.length, wy.length);
      wx.forEach((w, i) => assert.deepEqual(w.dataSync(), wy[i]!.dataSync(), `${key} weight ${i} differs`));
    }
    assert.equal(x.state.step, y.state.step);
  } finally {
    x.dispose();
    y.dispose();
  }
  const lines = (await fs.readFile(path.join(killed, 'metrics.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(lines.length, 2);
});

test('--init starts VNMT exactly where the baseline is, and refuses runs of another kind or shape', async () => {
  const base = await loadTranslateRun(baselineDir);
  const vnmtConfig = config({ latent: 4, init: baselineDir });
  const init = await readInitWeights(baselineDir, base.corpus);
  const vnmt = buildSeq2Seq(vnmtConfig, { sourceVocab: base.corpus.sourceTokenizer.vocabSize, targetVocab: base.corpus.targetTokenizer.vocabSize, seqLength: base.corpus.seqLength });
  try {
    assert.ok(applyInitWeights(vnmt, init) > 5);
    const sources = base.corpus.test.source.slice(0, 12);
    const before = await translateIds(base.models, sources, { strategy: 'greedy' });
    const after = await translateIds(vnmt, sources, { strategy: 'greedy' });
    // z enters through zero weights: the warm-started model translates exactly as the baseline.
    assert.deepEqual(after.map((s) => s.tokens), before.map((s) => s.tokens));
    const wide = buildSeq2Seq(config({ hidden: 24 }), { sourceVocab: base.corpus.sourceTokenizer.vocabSize, targetVocab: base.corpus.targetTokenizer.vocabSize, seqLength: base.corpus.seqLength });
    assert.throws(() => applyInitWeights(wide, init), (e: unknown) => e instanceof TrainerError && /has hidden 16, this run 24/.test(e.message));
    wide.encoder.dispose();
    wide.decoder.dispose();
  } finally {
    init.dispose();
    vnmt.encoder.dispose();
    vnmt.decoder.dispose();
    base.dispose();
  }
  const textRun = path.join(dir, 'text-run');
  await fs.mkdir(textRun, { recursive: true });
  await fs.writeFile(path.join(textRun, 'config.json'), JSON.stringify({ kind: 'text', latent: 8, epochs: 1, batchSize: 1, learningRate: 1, beta: 1, seed: 1 }));
  await assert.rejects(trainTranslate(config({ latent: 4, init: textRun }), path.join(dir, 'never')), /is a text run; it must be a translate run/);
  assert.equal(existsSync(path.join(dir, 'never')), false, 'nothing written');
});

test('a VNMT + variational attention run exports with parity and the checker, and the runtime translates as tfjs', async (t) => {
  const runDir = path.join(dir, 'varatt');
  await trainTranslate(config({ latent: 4, attention: 'variational', attentionScore: 'multiplicative', epochs: 1, freeBits: 0.1 }), runDir);
  const run = await loadTranslateRun(runDir);
  const bundleDir = path.join(dir, 'varatt-bundle');
  try {
    const result = await exportBundle(
      { kind: 'seq2seq', encoder: run.models.encoder, decoder: run.models.decoder, sourceTokenizer: run.corpus.sourceTokenizer, targetTokenizer: run.corpus.targetTokenizer } as never,
      bundleDir,
    );
    for (const report of Object.values(result.parity)) for (const e of Object.values(report.maxAbsError)) assert.ok(e <= 1e-4);
    await runOnnxChecker(t, [path.join(bundleDir, 'encoder.onnx'), path.join(bundleDir, 'decoder_step.onnx')]);
    // The webgl variant (WebGL lacks GRU, ReduceSum and Max: recurrences unrolled, the masked mean as products).
    const webglDir = path.join(dir, 'varatt-bundle-webgl');
    const webgl = await exportBundle(
      { kind: 'seq2seq', encoder: run.models.encoder, decoder: run.models.decoder, sourceTokenizer: run.corpus.sourceTokenizer, targetTokenizer: run.corpus.targetTokenizer } as never,
      webglDir,
      { webglVariant: true },
    );
    assert.deepEqual(Object.keys(webgl.parity).filter((g) => g.startsWith('webgl/')).sort(), ['webgl/decoder_step', 'webgl/encoder']);
    for (const report of Object.values(webgl.parity)) for (const e of Object.values(report.maxAbsError)) assert.ok(e <= 1e-4);
    await runOnnxChecker(t, [path.join(webglDir, 'webgl', 'encoder.onnx'), path.join(webglDir, 'webgl', 'decoder_step.onnx')]);
    const translator = await loadVae(bundleDir, { kind: 'seq2seq' });
    try {
      const set = run.corpus.test;
      const n = 12;
      for (const strategy of ['greedy', 'beam'] as const) {
        const expected = (await translateIds(run.models, set.source.slice(0, n), { strategy, beamWidth: 3 })).map((s) => s.tokens);
        const got = (await translator.translate(set.sourceText.slice(0, n), { strategy, beamWidth: 3 })).map((x) => x[0]!.tokenIds);
        assert.deepEqual(got, expected, `${strategy}: ONNX and tfjs translations differ`);
      }
      const [[one]] = await translator.translate(set.sourceText[0]!, { attention: true });
      assert.equal(one!.attention!.length, one!.tokenIds.length);
      for (const row of one!.attention!) {
        assert.equal(row.length, one!.sourceTokens.length);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'attention rows sum to 1 over the source');
      }
      const [samples] = await translator.translate(set.sourceText[0]!, { n: 4, seed: 7 });
      assert.equal(samples!.length, 4);
      assert.notDeepEqual(samples![0]!.z, samples![1]!.z, 'each translation has its own z');
      const again = await translator.translate(set.sourceText[0]!, { n: 4, seed: 7 });
      assert.deepEqual(again[0]!.map((s) => s.text), samples!.map((s) => s.text), 'seeded');
      const streamed: number[] = [];
      for await (const e of translator.stream(set.sourceText[0]!)) streamed.push(e.tokenId);
      assert.deepEqual(streamed, one!.tokenIds);
      await assert.rejects(translator.translate(['', 'x']), /texts\[0\] has no words/);
    } finally {
      await translator.dispose();
    }
  } finally {
    run.dispose();
  }
});

test('CLI: bad input is one line and exit 2, with nothing written', () => {
  const bad = path.join(dir, 'bad.tsv');
  writeFileSync(bad, 'Hello.\tBonjour.\nThis line has no tab\n');
  const out = path.join(dir, 'cli-out');
  const common = ['train', 'translate', '--embedding', '8', '--hidden', '8', '--epochs', '1', '--out', out];
  const r1 = vaekit([...common, '--data', bad]);
  assert.equal(r1.code, 2, r1.stderr);
  assert.match(r1.stderr, /bad\.tsv line 2 has no tab/);
  assert.equal(r1.stderr.trim().split('\n').length, 1, r1.stderr);
  assert.equal(existsSync(out), false);
  writeFileSync(bad, 'Hello.\tBonjour.\n\tVide.\n');
  const r2 = vaekit([...common, '--data', bad]);
  assert.equal(r2.code, 2);
  assert.match(r2.stderr, /line 2 has an empty target side/);
  const r3 = vaekit([...common, '--data', data, '--attention', 'sparse']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /deterministic, variational/);
  const r4 = vaekit([...common, '--data', data, '--latent', '4', '--init', path.join(dir, 'text-run')]);
  assert.equal(r4.code, 2, r4.stderr);
  assert.match(r4.stderr, /is a text run; it must be a translate run/);
  assert.equal(existsSync(out), false);
  const r5 = vaekit(['translate', path.join(dir, 'varatt-bundle')]);
  assert.equal(r5.code, 2);
  assert.match(r5.stderr, /Nothing to translate/);
});

test('the demo page translates in Chromium (WASM, and WebGL with the webgl variant) as Node does and draws the attention heatmap', { timeout: 300_000 }, async (t) => {
  requireChromium(t, 'the translator demo test is');
  if (!HAVE_CHROMIUM) return;
  const node = await loadVae(path.join(dir, 'varatt-bundle'), { kind: 'seq2seq' });
  const sources = ['je suis fatigué .', "il fait froid aujourd'hui ."];
  const expected = (await node.translate(sources)).map((list) => list.map((x) => x.text));
  await node.dispose();
  // The same model exported twice: default graphs (run on WASM) and with the webgl variant (run on WebGL).
  for (const [bundle, backend] of [['varatt-bundle', 'wasm'], ['varatt-bundle-webgl', 'webgl']] as const) {
    const { url, proc } = await serveDemo(path.join(dir, bundle));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e: Error) => errors.push(e.message));
      await page.goto(`${url}?backend=${backend}`);
      type Demo = { ready: boolean; busy: number; translations?: string[][]; heatmap?: { rows: number; columns: number } };
      await page.waitForFunction(() => (globalThis as unknown as { vaekitDemo?: Demo }).vaekitDemo?.ready, null, { timeout: 180_000 });
      await page.waitForFunction(() => (globalThis as unknown as { vaekitDemo: Demo }).vaekitDemo.busy === 0, null, { timeout: 120_000 });
      const state = await page.evaluate(() => {
        const d = (globalThis as unknown as { vaekitDemo: Demo }).vaekitDemo;
        return { translations: d.translations, heatmap: d.heatmap, status: document.getElementById('status')?.textContent ?? '' };
      });
      assert.match(state.status, new RegExp(`seq2seq bundle on ${backend}`), state.status);
      assert.deepEqual(state.translations, expected, backend);
      // One column per source token on both (the webgl graphs take the source padded to their fixed length).
      assert.ok(state.heatmap && state.heatmap.columns === 4 && state.heatmap.rows > 0, JSON.stringify(state.heatmap));
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      proc.kill();
    }
  }
});
