/** Checks of real trained text bundles against the tfjs training graphs they were exported from. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint } from '@vaekit/trainer';

/**
 * Asserts that greedy generations are the argmax, at every position, of the run's training decoder
 * fed the same tokens (teacher forcing: `<bos>` then each generated token but the last, right-padded to
 * the training length `T`). Returns the number of tokens checked.
 */
export async function assertGreedyIsTeacherForcedArgmax(
  runDir: string,
  { T, bos }: { T: number; bos: number },
  z: Float32Array[],
  generations: Array<{ tokenIds: number[] }>,
  label: string,
): Promise<number> {
  await tf.setBackend('cpu');
  const { encoder, decoder } = await loadCheckpoint(runDir);
  try {
    const zInput = decoder.inputs.findIndex((i) => i.shape.length === 2 && i.dtype === 'float32');
    let checked = 0;
    for (const [i, g] of generations.entries()) {
      const fed = [bos, ...g.tokenIds.slice(0, -1)];
      assert.ok(fed.length <= T, `${label} seq ${i}: ${fed.length} tokens, training length ${T}`);
      const padded = [...fed, ...Array<number>(T - fed.length).fill(0)];
      const feeds = decoder.inputs.map((_, k) => (k === zInput ? tf.tensor2d([Array.from(z[i]!)]) : tf.tensor2d([padded], [1, T], 'int32')));
      const logits = decoder.predict(feeds) as tf.Tensor;
      const argmax = (logits.argMax(-1).arraySync() as number[][])[0]!;
      tf.dispose([logits, ...feeds]);
      g.tokenIds.forEach((id, j) => {
        assert.equal(id, argmax[j], `${label} seq ${i} position ${j}`);
        checked++;
      });
    }
    return checked;
  } finally {
    encoder?.dispose();
    decoder.dispose();
  }
}
