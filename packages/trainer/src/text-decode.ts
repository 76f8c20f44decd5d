/**
 * Sentence generation on the tfjs side (for `vaekit eval` and training reports). The training decoder
 * is wrapped as a core `StepFn` whose state is the prefix generated so far, and core's `decodeBatch` /
 * `beamSearch` run the generation loop, the same loop the runtime runs over the exported step graph:
 * for the same latent vectors, options and seed both choose the same tokens (each sequence samples from
 * its own RNG stream). Each step reruns the decoder over the prefix, O(T^2) for a sentence; the
 * runtime's step graph does the same in O(T).
 */
import * as tf from '@tensorflow/tfjs';
import { BOS_ID, EOS_ID, PAD_ID, beamSearch, decodeBatch, resolveDecodingOptions, type DecodingOptions, type GeneratedSequence, type StepFn } from '@vaekit/core';

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
