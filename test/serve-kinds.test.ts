/**
 * `vaekit serve` on the classifier and seq2seq kinds: `:classify`, `:encode` and `:translate` give
 * what the runtime gives for the same bundle (the server runs the runtime's own facade over batched
 * sessions), their graphs are Open Inference Protocol models, concurrent requests share batches, and
 * a task on a bundle of another kind is a 400 naming the kinds that have it.
 */
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadVae, type TextClassifier, type Translator } from '@vaekit/runtime';
import { syntheticReviews } from './fixtures/reviews.mjs';
import { ROOT, tempDir, vaekitOk } from './helpers.js';
import { postOk, request, startServe, type ServeProcess } from './serve-helpers.js';

let server: ServeProcess;
let classifier: TextClassifier;
let translator: Translator;

before(async () => {
  const dir = tempDir('vaekit-serve-kinds-');
  const reviews = path.join(dir, 'reviews.jsonl');
  await fs.writeFile(reviews, syntheticReviews(300).map((r) => JSON.stringify(r)).join('\n') + '\n');
  vaekitOk(['train', 'classify', '--data', reviews, '--model', 'm1', '--encoder', 'bow', '--bow-skip', '0', '--labels', '40', '--valid-size', '20', '--max-length', '12', '--min-count', '1', '--latent', '4', '--hidden', '12', '--epochs', '2', '--out', path.join(dir, 'cls-run')]);
  vaekitOk(['export', path.join(dir, 'cls-run'), path.join(dir, 'reviews')]);
  const pairs = path.join(dir, 'pairs.tsv');
  await fs.writeFile(pairs, readFileSync(path.resolve(ROOT, '../shared/data/tatoeba-fra-eng/fra-eng.tsv'), 'utf8').split('\n').slice(2000, 2600).join('\n') + '\n');
  vaekitOk(['train', 'translate', '--data', pairs, '--embedding', '8', '--hidden', '8', '--latent', '2', '--epochs', '1', '--min-count', '1', '--limit', '64', '--eval-limit', '8', '--batch-size', '32', '--out', path.join(dir, 's2s-run')]);
  vaekitOk(['export', path.join(dir, 's2s-run'), path.join(dir, 'fr-en')]);
  classifier = await loadVae(path.join(dir, 'reviews'), { kind: 'classifier' });
  translator = await loadVae(path.join(dir, 'fr-en'), { kind: 'seq2seq' });
  server = await startServe([path.join(dir, 'reviews'), path.join(dir, 'fr-en'), '--workers', '1', '--max-batch', '64']);
});

after(async () => {
  await classifier?.dispose();
  await translator?.dispose();
  const code = await server?.stop();
  assert.equal(code, 0, `vaekit serve should exit 0 after SIGTERM:\n${server?.output()}`);
});

const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;

test(':classify and :encode of a classifier bundle give the runtime outputs; concurrent requests share batches', async () => {
  const texts = ['the movie was great and superb', 'awful boring film', 'a story', 'lovely brilliant scene'];
  const got = await postOk(`${server.url}/v1/models/reviews:classify`, { texts });
  const want = await classifier.classify(texts);
  assert.equal(got.classifications.length, texts.length);
  got.classifications.forEach((c: { label: string; probabilities: Record<string, number> }, i: number) => {
    assert.equal(c.label, want[i]!.label);
    for (const [name, p] of Object.entries(want[i]!.probabilities)) assert.ok(close(c.probabilities[name]!, p), `${texts[i]}: p(${name})`);
  });
  const enc = await postOk(`${server.url}/v1/models/reviews:encode`, { sentences: texts });
  const ref = await classifier.encode(texts);
  assert.ok(enc.mu.every((row: number[], i: number) => row.every((v, j) => close(v, ref.mu[i]![j]!))));

  // 24 one-text requests at once: fewer ONNX Runtime calls than requests, each answer still its own.
  const many = Array.from({ length: 24 }, (_, i) => texts[i % texts.length]!);
  const answers = await Promise.all(many.map((t) => postOk(`${server.url}/v1/models/reviews:classify`, { texts: [t] })));
  answers.forEach((a, i) => assert.equal(a.classifications[0].label, want[i % texts.length]!.label));
  const metrics = (await request(`${server.url}/metrics`, 'GET')).body;
  const count = Number(/vaekit_batch_requests_count\{model="reviews_classify"\} (\d+)/.exec(metrics)?.[1]);
  const sum = Number(/vaekit_batch_requests_sum\{model="reviews_classify"\} (\d+)/.exec(metrics)?.[1]);
  assert.ok(sum === 25 && count < sum, `classify batches: ${count} runs for ${sum} requests`);

  // Its graphs are Open Inference Protocol models.
  const meta = (await request(`${server.url}/v2/models/reviews_classify`, 'GET')).json();
  assert.deepEqual(meta.outputs.map((t: { name: string }) => t.name), ['probabilities']);
});

test(':translate of a seq2seq bundle gives the runtime translations (greedy, beam, several sampled, attention)', async () => {
  const sources = ['je suis là .', 'bonjour', 'il est fatigué .'];
  for (const options of [{}, { strategy: 'beam' as const, beamWidth: 3 }, { n: 3, seed: 4, strategy: 'sample' as const, latent: 'sample' as const }, { attention: true, maxTokens: 6 }]) {
    const got = await postOk(`${server.url}/v1/models/fr-en:translate`, { texts: sources, ...options });
    const want = await translator.translate(sources, options);
    assert.deepEqual(
      got.translations.map((list: Array<{ text: string }>) => list.map((t) => t.text)),
      want.map((list) => list.map((t) => t.text)),
      JSON.stringify(options),
    );
    got.translations.forEach((list: Array<{ logprob: number; attention?: number[][] }>, i: number) =>
      list.forEach((t, j) => {
        assert.ok(Math.abs(t.logprob - want[i]![j]!.logprob) < 1e-4);
        if (options.attention) assert.equal(t.attention!.length, want[i]![j]!.attention!.length);
      }),
    );
  }
});

test('a task on a bundle of another kind, or bad input to a facade, is a 400 with one line', async () => {
  for (const [url, body, pattern] of [
    [`${server.url}/v1/models/fr-en:classify`, { texts: ['bonjour'] }, /classify is for classifier bundles; bundle "fr-en" is a seq2seq bundle/],
    [`${server.url}/v1/models/reviews:translate`, { texts: ['hello'] }, /translate is for seq2seq bundles/],
    [`${server.url}/v1/models/reviews:classify`, { texts: [] }, /Invalid request body/],
    [`${server.url}/v1/models/fr-en:translate`, { texts: ['bonjour'], strategy: 'nope' }, /Invalid request body/],
  ] as const) {
    const r = await request(url, 'POST', body);
    assert.equal(r.status, 400, r.body);
    assert.match(r.json().error, pattern);
  }
});
