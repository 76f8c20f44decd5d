/**
 * Sentence generation on the tfjs side (for `vaekit eval` and training reports). The training decoder
 * is wrapped as a core `StepFn` whose state is the prefix generated so far, and core's `decodeBatch` /
 * `beamSearch` run the generation loop, the same loop the runtime runs over the exported step graph:
 * for the same latent vectors, options and seed both choose the same tokens (each sequence samples from
 * its own RNG stream). Each step reruns the decoder over the prefix, O(T^2) for a sentence; the
 * runtime's step graph does the same in O(T).
 */
import * as tf from '@tensorflow/tfjs';
import { BOS_ID, EOS_ID, PAD_ID, TEXT_MODEL, beamSearch, decodeBatch, resolveDecodingOptions, type DecodingOptions, type GeneratedSequence, type StepFn } from '@vaekit/core';

/**
 * Options of {@link decodeLatents}: core's decoding options. `temperature` divides the logits (it is
 * never a prior scale); `maxTokens` defaults to the decoder's training length.
 */
export type TfDecodeOptions = DecodingOptions;

/** The state of one sequence: its latent vector and the tokens fed so far (`<bos>` first). */
interface PrefixState {
  z: Float32Array;
  prefix: number[];
}

/** The training decoder (`[tokens [B, T], z [B, Z]] -> logits [B, T, V]`) as a one-step function over prefixes. */
export function tfDecoderStep(decoder: tf.LayersModel): StepFn<PrefixState> {
  const T = decoder.inputs[0]!.shape[1] as number;
  const latent = decoder.inputs[1]!.shape[1] as number;
  return async (tokens, states) => {
    const n = tokens.length;
    const fed = states.map((s, i) => [...s.prefix, tokens[i]!]);
    // Every live sequence of a decodeBatch step has the same length; beam hypotheses too.
    const position = fed[0]!.length - 1;
    if (position >= T) throw new RangeError(`The decoder takes at most ${T} tokens; maxTokens must be at most ${T}.`);
    const input = new Int32Array(n * T).fill(PAD_ID);
    const z = new Float32Array(n * latent);
    fed.forEach((f, i) => {
      input.set(f, i * T);
      z.set(states[i]!.z, i * latent);
    });
    const logits = tf.tidy(() => {
      const all = decoder.apply([tf.tensor2d(input, [n, T], 'int32'), tf.tensor2d(z, [n, latent])]) as tf.Tensor3D;
      return all.slice([0, position, 0], [n, 1, -1]).reshape([n, -1]);
    });
    const values = (await logits.data()) as Float32Array;
    const vocab = logits.shape[1]!;
    logits.dispose();
    return {
      logits: Array.from({ length: n }, (_, i) => values.slice(i * vocab, (i + 1) * vocab)),
      states: states.map((s, i) => ({ z: s.z, prefix: fed[i]! })),
    };
  };
}

/**
 * Decodes each latent vector with the training decoder and core's decoding loop; returns the generated
 * sequences (token ids without `<bos>`, ending with `<eos>` when finished), as the runtime's `generate`.
 */
export async function generateFromLatents(decoder: tf.LayersModel, z: Float32Array[], options: TfDecodeOptions = {}): Promise<GeneratedSequence[]> {
  const T = decoder.inputs[0]!.shape[1] as number;
  const decoding = resolveDecodingOptions({ maxTokens: T, ...options });
  const step = tfDecoderStep(decoder);
  const special = { bos: BOS_ID, eos: EOS_ID };
  const initial = z.map((zi) => ({ z: zi, prefix: [] as number[] }));
  if (decoding.strategy === 'beam') {
    const out: GeneratedSequence[] = [];
    for (const s of initial) out.push(await beamSearch(step, s, special, decoding));
    return out;
  }
  return decodeBatch(step, initial, special, decoding);
}

/** Decodes each row of `z` (`[count, Z]`, flat) into token ids (without `<bos>`/`<eos>`), up to the model's length. */
export async function decodeLatents(decoder: tf.LayersModel, z: Float32Array, count: number, options: TfDecodeOptions = {}): Promise<number[][]> {
  const latent = decoder.inputs[1]!.shape[1] as number;
  const rows = Array.from({ length: count }, (_, i) => z.slice(i * latent, (i + 1) * latent));
  const seqs = await generateFromLatents(decoder, rows, options);
  return seqs.map((s) => (s.finished ? s.tokens.slice(0, -1) : s.tokens));
}

/** The state of one sequence in {@link tfRecurrentStep}: its latent vector and recurrent state (absent before the first step). */
interface RecurrentState {
  z: Float32Array;
  h?: Float32Array;
  /** LSTM cell state. */
  c?: Float32Array;
}

