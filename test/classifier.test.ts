/**
 * The classifier kind end to end: `vaekit train classify` -> `vaekit eval` -> `vaekit export` (parity
 * against tfjs <= 1e-4 and the official ONNX checker on every graph) -> the runtime's `classify`, which
 * agrees with tfjs on the same texts, `encode`, and M2's `generate({ label })`; `vaekit classify`; bad
 * input is one line, exit 2, and leaves no run folder behind.
 */
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { loadVae } from '@vaekit/runtime';
import { classifierInput, initBackend, loadClassifierRun, readRunTokenizer } from '@vaekit/trainer';
import { runOnnxChecker } from '../packages/exporter/src/test-helpers.js';
import { syntheticReviews } from './fixtures/reviews.mjs';
import { tempDir, vaekit, vaekitOk } from './helpers.js';

let dir: string;
let data: string;
const small = ['--bow-skip', '0', '--labels', '40', '--valid-size', '40', '--max-length', '12', '--min-count', '1', '--latent', '4', '--embedding', '8', '--hidden', '12', '--batch-size', '32', '--lr', '0.01'];
const texts = ['the movie was great and superb', 'awful boring film', 'a story'];

before(async () => {
  dir = tempDir('vaekit-classifier-');
  data = path.join(dir, 'reviews.jsonl');
  await fs.writeFile(data, syntheticReviews(400).map((r) => JSON.stringify(r)).join('\n') + '\n');
  await initBackend('cpu');
});

async function tfjsProbabilities(runDir: string, inputs: string[]): Promise<number[][]> {
  const run = await loadClassifierRun(runDir);
  const tokenizer = await readRunTokenizer(runDir);
  try {
    const ids = inputs.map((t) => Int32Array.from(tokenizer.encode(t).slice(0, run.config.data.maxLength)));
    const x = classifierInput(run.config, ids, tokenizer.vocabSize, run.config.data.maxLength + 1);
    const p = tf.tidy(() => run.views.classify.predict(x) as tf.Tensor2D);
    const rows = (await p.array()) as number[][];
    tf.dispose([x, p]);
    return rows;
  } finally {
    run.dispose();
  }
}

for (const [model, encoder, epochs] of [
  ['supervised', 'bow', '12'],
  ['m1', 'gru', '1'],
  ['m2', 'gru', '1'],
] as const) {
  test(`${model} ${encoder}: train, eval, export (parity, checker), classify with the runtime as tfjs does`, async (t) => {
    const run = path.join(dir, `${model}-${encoder}`);
    const trained = JSON.parse(vaekitOk(['train', 'classify', '--data', data, '--model', model, '--encoder', encoder, '--epochs', epochs, ...small, '--out', run, '--json']).stdout);
    assert.equal(trained.epochs.length, Number(epochs));
    assert.equal(trained.test.examples, 64);
    const evaluated = JSON.parse(vaekitOk(['eval', run, '--json']).stdout);
    assert.deepEqual(evaluated.labels, ['negative', 'positive']);
    assert.equal(evaluated.test.accuracy, trained.test.accuracy);
    assert.equal(evaluated.test.confusion.flat().reduce((a: number, b: number) => a + b, 0), 64);
    assert.match(vaekitOk(['eval', run]).stdout, /balanced accuracy[\s\S]*AUPRC positive[\s\S]*confusion/);

    const bundle = path.join(dir, `${model}-${encoder}-bundle`);
    const exported = JSON.parse(vaekitOk(['export', run, bundle, '--json']).stdout) as { parity: Record<string, { maxAbsError: Record<string, number> }> };
    const graphs = model === 'supervised' ? ['classify'] : model === 'm1' ? ['classify', 'encoder'] : ['classify', 'encoder', 'decoder_init', 'decoder_step'];
    assert.deepEqual(Object.keys(exported.parity), graphs);
    for (const [g, r] of Object.entries(exported.parity)) assert.ok(Math.max(...Object.values(r.maxAbsError)) <= 1e-4, `${g} parity ${JSON.stringify(r.maxAbsError)}`);
    const files = (await fs.readdir(bundle)).filter((f) => f.endsWith('.onnx')).map((f) => path.join(bundle, f));
    await runOnnxChecker(t, files);

    const classifier = await loadVae(bundle, { kind: 'classifier' });
    try {
      assert.deepEqual(classifier.labels, ['negative', 'positive']);
      const results = await classifier.classify(texts);
      const want = await tfjsProbabilities(run, texts);
      results.forEach((r, i) => {
        assert.ok(Math.abs(r.probabilities.negative! - want[i]![0]!) <= 1e-4 && Math.abs(r.probabilities.positive! - want[i]![1]!) <= 1e-4, `text ${i}: ${JSON.stringify(r)} vs ${want[i]}`);
        assert.equal(r.label, want[i]![1]! > want[i]![0]! ? 'positive' : 'negative');
      });
      if (model !== 'supervised') {
        const { mu } = await classifier.encode(texts);
        assert.equal(mu.length, 3);
        assert.equal(mu[0]!.length, 4);
      } else await assert.rejects(classifier.encode(texts), /has no encoder/);
      if (model === 'm2') {
        const generated = await classifier.generate({ label: 'positive', n: 3, seed: 1, maxTokens: 8 });
        assert.equal(generated.length, 3);
        assert.ok(generated.every((g) => g.tokenIds.length > 0 && g.z.length === 4 + 2 && g.z[5] === 1));
        await assert.rejects(classifier.generate({ label: 'neutral' }), /Unknown label "neutral". Should be one of: negative, positive/);
      } else await assert.rejects(classifier.generate({ label: 'positive' }), /cannot generate/);
    } finally {
      await classifier.dispose();
    }
    const cli = JSON.parse(vaekitOk(['classify', bundle, ...texts, '--json']).stdout) as Array<{ text: string; label: string; probabilities: Record<string, number> }>;
    assert.deepEqual(cli.map((c) => c.text), texts);
    const lines = path.join(dir, 'lines.txt');
    await fs.writeFile(lines, texts.join('\n') + '\n\n');
    assert.equal(vaekitOk(['classify', bundle, '--file', lines]).stdout.trim().split('\n').length, 3);
  });
}

