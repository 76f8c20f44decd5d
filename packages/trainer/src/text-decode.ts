/**
 * Sentence generation on the tfjs side (for `vaekit eval` and training reports): greedy or sampled
 * decoding with the training decoder. Each step reruns the decoder over the prefix, O(T^2) for a
 * sentence; the exported step graph of the runtime does the same in O(T).
 */
import * as tf from '@tensorflow/tfjs';
import { argmax, logSoftmax, sampleFromLogProbs } from '@vaekit/core';
import { createRng } from '@vaekit/core';
import { BOS_ID, EOS_ID, PAD_ID } from '@vaekit/core';

/** Options of {@link decodeLatents}. */
export interface TfDecodeOptions {
  /** `greedy` (argmax) or `sample` (from softmax(logits / temperature)). Default greedy. */
  strategy?: 'greedy' | 'sample';
  temperature?: number;
  seed?: number;
}

/** Decodes each row of `z` (`[N, Z]`) into token ids (without `<bos>`/`<eos>`), up to the model's length. */
export async function decodeLatents(decoder: tf.LayersModel, z: Float32Array, count: number, options: TfDecodeOptions = {}): Promise<number[][]> {
  const T = decoder.inputs[0]!.shape[1] as number;
  const latent = decoder.inputs[1]!.shape[1] as number;
  const temperature = options.temperature ?? 1;
  const rng = createRng(options.seed ?? 0);
  const input = new Int32Array(count * T).fill(PAD_ID);
  for (let i = 0; i < count; i++) input[i * T] = BOS_ID;
  const out: number[][] = Array.from({ length: count }, () => []);
  const finished = new Array<boolean>(count).fill(false);
  const zTensor = tf.tensor2d(z, [count, latent]);
  for (let t = 0; t < T && finished.includes(false); t++) {
    const logits = tf.tidy(() => {
      const all = decoder.apply([tf.tensor2d(input, [count, T], 'int32'), zTensor]) as tf.Tensor3D;
      return all.slice([0, t, 0], [count, 1, -1]).reshape([count, -1]);
    });
    const values = (await logits.data()) as Float32Array;
    const vocab = logits.shape[1]!;
    logits.dispose();
    for (let i = 0; i < count; i++) {
      if (finished[i]) continue;
      const row = values.subarray(i * vocab, (i + 1) * vocab);
      // The runtime's decoding functions, so tfjs-side and ONNX-side generation choose tokens alike.
      const id = options.strategy === 'sample' ? sampleFromLogProbs(logSoftmax(row, temperature), rng) : argmax(row);
      if (id === EOS_ID || t === T - 1) finished[i] = true;
      if (id !== EOS_ID) out[i]!.push(id);
      if (t + 1 < T) input[i * T + t + 1] = id;
    }
  }
  zTensor.dispose();
  return out;
}
