import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyRepetitionPenalty,
  argmax,
  beamScore,
  beamSearch,
  chooseToken,
  coalesceSteps,
  decodeBatch,
  decodeSteps,
  logSoftmax,
  resolveDecodingOptions,
  sampleFromLogProbs,
  topKFilter,
  topPFilter,
  type StepFn,
} from './decoding.js';
import { InputError } from './errors.js';
import { createRng } from './rng.js';

const BOS = 2;
const EOS = 3;
const special = { bos: BOS, eos: EOS };
const logits = (probs: number[]) => Float32Array.from(probs, (p) => (p > 0 ? Math.log(p) : -Infinity));
const kept = (a: Float32Array) => Array.from(a, (v, i) => (v === -Infinity ? -1 : i)).filter((i) => i >= 0);

/** A "model" given as a table from the generated prefix (comma-joined) to next-token probabilities. */
function tableStep(table: Record<string, number[]>): StepFn<string> {
  return async (tokens, states) => {
    const next = states.map((s, r) => (s === '' && tokens[r] === BOS ? '' : s === '' ? `${tokens[r]}` : `${s},${tokens[r]}`));
    return {
      logits: next.map((prefix) => {
        const probs = table[prefix];
        if (!probs) throw new Error(`no row for prefix "${prefix}"`);
        return logits(probs);
      }),
      states: next,
    };
  };
}

