import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { parseManifest, verifyFile, type TextBundleManifest } from '@vaekit/core';
import { WordTokenizer } from '@vaekit/core';
import { LOG_Z_SLACK, argmax, createRng, logSumExp, topIndices } from '@vaekit/core';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { exportBundle } from './plans.js';
import { ExportError } from './errors.js';
import { decodeModel } from './serialize.js';
import { textHeldOutLoss } from './held-out.js';
import { buildTestTextVae, initTf, runOnnxChecker, tempDir, type TestTextShape } from './test-helpers.js';

before(initTf);

const VOCAB = 13;
function tokenizer(): WordTokenizer {
  return WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: VOCAB - 4 }, (_, i) => `w${i}`)]);
}

/** Random right-padded id rows `[B, T]`: ids in [4, V) then `<eos>` = 3, then `<pad>` = 0. */
function paddedIds(batch: number, steps: number, seed: number): { ids: Int32Array; lengths: Int32Array } {
  const rng = createRng(seed);
  const ids = new Int32Array(batch * steps);
  const lengths = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const len = 1 + rng.int(steps);
    for (let t = 0; t < len - 1; t++) ids[b * steps + t] = 4 + rng.int(VOCAB - 4);
    ids[b * steps + len - 1] = 3;
    lengths[b] = len;
  }
  return { ids, lengths };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * The step graph's decoding heads against the same run's logits: best and top ids exactly as core's
 * argmax / topIndices choose them (ties by lower id), their logits bit-equal, and log_z's hi + lo
 * within a fifth of core's LOG_Z_SLACK of its float64 logSumExp of the row.
 */
function checkHeads(out: Record<string, ort.Tensor>, logits: Float32Array, B: number, V: number): void {
  const K = out.top_ids!.dims[1]!;
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * V, (b + 1) * V);
    assert.equal(out.best_id!.data[b], argmax(row));
    assert.equal(out.best_logit!.data[b], row[argmax(row)]);
    const top = topIndices(row, K);
    assert.deepEqual([...(out.top_ids!.data as Int32Array).subarray(b * K, (b + 1) * K)], top);
    assert.deepEqual([...(out.top_logits!.data as Float32Array).subarray(b * K, (b + 1) * K)], top.map((i) => row[i]));
    const lz = out.log_z!.data as Float32Array;
    const want = logSumExp(row);
    assert.ok(Math.abs(lz[2 * b]! + lz[2 * b + 1]! - want) <= LOG_Z_SLACK / 5, `log_z ${lz[2 * b]! + lz[2 * b + 1]!} vs ${want}`);
    const logprob = (out.best_logprob!.data as Float32Array)[b]!;
    assert.ok(Math.abs(logprob - (row[argmax(row)]! - want)) <= 4e-6, `best_logprob ${logprob} vs ${row[argmax(row)]! - want}`);
  }
}