test('train classify: each --model gets its own defaults (m1: 8 epochs, latent 100), shown in --help; explicit flags win', async () => {
  const help = vaekitOk(['train', 'classify', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(help, /--epochs <n> .*\(default: 5; m1: 8\)/);
  assert.match(help, /--latent <z> latent size \(m1, m2\) \(default: 32; m1: 100\)/);
  const tinyData = ['--data', data, '--bow-skip', '0', '--labels', '20', '--valid-size', '20', '--max-length', '8', '--min-count', '1', '--hidden', '8', '--unlabeled-limit', '40', '--test-limit', '20'];
  const config = (run: string) => JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')) as { epochs: number; latent: number };
  const cases: Array<[string[], { epochs: number; latent: number }]> = [
    [['--model', 'm1'], { epochs: 8, latent: 100 }],
    [['--model', 'm1', '--epochs', '1', '--latent', '3'], { epochs: 1, latent: 3 }],
    [['--model', 'supervised'], { epochs: 5, latent: 32 }],
  ];
  for (const [args, expected] of cases) {
    const run = path.join(dir, `defaults-${args.join('')}`);
    vaekitOk(['train', 'classify', ...tinyData, ...args, '--out', run]);
    const c = config(run);
    assert.deepEqual({ epochs: c.epochs, latent: c.latent }, expected, args.join(' '));
  }
});

test('bad input: one line, exit 2, no run folder left behind', async () => {
  const bad = path.join(dir, 'bad.jsonl');
  await fs.writeFile(bad, '{"text": "fine", "label": "a"}\n{oops\n');
  const noText = path.join(dir, 'notext.jsonl');
  await fs.writeFile(noText, '{"label": "a"}\n');
  const oneClass = path.join(dir, 'one.jsonl');
  await fs.writeFile(oneClass, Array.from({ length: 50 }, (_, i) => JSON.stringify({ text: `text ${i}`, label: 'a' })).join('\n'));
  const cases: Array<[string[], RegExp]> = [
    [['--data', bad], /bad.jsonl line 2 is not JSON/],
    [['--data', noText], /notext.jsonl line 1 has no "text" string/],
    [['--data', oneClass], /labelled examples of 1 class\(es\)/],
    [['--data', data, '--labels', '100000'], /--labels 100000 asks for more labelled examples than the training split has/],
    [['--data', data, '--remedy', 'magic'], /Should be one of: none, inverse, effective, oversample, undersample, focal, augment, threshold/],
    [['--data', data, '--imbalance', '1'], /Expected a ratio R > 1/],
    [['--data', data, '--remedy', 'augment', '--model', 'm2'], /use it with --model m1/],
  ];
  for (const [args, message] of cases) {
    const out = path.join(dir, 'bad-run');
    const r = vaekit(['train', 'classify', ...args, '--max-length', '12', '--min-count', '1', '--valid-size', '10', '--epochs', '1', '--out', out]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('backend:') && !l.startsWith('(run with --help')).length, 1, r.stderr);
    assert.ok(!existsSync(out), `${args.join(' ')} left ${out} behind`);
  }
  const r = vaekit(['classify', path.join(dir, 'supervised-bow-bundle')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Nothing to classify/);
});
