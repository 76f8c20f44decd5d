/**
 * The contract of the text kind (the sentence VAE), in one place for the trainer, the exporter and the
 * runtime: layer names of the training graphs, the ONNX graphs of a text bundle with their tensor
 * names, the recurrent state names per cell, the special token ids and the file names.
 * docs/text-model.md is the readable form of this module.
 */
import { BundleError, quote } from '../errors.js';
import { isPositiveInt, isRecord } from '../manifest-checks.js';
import { BOS_ID, EOS_ID, PAD_ID, UNK_ID } from '../tokenizer.js';

/** Recurrent cells of the text models. */
export const TEXT_CELLS = ['gru', 'lstm'] as const;
/** A recurrent cell of the text models. */
export type TextCell = (typeof TEXT_CELLS)[number];

/** The contract of the text kind. */
export const TEXT_MODEL = {
  /** Layer names of the tfjs training graphs that the exporter reads. */
  layers: {
    encoder: { embedding: 'enc_embedding', rnn: 'enc_rnn', mu: 'mu', logvar: 'logvar' },
    decoder: { initH: 'dec_init_h', initC: 'dec_init_c', embedding: 'dec_embedding', repeatZ: 'dec_repeat_z', concat: 'dec_concat', rnn: 'dec_rnn', logits: 'logits' },
  },
  /** Input names of the tfjs training graphs. */
  trainingInputs: { encoderTokens: 'tokens', decoderTokens: 'tokens_in', z: 'z' },
  /** The ONNX graphs of a text bundle: file and tensor names (state tensors: {@link stateNames}). */
  graphs: {
    encoder: { file: 'encoder.onnx', inputs: { tokens: 'tokens', lengths: 'lengths' }, outputs: { mu: 'mu', logvar: 'logvar' } },
    decoderInit: { file: 'decoder_init.onnx', inputs: { z: 'z' } },
    decoderStep: {
      file: 'decoder_step.onnx',
      inputs: { token: 'token', z: 'z' },
      outputs: { logits: 'logits' },
      /**
       * Decoding heads computed in the graph from the logits (bundles from vaekit 0.1 lack them; the
       * runtime checks the graph's outputs): the most likely token `best_id [B] int32` (ArgMax, ties by
       * lower id) and its logit `best_logit [B]`, the `K` largest logits `top_logits [B,K]`
       * (descending, ties by lower id) and their ids `top_ids [B,K] int32`, and `log_z [B,2]`:
       * log-sum-exp of the logits computed in float64 and split into a float32 pair `hi + lo`, so that
       * log-probabilities and nucleus boundaries equal those computed in float64 from the whole row.
       */
      heads: { bestId: 'best_id', bestLogit: 'best_logit', topIds: 'top_ids', topLogits: 'top_logits', logZ: 'log_z' },
      /**
       * Greedy decoding's head: `best_logprob [B]`, the log-probability of `best_id` (the largest
       * LogSoftmax value, float32, within ~1e-6 of float64). With it a greedy step needs neither TopK
       * nor the float64 `log_z` (bundles exported before it lack it: the runtime then uses
       * `best_logit - log_z`).
       */
      greedyHead: 'best_logprob',
      /**
       * K of `top_ids` / `top_logits` in the bundles vaekit writes (the runtime reads K from the graph).
       * ONNX Runtime runs every head on every step, greedy included, and TopK's cost grows with K (at
       * batch 64 and V = 10,000: K = 128 took half the step, docs/performance.md), so K covers common
       * top-k settings and no more; larger k is decoded from the logits row.
       */
      topK: 32,
    },
  },
  /** Ids of the special tokens, the same in every vocabulary. */
  specialIds: { pad: PAD_ID, unk: UNK_ID, bos: BOS_ID, eos: EOS_ID },
  /** The vocabulary file of a text run folder and of a text bundle. */
  tokenizerFile: 'tokenizer.json',
} as const;

/** Every layer name a text training graph must have for export (the LSTM's `dec_init_c` aside). */
export const TEXT_LAYER_NAMES = {
  encoder: Object.values(TEXT_MODEL.layers.encoder),
  decoder: [TEXT_MODEL.layers.decoder.initH, TEXT_MODEL.layers.decoder.embedding, TEXT_MODEL.layers.decoder.rnn, TEXT_MODEL.layers.decoder.logits],
} as const;

/** The recurrent state tensors of a cell: `h` for a GRU, `h` and `c` for an LSTM. */
export function stateNames(cell: TextCell): string[] {
  return cell === 'lstm' ? ['h', 'c'] : ['h'];
}

/** The name of the step graph's output that carries state `name` to the next step (`h` -> `h_out`). */
export function stateOutputName(name: string): string {
  return `${name}_out`;
}

/** The text kind's part of the bundle format: its graphs and its manifest section `text`. */
export const TEXT_BUNDLE_KIND = {
  kind: 'text',
  graphNames: ['encoder', 'decoder_init', 'decoder_step'],
  checkSection(manifest: Record<string, unknown>): Array<{ field: string; file: string }> {
    const text = manifest.text;
    if (!isRecord(text)) throw new BundleError('manifest.json: text is missing.');
    if (!TEXT_CELLS.includes(text.cell as TextCell)) {
      throw new BundleError(`manifest.json: text.cell is ${quote(text.cell)}. Should be one of: ${TEXT_CELLS.join(', ')}.`);
    }
    for (const key of ['vocabSize', 'embeddingSize', 'hiddenSize', 'maxLength'] as const) {
      if (!isPositiveInt(text[key])) throw new BundleError(`manifest.json: text.${key} must be a positive integer.`);
    }
    const wantStates = stateNames(text.cell as TextCell);
    if (!Array.isArray(text.stateNames) || text.stateNames.join(',') !== wantStates.join(',')) {
      throw new BundleError(`manifest.json: text.stateNames must be ${JSON.stringify(wantStates)} for a ${String(text.cell)} model.`);
    }
    const special = text.specialTokens;
    const vocabSize = text.vocabSize as number;
    if (!isRecord(special) || !['pad', 'unk', 'bos', 'eos'].every((k) => Number.isInteger(special[k]) && (special[k] as number) >= 0 && (special[k] as number) < vocabSize)) {
      throw new BundleError(`manifest.json: text.specialTokens must give pad, unk, bos and eos as integer ids from 0 to vocabSize - 1 (${vocabSize - 1}).`);
    }
    if (typeof text.tokenizer !== 'string') throw new BundleError('manifest.json: text.tokenizer must name the tokenizer file.');
    return [{ field: 'text.tokenizer', file: text.tokenizer }];
  },
} as const;