for (const cell of ['gru', 'lstm'] as const) {
  describe(`text bundle (${cell})`, () => {
    const shape: TestTextShape = { cell, vocab: VOCAB, embedding: 5, hidden: 6, latent: 3, steps: 7, seed: cell === 'gru' ? 1 : 2 };
    const states = cell === 'lstm' ? ['h', 'c'] : ['h'];

    test('writes encoder, decoder_init, decoder_step, tokenizer and a valid manifest', async (t) => {
      const { encoder, decoder } = buildTestTextVae(shape);
      const dir = path.join(tempDir(), 'bundle');
      const result = await exportBundle({ kind: 'text', encoder, decoder, tokenizer: tokenizer() }, dir, { parityRuntimes: ['node', 'wasm'] });
      assert.deepEqual((await fs.readdir(dir)).sort(), ['decoder_init.onnx', 'decoder_step.onnx', 'encoder.onnx', 'manifest.json', 'tokenizer.json']);
      const manifest = parseManifest(JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8'))) as TextBundleManifest;
      assert.equal(manifest.kind, 'text');
      assert.equal(manifest.latentSize, 3);
      assert.deepEqual(
        { ...manifest.text, vocabularySha256: undefined },
        {
          cell,
          vocabSize: VOCAB,
          embeddingSize: 5,
          hiddenSize: 6,
          maxLength: 6,
          stateNames: states,
          specialTokens: { pad: 0, unk: 1, bos: 2, eos: 3 },
          tokenizer: 'tokenizer.json',
          vocabularySha256: undefined,
        },
      );
      assert.match(manifest.text.vocabularySha256 ?? '', /^[0-9a-f]{64}$/);
      assert.deepEqual(manifest.graphs.encoder.inputs, [
        { name: 'tokens', dtype: 'int32', shape: ['batch', 'time'] },
        { name: 'lengths', dtype: 'int32', shape: ['batch'] },
      ]);
      assert.deepEqual(manifest.graphs.encoder.outputs.map((o) => o.name), ['mu', 'logvar']);
      assert.deepEqual(manifest.graphs.decoder_init.outputs, states.map((name) => ({ name, dtype: 'float32', shape: ['batch', 6] })));
      assert.deepEqual(manifest.graphs.decoder_step.inputs, [
        { name: 'token', dtype: 'int32', shape: ['batch'] },
        ...states.map((name) => ({ name, dtype: 'float32', shape: ['batch', 6] })),
        { name: 'z', dtype: 'float32', shape: ['batch', 3] },
      ]);
      assert.deepEqual(manifest.graphs.decoder_step.outputs, [
        { name: 'logits', dtype: 'float32', shape: ['batch', VOCAB] },
        ...states.map((name) => ({ name: `${name}_out`, dtype: 'float32', shape: ['batch', 6] })),
        { name: 'best_id', dtype: 'int32', shape: ['batch'] },
        { name: 'best_logit', dtype: 'float32', shape: ['batch'] },
        { name: 'top_ids', dtype: 'int32', shape: ['batch', VOCAB] },
        { name: 'top_logits', dtype: 'float32', shape: ['batch', VOCAB] },
        { name: 'log_z', dtype: 'float32', shape: ['batch', 2] },
        { name: 'best_logprob', dtype: 'float32', shape: ['batch'] },
      ]);
      for (const [graph, report] of Object.entries(result.parity)) {
        assert.deepEqual(Object.keys(report.runtimes ?? {}), ['node', 'wasm']);
        for (const [out, err] of Object.entries(report.maxAbsError)) assert.ok(err <= 1e-4, `${graph}.${out}: ${err}`);
      }
      for (const rel of Object.keys(manifest.files)) await verifyFile(manifest, rel, await fs.readFile(path.join(dir, rel)));
      assert.equal(tokenizer().vocabSize, WordTokenizer.fromJSON(await fs.readFile(path.join(dir, 'tokenizer.json'), 'utf8')).vocabSize);
      const step = decodeModel(await fs.readFile(path.join(dir, 'decoder_step.onnx')));
      // One step: the cell as MatMul and element-wise ops, no GRU/LSTM op (its set-up costs more than a step).
      assert.equal(step.opHistogram[cell.toUpperCase()], undefined, 'no recurrent op in the step graph');
      assert.ok((step.opHistogram.MatMul ?? 0) >= 2, 'the cell as MatMuls');
      const enc = decodeModel(await fs.readFile(path.join(dir, 'encoder.onnx')));
      assert.equal(enc.opHistogram[cell.toUpperCase()], 1, 'the encoder keeps one recurrent op over the sequence');
      assert.equal(step.metadata['vaekit.kind'], 'text');
      await runOnnxChecker(t, ['encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx'].map((f) => path.join(dir, f)));
      encoder.dispose();
      decoder.dispose();
    });

    test('init + step graphs reproduce the training decoder (teacher forcing), encoder reads any length', async () => {
      const { encoder, decoder } = buildTestTextVae(shape);
      const dir = path.join(tempDir(), 'bundle');
      await exportBundle({ kind: 'text', encoder, decoder, tokenizer: tokenizer() }, dir);
      const open = (f: string) => ort.InferenceSession.create(path.join(dir, f));
      const [enc, init, step] = await Promise.all([open('encoder.onnx'), open('decoder_init.onnx'), open('decoder_step.onnx')]);
      const B = 4;
      const T = shape.steps;
      const { ids, lengths } = paddedIds(B, T, 9);

      // Encoder: ONNX with lengths == tfjs with its mask; a batch cut to its longest row gives the same.
      const [mu, logvar] = encoder.predict(tf.tensor(ids, [B, T], 'int32')) as tf.Tensor[];
      const want = await mu!.data();
      const full = await enc.run({ tokens: new ort.Tensor('int32', ids, [B, T]), lengths: new ort.Tensor('int32', lengths, [B]) });
      assert.ok(maxAbs(full.mu!.data as Float32Array, want) <= 1e-4);
      assert.ok(maxAbs(full.logvar!.data as Float32Array, await logvar!.data()) <= 1e-4);
      const longest = Math.max(...lengths);
      const cut = new Int32Array(B * longest);
      for (let b = 0; b < B; b++) cut.set(ids.subarray(b * T, b * T + longest), b * longest);
      const short = await enc.run({ tokens: new ort.Tensor('int32', cut, [B, longest]), lengths: new ort.Tensor('int32', lengths, [B]) });
      assert.ok(maxAbs(short.mu!.data as Float32Array, want) <= 1e-4, 'dynamic time axis');

      // Decoder: init then T steps fed the teacher-forced tokens == the whole-sequence decoder.
      const rng = createRng(4);
      const z = Float32Array.from({ length: B * 3 }, () => rng.normal());
      const tokensIn = new Int32Array(B * T);
      for (let b = 0; b < B; b++) {
        tokensIn[b * T] = 2;
        tokensIn.set(ids.subarray(b * T, b * T + T - 1), b * T + 1);
      }
      const full3 = decoder.predict([tf.tensor(tokensIn, [B, T], 'int32'), tf.tensor(z, [B, 3])]) as tf.Tensor;
      const expected = await full3.data();
      const zT = new ort.Tensor('float32', z, [B, 3]);
      let state = await init.run({ z: zT });
      let worst = 0;
      for (let t = 0; t < T; t++) {
        const token = Int32Array.from({ length: B }, (_, b) => tokensIn[b * T + t]!);
        const feeds: Record<string, ort.Tensor> = { token: new ort.Tensor('int32', token, [B]), z: zT };
        for (const s of states) feeds[s] = state[s]!;
        const out = await step.run(feeds);
        const logits = out.logits!.data as Float32Array;
        checkHeads(out, logits, B, VOCAB);
        for (let b = 0; b < B; b++) {
          for (let v = 0; v < VOCAB; v++) worst = Math.max(worst, Math.abs(logits[b * VOCAB + v]! - expected[(b * T + t) * VOCAB + v]!));
        }
        state = Object.fromEntries(states.map((s) => [s, out[`${s}_out`]!]));
      }
      assert.ok(worst <= 1e-4, `step-by-step logits differ from the training decoder by ${worst}`);
      tf.dispose([mu!, logvar!, full3]);
      await Promise.all([enc.release(), init.release(), step.release()]);
      encoder.dispose();
      decoder.dispose();
    });
  });
}

describe('text bundle errors', () => {
  test('a tokenizer that does not match the embedding, and a missing contract layer', async () => {
    const { encoder, decoder } = buildTestTextVae({ cell: 'gru', vocab: VOCAB + 1, embedding: 3, hidden: 4, latent: 2, steps: 5, seed: 3 });
    const dir = path.join(tempDir(), 'bundle');
    await assert.rejects(exportBundle({ kind: 'text', encoder, decoder, tokenizer: tokenizer() }, dir), (e: unknown) => {
      assert.ok(e instanceof ExportError && e.userError);
      assert.match(e.message, /tokenizer\.json has 13 tokens but the model's embedding has 14 rows/);
      return true;
    });
    await assert.rejects(exportBundle({ kind: 'text', encoder: decoder, decoder: encoder, tokenizer: tokenizer() }, dir), /has no layer "enc_embedding"/);
    await assert.rejects(fs.stat(dir), 'no partial bundle');
  });
});

describe('weight dtype variants', () => {
  for (const dtype of ['fp16', 'int8'] as const) {
    test(`${dtype} text bundle: smaller, close to fp32, held-out loss change reported`, async (t) => {
      const shape: TestTextShape = { cell: 'lstm', vocab: 300, embedding: 16, hidden: 32, latent: 8, steps: 9, seed: 4 };
      const { encoder, decoder } = buildTestTextVae(shape);
      const tok = WordTokenizer.fromTokens(['<pad>', '<unk>', '<bos>', '<eos>', ...Array.from({ length: 296 }, (_, i) => `w${i}`)]);
      const rng = createRng(11);
      const sentences = Array.from({ length: 6 }, () => Array.from({ length: 1 + rng.int(7) }, () => 4 + rng.int(296)));
      const dir = path.join(tempDir(), 'bundle');
      const result = await exportBundle({ kind: 'text', encoder, decoder, tokenizer: tok }, dir, {
        dtype,
        heldOutLoss: textHeldOutLoss(sentences, { bos: 2, eos: 3, pad: 0 }, ['h', 'c']),
      });
      const m = result.manifest;
      assert.equal(m.dtype, dtype);
      const v = m.variant!;
      assert.equal(v.dtype, dtype);
      const ratio = v.bytes / v.fp32Bytes!;
      assert.ok(dtype === 'fp16' ? ratio < 0.6 : ratio < 0.4, `size ratio ${ratio}`);
      const worst = Math.max(...Object.values(v.maxAbsErrorVsFp32!));
      assert.ok(worst > 0 && worst < (dtype === 'fp16' ? 0.01 : 0.1), `max abs error vs fp32 ${worst}`);
      assert.ok(Number.isFinite(v.heldOutLossDelta) && Math.abs(v.heldOutLossDelta!) < 0.05 * v.heldOutLoss!.fp32, JSON.stringify(v));
      const onDisk = (await fs.stat(path.join(dir, 'decoder_step.onnx'))).size;
      assert.equal(onDisk, m.files['decoder_step.onnx']!.bytes);
      await runOnnxChecker(t, ['encoder.onnx', 'decoder_init.onnx', 'decoder_step.onnx'].map((f) => path.join(dir, f)));
      encoder.dispose();
      decoder.dispose();
    });
  }
});
