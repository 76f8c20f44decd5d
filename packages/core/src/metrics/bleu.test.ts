import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { corpusBleu, corpusChrf, sentenceBleu, tokenize13a, type BleuOptions } from './bleu.js';
import { distinctN, selfBleu } from './diversity.js';

// Values produced by sacreBLEU 2.6.0 (Python) itself; the file lives beside the checkout (CI has it).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const golden = JSON.parse(readFileSync(path.join(root, '../shared/fixtures/sacrebleu-golden.json'), 'utf8')) as {
  cases: Array<Record<string, any>>;
};

function close(actual: number, expected: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs sacreBLEU ${expected}`,
  );
}

function bleuOptions(options: Record<string, unknown>): BleuOptions {
  const out: BleuOptions = {};
  if (options.lowercase !== undefined) out.lowercase = options.lowercase as boolean;
  if (options.tokenize !== undefined) out.tokenize = options.tokenize as BleuOptions['tokenize'];
  if (options.smooth_method !== undefined) out.smoothMethod = options.smooth_method as BleuOptions['smoothMethod'];
  if (options.smooth_value !== undefined) out.smoothValue = options.smooth_value as number;
  if (options.use_effective_order !== undefined) out.effectiveOrder = options.use_effective_order as boolean;
  return out;
}

for (const c of golden.cases) {
  test(`sacreBLEU golden: ${c.name} (${c.kind})`, () => {
    if (c.kind === 'corpus_bleu') {
      const got = corpusBleu(c.hypotheses, c.references, bleuOptions(c.options));
      close(got.score, c.score, 'score');
      assert.deepEqual(got.counts, c.counts, 'counts');
      assert.deepEqual(got.totals, c.totals, 'totals');
      got.precisions.forEach((p, i) => close(p, c.precisions[i], `precision ${i + 1}`));
      close(got.bp, c.bp, 'bp');
      assert.equal(got.sysLen, c.sys_len);
      assert.equal(got.refLen, c.ref_len);
      assert.equal(got.signature, c.signature);
    } else if (c.kind === 'sentence_bleu') {
      assert.ok(c.pairs.length > 0);
      for (const pair of c.pairs) {
        const got = sentenceBleu(pair.hypothesis, [pair.reference], bleuOptions(c.options));
        close(got.score, pair.score, `${JSON.stringify(pair.hypothesis)} vs ${JSON.stringify(pair.reference)}`);
        assert.equal(got.signature, c.signature);
      }
    } else if (c.kind === 'corpus_chrf') {
      const got = corpusChrf(c.hypotheses, c.references, c.options);
      close(got.score, c.score, 'chrF');
      assert.equal(got.signature, c.signature);
    } else {
      assert.fail(`unknown case kind ${c.kind}`);
    }
  });
}

test('13a tokenizer splits punctuation but keeps numbers whole', () => {
  assert.equal(tokenize13a("It costs $3.50, doesn't it?"), "It costs $ 3.50 , doesn't it ?");
  assert.equal(tokenize13a('Call 555-1234 now.'), 'Call 555 - 1234 now .');
  assert.equal(tokenize13a('a &amp; b'), 'a & b');
});

test('BLEU refuses mismatched reference streams', () => {
  assert.throws(() => corpusBleu(['a', 'b'], ['a']), /one line per hypothesis/);
});

test('multiple reference streams: the best match counts and the closest length is used', () => {
  const one = corpusBleu(['the cat sat on the mat'], [['a cat is on a mat'], ['the cat sat on the mat']]);
  assert.ok(Math.abs(one.score - 100) < 1e-9);
  assert.equal(one.signature.startsWith('nrefs:2|'), true);
});

test('distinct-n and self-BLEU', () => {
  assert.equal(distinctN(['a b c', 'a b d'], 1), 4 / 6);
  assert.equal(distinctN(['a b c', 'a b d'], 2), 3 / 4);
  assert.equal(distinctN([], 2), 0);
  assert.equal(selfBleu(['i am tired .', 'i am tired .']), sentenceBleu('i am tired .', ['i am tired .']).score);
  assert.ok(selfBleu(['i am tired .', 'you look happy today']) < 20);
  assert.throws(() => selfBleu(['one']), /at least two/);
});
