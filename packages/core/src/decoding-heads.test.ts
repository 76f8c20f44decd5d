/**
 * Choosing tokens from a step graph's decoding heads (best id, top K, float64 log Z) must give exactly
 * what the whole-row path gives for the same seed: same token, same log-probability, same RNG use;
 * where the heads cannot decide (nucleus larger than K), they say so without drawing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  argmax,
  chooseToken,
  chooseTokenFromHeads,
  chooseTopPFromRow,
  collectSequences,
  decodeBatchSteps,
  decodeSteps,
  logSumExp,
  resolveDecodingOptions,
  stepNeed,
  topIndices,
  type BatchDecoder,
  type DecodingHeads,
  type DecodingOptions,
  type StepFn,
  type TokenChoice,
} from './decoding.js';
import { createRng } from './rng.js';

/** The heads of packed rows as the exporter's graph computes them (log Z split into hi + lo, nudged by `skew`). */
function headsOf(rows: ArrayLike<number>[], K: number, skew = 0): DecodingHeads {
  const n = rows.length;
  const h: Required<Omit<DecodingHeads, 'bestLogprob'>> = {
    k: K,
    bestId: new Int32Array(n),
    bestLogit: new Float32Array(n),
    topIds: new Int32Array(n * K),
    topLogits: new Float32Array(n * K),
    logZ: new Float32Array(2 * n),
  };
  rows.forEach((row, r) => {
    h.bestId[r] = argmax(row);
    h.bestLogit[r] = row[h.bestId[r]!]!;
    topIndices(row, K).forEach((id, j) => {
      h.topIds[r * K + j] = id;
      h.topLogits[r * K + j] = row[id]!;
    });
    const lse = logSumExp(row) + skew;
    h.logZ[2 * r] = Math.fround(lse);
    h.logZ[2 * r + 1] = Math.fround(lse - Math.fround(lse));
  });
  return h;
}

/** A logits row of `V` values with spread `scale` (small: flat, large: peaked). */
function randomRow(V: number, scale: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: V }, () => scale * rng.normal());
}

const CASES: DecodingOptions[] = [
  { strategy: 'greedy' },
  { strategy: 'sample', topP: 0.9 },
  { strategy: 'sample', topP: 0.5 },
  { strategy: 'sample', topK: 10 },
  { strategy: 'sample', topK: 64 },
  { strategy: 'sample', topK: 40, topP: 0.7 },
];