describe('decoding strategies', () => {
  it('log-softmax normalises and respects temperature', () => {
    const lp = logSoftmax([1, 2, 3]);
    assert.ok(Math.abs(lp.reduce((s, v) => s + Math.exp(v), 0) - 1) < 1e-12);
    assert.ok(Math.abs(lp[2]! - (3 - Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)))) < 1e-12);
    const hot = logSoftmax([1, 2, 3], 100);
    assert.ok(Math.abs(Math.exp(hot[0]!) - 1 / 3) < 0.01, 'high temperature flattens');
    assert.equal(logSoftmax([0, -Infinity])[1], -Infinity);
  });

  it('greedy picks the largest logit, ties to the lowest index', () => {
    assert.equal(argmax([0.1, 0.7, 0.7, 0.2]), 1);
    const o = resolveDecodingOptions();
    const c = chooseToken(logits([0.1, 0.6, 0.3]), [], o, createRng(0));
    assert.equal(c.token, 1);
    assert.ok(Math.abs(c.logprob - Math.log(0.6)) < 1e-6);
  });

  it('top-k keeps exactly the k largest', () => {
    assert.deepEqual(kept(topKFilter([0.5, 3, -1, 2, 1], 2)), [1, 3]);
    assert.deepEqual(kept(topKFilter([1, 2, 3], 0)), [0, 1, 2]);
  });

  it('top-p keeps the smallest set whose probability reaches p', () => {
    const l = logits([0.05, 0.5, 0.1, 0.3, 0.05]);
    // Sorted: 0.5, 0.3, 0.1, 0.05, 0.05. Cumulative 0.5, 0.8, 0.9 ...
    assert.deepEqual(kept(topPFilter(l, 0.5)), [1], '0.5 alone reaches 0.5');
    assert.deepEqual(kept(topPFilter(l, 0.51)), [1, 3]);
    assert.deepEqual(kept(topPFilter(l, 0.8)), [1, 3], 'exactly reaching p stops there');
    assert.deepEqual(kept(topPFilter(l, 0.85)), [1, 2, 3]);
    assert.deepEqual(kept(topPFilter(l, 0.01)), [1], 'the top token is always kept');
    assert.deepEqual(kept(topPFilter(l, 1)), [0, 1, 2, 3, 4]);
  });

  it('sampling draws tokens in proportion to their probability, only from the nucleus', () => {
    const o = resolveDecodingOptions({ strategy: 'sample', topP: 0.8 });
    const rng = createRng(7);
    const counts = [0, 0, 0, 0, 0];
    const l = logits([0.05, 0.5, 0.1, 0.3, 0.05]);
    for (let i = 0; i < 20_000; i++) counts[chooseToken(l, [], o, rng).token]!++;
    assert.equal(counts[0]! + counts[2]! + counts[4]!, 0);
    // Renormalised nucleus: 0.5/0.8 = 0.625 and 0.3/0.8 = 0.375.
    assert.ok(Math.abs(counts[1]! / 20_000 - 0.625) < 0.015, `got ${counts[1]}`);
    const freq = [0, 0, 0];
    const r2 = createRng(3);
    for (let i = 0; i < 30_000; i++) freq[sampleFromLogProbs(logSoftmax(logits([0.2, 0.3, 0.5])), r2)]!++;
    assert.deepEqual(freq.map((f) => Math.round((f / 30_000) * 10) / 10), [0.2, 0.3, 0.5]);
  });

  it('top-k and temperature change what sampling can return', () => {
    const rng = createRng(1);
    const topK = resolveDecodingOptions({ strategy: 'sample', topK: 1 });
    for (let i = 0; i < 200; i++) assert.equal(chooseToken(logits([0.3, 0.4, 0.3]), [], topK, rng).token, 1);
    const cold = resolveDecodingOptions({ strategy: 'sample', temperature: 0.05 });
    for (let i = 0; i < 200; i++) assert.equal(chooseToken(logits([0.3, 0.4, 0.3]), [], cold, rng).token, 1);
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens', () => {
    assert.deepEqual(Array.from(applyRepetitionPenalty([2, -2, 1], [0, 1, 0], 2)), [1, -4, 1]);
    const o = resolveDecodingOptions({ repetitionPenalty: 3 });
    assert.equal(chooseToken([2, 1.5, 0], [], o, createRng(0)).token, 0);
    assert.equal(chooseToken([2, 1.5, 0], [0], o, createRng(0)).token, 1);
  });

  it('seeded sampling repeats exactly and differs between seeds', async () => {
    const step: StepFn<number> = async (tokens, states) => ({
      logits: tokens.map((t) => logits([0.1, 0.2, 0.05, 0.05, 0.3, 0.3].map((p, i) => (i === t ? p / 2 : p)))),
      states,
    });
    const run = (seed: number) => decodeBatch(step, [0, 0, 0], special, resolveDecodingOptions({ strategy: 'sample', seed, maxTokens: 12 }));
    const a = await run(5);
    assert.deepEqual(await run(5), a);
    assert.notDeepEqual((await run(6)).map((s) => s.tokens), a.map((s) => s.tokens));
    // A sequence's tokens do not depend on the batch it is generated in.
    const single = await decodeBatch(step, [0], special, resolveDecodingOptions({ strategy: 'sample', seed: 5, maxTokens: 12 }));
    assert.deepEqual(single[0], a[0]);
  });

  it('stops each sequence at <eos> or maxTokens and reports per-token log-probs', async () => {
    const table = { '': [0, 0, 0, 0.1, 0.9], '4': [0, 0, 0, 0.8, 0.2] };
    const [s] = await decodeBatch(tableStep(table), [''], special, resolveDecodingOptions());
    assert.deepEqual(s!.tokens, [4, EOS]);
    assert.equal(s!.finished, true);
    assert.ok(Math.abs(s!.logprobs[0]! - Math.log(0.9)) < 1e-6 && Math.abs(s!.logprob - Math.log(0.72)) < 1e-6);
    const [cut] = await decodeBatch(tableStep(table), [''], special, resolveDecodingOptions({ maxTokens: 1 }));
    assert.deepEqual(cut!.tokens, [4]);
    assert.equal(cut!.finished, false);
    const events = [];
    for await (const e of decodeSteps(tableStep(table), ['', ''], special, resolveDecodingOptions())) events.push(e);
    assert.deepEqual(events.map((e) => [e.index, e.token, e.done]), [[0, 4, false], [1, 4, false], [0, EOS, true], [1, EOS, true]]);
  });

  it('beam search finds the highest-scoring sequence where greedy does not', async () => {
    // Greedy takes A (0.6) then can only reach <eos> with 0.3: total 0.18.
    // B (0.4) then <eos> (0.9) scores 0.36: beam search with width 2 finds it.
    const A = 4;
    const B = 5;
    const table: Record<string, number[]> = {
      '': [0, 0, 0, 0, 0.6, 0.4],
      [`${A}`]: [0, 0, 0, 0.3, 0.35, 0.35],
      [`${B}`]: [0, 0, 0, 0.9, 0.05, 0.05],
      [`${A},${A}`]: [0, 0, 0, 0.5, 0.25, 0.25],
      [`${A},${B}`]: [0, 0, 0, 0.5, 0.25, 0.25],
      [`${B},${A}`]: [0, 0, 0, 0.5, 0.25, 0.25],
      [`${B},${B}`]: [0, 0, 0, 0.5, 0.25, 0.25],
    };
    const opts = { maxTokens: 3, lengthPenalty: 0 };
    const [greedy] = await decodeBatch(tableStep(table), [''], special, resolveDecodingOptions(opts));
    assert.deepEqual(greedy!.tokens, [A, A, EOS]);
    assert.ok(Math.abs(Math.exp(greedy!.logprob) - 0.6 * 0.35 * 0.5) < 1e-6);
    const beam = await beamSearch(tableStep(table), '', special, resolveDecodingOptions({ ...opts, strategy: 'beam', beamWidth: 2 }));
    assert.deepEqual(beam.tokens, [B, EOS]);
    assert.ok(Math.abs(Math.exp(beam.logprob) - 0.36) < 1e-6);
    assert.ok(beam.logprob > greedy!.logprob);
    // Width 1 is greedy.
    const narrow = await beamSearch(tableStep(table), '', special, resolveDecodingOptions({ ...opts, strategy: 'beam', beamWidth: 1 }));
    assert.deepEqual(narrow.tokens, [A, A, EOS]);
  });

  it('coalesceSteps batches concurrent beam searches into shared step calls with unchanged results', async () => {
    const tables: Array<Record<string, number[]>> = [
      { '': [0, 0, 0, 0.3, 0.7], '4': [0, 0, 0, 0.35, 0.65], '4,4': [0, 0, 0, 0.6, 0.4] },
      { '': [0, 0, 0, 0, 0.6, 0.4], '4': [0, 0, 0, 0.3, 0.35, 0.35], '5': [0, 0, 0, 0.9, 0.05, 0.05], '4,4': [0, 0, 0, 1, 0, 0], '4,5': [0, 0, 0, 1, 0, 0], '5,4': [0, 0, 0, 1, 0, 0], '5,5': [0, 0, 0, 1, 0, 0] },
    ];
    // States carry their table's index; the step answers each row from its own table.
    const step: StepFn<{ table: number; prefix: string }> = async (tokens, states) => {
      calls.push(tokens.length);
      const next = states.map((s, i) => ({ table: s.table, prefix: s.prefix === '\u0000' ? '' : s.prefix === '' ? `${tokens[i]}` : `${s.prefix},${tokens[i]}` }));
      return { logits: next.map((s) => Float32Array.from(tables[s.table]![s.prefix]!.map((p) => Math.log(p)))), states: next };
    };
    const calls: number[] = [];
    const opts = resolveDecodingOptions({ strategy: 'beam', beamWidth: 2, lengthPenalty: 0, maxTokens: 3 });
    const alone = [];
    for (let t = 0; t < tables.length; t++) alone.push(await beamSearch(step, { table: t, prefix: '\u0000' }, special, opts));
    const aloneCalls = calls.length;
    calls.length = 0;
    const shared = coalesceSteps(step);
    const together = await Promise.all(tables.map((_, t) => beamSearch(shared, { table: t, prefix: '\u0000' }, special, opts)));
    assert.deepEqual(together, alone);
    assert.ok(calls.length < aloneCalls && calls[0] === 2, `calls ${calls} vs ${aloneCalls} alone`);
  });

  it('length penalty trades log-probability against length', async () => {
    // <eos> at once: 0.3; X <eos>: 0.245; X X <eos>: 0.273. Raw log-probability prefers the shortest,
    // the per-token score the longest.
    const table: Record<string, number[]> = { '': [0, 0, 0, 0.3, 0.7], '4': [0, 0, 0, 0.35, 0.65], '4,4': [0, 0, 0, 0.6, 0.4] };
    const run = (lengthPenalty: number) =>
      beamSearch(tableStep(table), '', special, resolveDecodingOptions({ strategy: 'beam', beamWidth: 3, lengthPenalty, maxTokens: 3 }));
    assert.deepEqual((await run(0)).tokens, [EOS]);
    const long = await run(1);
    assert.deepEqual(long.tokens, [4, 4, EOS], 'per token: log(0.7*0.65*0.6)/3 beats log(0.245)/2 and log(0.3)');
    assert.ok(Math.abs(long.score - beamScore(long.logprob, 3, 1)) < 1e-12);
  });

  it('rejects bad options with a message naming the value and what is accepted', () => {
    assert.throws(() => resolveDecodingOptions({ strategy: 'nucleus' as never }), (e: Error) => e instanceof InputError && /greedy, sample, beam/.test(e.message));
    assert.throws(() => resolveDecodingOptions({ topP: 0 }), /topP/);
    assert.throws(() => resolveDecodingOptions({ topP: 1.5 }), /topP/);
    assert.throws(() => resolveDecodingOptions({ topK: -1 }), /topK/);
    assert.throws(() => resolveDecodingOptions({ temperature: 0 }), /temperature/);
    assert.throws(() => resolveDecodingOptions({ maxTokens: 0 }), /maxTokens/);
    assert.throws(() => resolveDecodingOptions({ beamWidth: 0 }), /beamWidth/);
    assert.throws(() => resolveDecodingOptions({ repetitionPenalty: 0 }), /repetitionPenalty/);
    assert.throws(() => resolveDecodingOptions({ seed: 1.5 }), /seed/);
  });
});

describe('topIndices', () => {
  it('returns the k largest in descending order, ties by lowest index, like a full sort', async () => {
    const { topIndices } = await import('./decoding.js');
    const rng = createRng(4);
    for (let trial = 0; trial < 50; trial++) {
      const values = Array.from({ length: 200 }, () => Math.round(rng.normal() * 3));
      const sorted = values.map((_, i) => i).sort((a, b) => values[b]! - values[a]! || a - b);
      for (const k of [1, 3, 8]) assert.deepEqual(topIndices(values, k), sorted.slice(0, k));
    }
  });
});