/** The decoder's recurrent cell, called one position at a time (tfjs' `RNN.cell`). */
interface StepCell {
  call(inputs: tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor[];
}

/**
 * The training decoder as a core `StepFn` that carries the recurrent state (O(T) per sentence, as the
 * runtime's step graph), for generating many sentences (sample-quality metrics): it runs the decoder's
 * own layers (embedding, z concatenated to the input, the recurrent cell, logits), so its logits equal
 * `decoder.apply`'s at every position (text-decode.test.ts).
 */
export function tfRecurrentStep(decoder: tf.LayersModel): StepFn<RecurrentState> {
  const D = TEXT_MODEL.layers.decoder;
  const layer = (name: string) => decoder.getLayer(name);
  const lstm = decoder.layers.some((l) => l.name === D.initC);
  const cell = (layer(D.rnn) as unknown as { cell: StepCell }).cell;
  const latent = decoder.inputs[1]!.shape[1] as number;
  return async (tokens, states) => {
    const n = tokens.length;
    const rows = (pick: (s: RecurrentState) => Float32Array, width: number) => {
      const out = new Float32Array(n * width);
      states.forEach((s, i) => out.set(pick(s), i * width));
      return out;
    };
    const z = tf.tensor2d(rows((s) => s.z, latent), [n, latent]);
    const first = states[0]!.h === undefined;
    const [logits, h, c] = tf.tidy(() => {
      let h0: tf.Tensor2D;
      let c0: tf.Tensor2D | undefined;
      if (first) {
        h0 = layer(D.initH).apply(z) as tf.Tensor2D;
        if (lstm) c0 = layer(D.initC).apply(z) as tf.Tensor2D;
      } else {
        const hidden = states[0]!.h!.length;
        h0 = tf.tensor2d(rows((s) => s.h!, hidden), [n, hidden]);
        if (lstm) c0 = tf.tensor2d(rows((s) => s.c!, hidden), [n, hidden]);
      }
      const x = (layer(D.embedding).apply(tf.tensor2d(Int32Array.from(tokens), [n, 1], 'int32')) as tf.Tensor3D).reshape([n, -1]);
      const xz = tf.concat([x, z], 1);
      const out = cell.call(lstm ? [xz, h0, c0!] : [xz, h0], { training: false });
      const hNew = out[1]!;
      return [layer(D.logits).apply(hNew) as tf.Tensor2D, hNew, ...(lstm ? [out[2]!] : [])];
    });
    z.dispose();
    const [lv, hv, cv] = await Promise.all([logits!, h!, ...(c ? [c] : [])].map((t) => t.data() as Promise<Float32Array>));
    tf.dispose([logits!, h!, ...(c ? [c] : [])]);
    const vocab = logits!.shape[1]!;
    const hidden = h!.shape[1]!;
    return {
      logits: Array.from({ length: n }, (_, i) => lv!.slice(i * vocab, (i + 1) * vocab)),
      states: states.map((s, i) => ({ z: s.z, h: hv!.slice(i * hidden, (i + 1) * hidden), ...(cv ? { c: cv.slice(i * hidden, (i + 1) * hidden) } : {}) })),
    };
  };
}

/**
 * Samples one sentence per row of `z` (`[count, Z]`, flat) with {@link tfRecurrentStep} and core's
 * decoding loop, `batch` sequences at a time; sequence `i` draws from its own RNG stream (core's
 * `firstIndex`), so the result does not depend on `batch`. Token ids without `<bos>`/`<eos>`.
 */
export async function sampleLatents(decoder: tf.LayersModel, z: Float32Array, count: number, options: TfDecodeOptions & { batch?: number } = {}): Promise<number[][]> {
  const { batch = 512, ...decodingOptions } = options;
  const T = decoder.inputs[0]!.shape[1] as number;
  const latent = decoder.inputs[1]!.shape[1] as number;
  const decoding = resolveDecodingOptions({ maxTokens: T, strategy: 'sample', ...decodingOptions });
  const step = tfRecurrentStep(decoder);
  const out: number[][] = [];
  for (let start = 0; start < count; start += batch) {
    const initial = Array.from({ length: Math.min(batch, count - start) }, (_, i) => ({ z: z.slice((start + i) * latent, (start + i + 1) * latent) }));
    const seqs = await decodeBatch(step, initial, { bos: BOS_ID, eos: EOS_ID }, decoding, start);
    for (const s of seqs) out.push(s.finished ? s.tokens.slice(0, -1) : s.tokens);
  }
  return out;
}