describe('decoding heads', () => {
  it("greedy takes the step graph's best_logprob when fetched, else best_logit - log Z", () => {
    const row = randomRow(500, 2, 11);
    const heads = headsOf([row], 8);
    const greedy = resolveDecodingOptions({ strategy: 'greedy' });
    const want = chooseToken(row, [], greedy, createRng(0));
    const viaLogZ = chooseTokenFromHeads(heads, 0, greedy, createRng(0))!;
    assert.equal(viaLogZ.token, want.token);
    assert.ok(Math.abs(viaLogZ.logprob - want.logprob) <= 4e-6);
    const bestLogprob = Float32Array.of(want.logprob);
    const viaHead = chooseTokenFromHeads({ k: 8, bestId: heads.bestId, bestLogit: new Float32Array(0), logZ: new Float32Array(0), bestLogprob }, 0, greedy, createRng(0))!;
    assert.deepEqual(viaHead, { token: want.token, logprob: bestLogprob[0] });
  });

  it('stepNeed: best for greedy, top for top-k (k <= K) / top-p at temperature 1, logits otherwise', () => {
    const need = (o: DecodingOptions, K = 64) => stepNeed(resolveDecodingOptions(o), K);
    assert.equal(need({}), 'best');
    assert.equal(need({ temperature: 2 }), 'best');
    assert.equal(need({}, 0), 'logits');
    assert.equal(need({ repetitionPenalty: 1.2 }), 'logits');
    assert.equal(need({ strategy: 'sample', topP: 0.9 }), 'top+logits');
    assert.equal(need({ strategy: 'sample', topP: 0.9, topK: 20 }), 'top');
    assert.equal(need({ strategy: 'sample', topK: 64 }), 'top');
    assert.equal(need({ strategy: 'sample', topK: 65 }), 'logits');
    assert.equal(need({ strategy: 'sample' }), 'logits');
    assert.equal(need({ strategy: 'sample', topP: 0.9, temperature: 0.7 }), 'logits');
  });

  it('equal to the whole-row choice whenever the heads decide; no draw when they do not', () => {
    const V = 500;
    const K = 64;
    let decided = 0;
    let undecided = 0;
    for (const o of CASES) {
      const options = resolveDecodingOptions(o);
      for (let i = 0; i < 150; i++) {
        const row = randomRow(V, [0.3, 1, 2, 4, 8][i % 5]!, 1000 + i);
        // log Z off either way by as much as the graph's float32 exponentials may put it.
        for (const skew of [0, 3e-6, -3e-6]) {
          const heads = headsOf([row], K, skew);
          const a = createRng(i);
          const b = createRng(i);
          const got = chooseTokenFromHeads(heads, 0, options, a);
          const want = chooseToken(row, [], options, b);
          if (got === undefined) {
            undecided++;
            assert.equal(options.topK, 0, 'top-k alone always fits in K');
            assert.equal(a.uniform(), createRng(i).uniform(), 'no draw when undecided');
            // Undecided only when the whole-row nucleus is larger than K (or on its boundary).
            const lse = logSumExp(row);
            const mass = topIndices(row, K).reduce((s, id) => s + Math.exp(row[id]! - lse), 0);
            assert.ok(mass < options.topP + 1e-9, `undecided with ${mass} of the mass in the top ${K}`);
            continue;
          }
          decided++;
          assert.equal(got.token, want.token, `${JSON.stringify(o)} row ${i}`);
          if (options.strategy === 'greedy') assert.ok(Math.abs(got.logprob - want.logprob) <= 4e-6);
          else assert.equal(got.logprob, want.logprob, 'same float64 log-probability');
          assert.equal(a.uniform(), b.uniform(), 'same RNG use');
        }
      }
    }
    assert.ok(decided > 1000 && undecided > 20, `${decided} decided, ${undecided} undecided`);
  });

  it('top-p from a whole row with the graph log Z (no full sort) equals chooseToken', () => {
    // The same token; the log-probability within float64 rounding (its normalizer is summed in another order).
    const sameChoice = (got: TokenChoice | undefined, want: TokenChoice, what: string) => {
      assert.ok(got, what);
      assert.equal(got.token, want.token, what);
      assert.ok(Math.abs(got.logprob - want.logprob) <= 1e-12 * Math.max(1, Math.abs(want.logprob)), `${what}: ${got.logprob} vs ${want.logprob}`);
    };
    const V = 3000;
    let decided = 0;
    for (const topP of [0.9, 0.5, 0.99]) {
      const options = resolveDecodingOptions({ strategy: 'sample', topP });
      for (let i = 0; i < 120; i++) {
        const row = randomRow(V, [0.2, 1, 3, 6][i % 4]!, 5000 + i);
        if (i % 7 === 0) row.fill(row[5]!, 10, 40); // ties: same value, decided by lower id
        if (i % 11 === 0) row[3] = -0;
        const exact = chooseTopPFromRow(row, logSumExp(row), options, createRng(i), 0);
        sameChoice(exact, chooseToken(row, [], options, createRng(i)), 'exact log Z, no slack: always decided, equal');
        for (const skew of [0, 4e-6, -4e-6]) {
          const a = createRng(i);
          const b = createRng(i);
          const got = chooseTopPFromRow(row, logSumExp(row) + skew, options, a);
          const want = chooseToken(row, [], options, b);
          if (got === undefined) {
            assert.equal(a.uniform(), createRng(i).uniform(), 'no draw when undecided');
            continue;
          }
          decided++;
          sameChoice(got, want, `p ${topP} row ${i}`);
          assert.equal(a.uniform(), b.uniform());
        }
      }
    }
    assert.ok(decided >= 3 * 120 * 3 * 0.75, `${decided} decided`);
  });

  it('top-p from a whole row: rows of changing sizes, flat and one-token nuclei, p near 1 (scratch space reused)', () => {
    let n = 0;
    for (const [V, scale, topP] of [[50, 0.01, 0.9], [20_000, 0.05, 0.9], [300, 40, 0.9], [7, 1, 0.999999], [20_000, 2, 0.95], [3, 0, 0.5]] as const) {
      const options = resolveDecodingOptions({ strategy: 'sample', topP });
      for (let i = 0; i < 6; i++) {
        const row = randomRow(V, scale, 900 + i);
        const got = chooseTopPFromRow(row, logSumExp(row), options, createRng(i), 0);
        const want = chooseToken(row, [], options, createRng(i));
        assert.ok(got, `V ${V} scale ${scale} p ${topP} row ${i}: decided with the exact log Z`);
        assert.equal(got.token, want.token, `V ${V} scale ${scale} p ${topP} row ${i}`);
        assert.ok(Math.abs(got.logprob - want.logprob) <= 1e-12 * Math.max(1, Math.abs(want.logprob)));
        n++;
      }
    }
    assert.equal(n, 36);
  });

  it('decodeBatchSteps with heads equals decodeSteps over logits, rows that need logits stepped again', async () => {
    const V = 300;
    const K = 16;
    // A toy recurrent model: the state is a number, the next state and logits hash it with the token.
    const rowFor = (s: number) => randomRow(V, [0.5, 3, 6][s % 3]!, s);
    const next = (s: number, token: number) => ((s * 31 + token * 7 + 1) % 100_003) + 3;
    const stepFn: StepFn<number> = async (tokens, states) => {
      const ns = states.map((s, r) => next(s, tokens[r]!));
      return { logits: ns.map(rowFor), states: ns };
    };
    let logitSteps = 0;
    const decoder: BatchDecoder<number[]> = {
      headsK: K,
      async step(tokens, states, need) {
        const ns = states.map((s, r) => next(s, tokens[r]!));
        const rows = ns.map(rowFor);
        if (need === 'logits') {
          logitSteps++;
          return { logits: (r) => rows[r]!, state: ns };
        }
        const heads = headsOf(rows, K);
        return need === 'top+logits' ? { heads, logits: (r) => rows[r]!, state: ns } : { heads, state: ns };
      },
      select: (states, rows) => rows.map((r) => states[r]!),
    };
    const initial = Array.from({ length: 12 }, (_, i) => 5 + i * 17);
    const special = { bos: 2, eos: 3 };
    for (const o of CASES) {
      const options = resolveDecodingOptions({ ...o, topK: o.topK && Math.min(o.topK, K), seed: 9, maxTokens: 20 });
      logitSteps = 0;
      const fast = await collectSequences(decodeBatchSteps(decoder, initial, initial.length, special, options), initial.length, special.eos);
      const slow = await collectSequences(decodeSteps(stepFn, initial, special, options), initial.length, special.eos);
      assert.deepEqual(fast.map((s) => s.tokens), slow.map((s) => s.tokens), JSON.stringify(o));
      fast.forEach((s, i) => s.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - slow[i]!.logprobs[j]!) <= 1e-9)));
      assert.equal(logitSteps, 0, 'top-p alone fetches the logits with the heads: no second step');
    }
  });
});
