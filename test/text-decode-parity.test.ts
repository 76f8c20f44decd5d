/**
 * The trainer's sentence generation (tfjs training decoder, `vaekit eval` reports) and the runtime's
 * (exported step graph) run the same decoding loop, core's `decodeBatch`: for the same latent vectors,
 * strategy and seed they choose the same tokens, with the same log-probabilities up to float error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadVae, samplePrior, type TextVae } from '@vaekit/runtime';
import { evaluateTextRun, generateFromLatents, initBackend, loadTextRun } from '@vaekit/trainer';
import { trainedTextBundle } from './helpers.js';

before(async () => {
  await initBackend('cpu');
});

for (const cell of ['gru', 'lstm'] as const) {
  describe(`${cell}: trainer and runtime generate alike`, () => {
    let vae: TextVae;
    let run: Awaited<ReturnType<typeof loadTextRun>>;
    let runDir: string;
    before(async () => {
      const made = trainedTextBundle(cell);
      runDir = made.runDir;
      vae = (await loadVae(made.bundleDir, { kind: 'text' })) as TextVae;
      run = await loadTextRun(runDir);
      // The runtime decides greedy, top-k and top-p tokens from these (the trainer from whole rows).
      const heads = vae.manifest.graphs.decoder_step!.outputs.map((o) => o.name);
      for (const name of ['best_id', 'best_logit', 'top_ids', 'top_logits', 'log_z', 'best_logprob']) assert.ok(heads.includes(name), `decoder_step has ${name}`);
    });
    after(async () => {
      run?.dispose();
      await vae?.dispose();
    });

    const cases = [
      { strategy: 'greedy' as const },
      { strategy: 'sample' as const, seed: 11 },
      { strategy: 'sample' as const, seed: 12, temperature: 1.5, topK: 5 },
      { strategy: 'sample' as const, seed: 13, topP: 0.9, repetitionPenalty: 1.3 },
      // Decided from the step graph's decoding heads (top_ids, top_logits, log_z) in the runtime.
      { strategy: 'sample' as const, seed: 14, topP: 0.9 },
      { strategy: 'sample' as const, seed: 15, topK: 5 },
      { strategy: 'sample' as const, seed: 16, topK: 12, topP: 0.8 },
    ];
    for (const options of cases) {
      test(JSON.stringify(options), async () => {
        const maxTokens = run.config.data.maxLength + 1;
        const z = samplePrior(16, vae.latentSize, 3);
        const fromRuntime = await vae.generate({ ...options, z, maxTokens });
        const fromTrainer = await generateFromLatents(run.models.decoder, z, options);
        assert.equal(fromTrainer.length, 16);
        let tokens = 0;
        fromTrainer.forEach((s, i) => {
          const g = fromRuntime[i]!;
          assert.deepEqual(s.tokens, g.tokenIds, `sequence ${i}`);
          assert.equal(s.finished, g.finished);
          s.logprobs.forEach((lp, j) => assert.ok(Math.abs(lp - g.logprobs[j]!) < 1e-3, `sequence ${i} token ${j}: ${lp} vs ${g.logprobs[j]}`));
          tokens += s.tokens.length;
        });
        assert.ok(tokens >= 16 * 2, `${tokens} tokens compared`);
      });
    }

    test('vaekit eval samples the prior as the runtime does with the same seed', async () => {
      const report = await evaluateTextRun(runDir, { k: 0, limit: 8, examples: 6, seed: 21 });
      const maxTokens = run.config.data.maxLength + 1;
      const sampled = await vae.generate({ n: 6, strategy: 'sample', seed: 21, maxTokens });
      const greedy = await vae.generate({ n: 6, seed: 21, maxTokens });
      assert.deepEqual(report.qualitative!.priorSampled, sampled.map((g) => g.text));
      assert.deepEqual(report.qualitative!.priorGreedy, greedy.map((g) => g.text));
    });
  });
}
