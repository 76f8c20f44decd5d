/**
 * The custom tfjs layers of the seq2seq kind (tfjs-layers has no attention layer). Each follows tfjs'
 * conventions (`static className`, `getConfig`, `serialization.registerClass`), so checkpoints are
 * standard `model.json` files, and each has an exporter handler (`packages/exporter/src/handlers/
 * attention.ts`, checked by test/exportable-layers.test.ts):
 *
 * - `VaekitAttention` `[query [B,T,H] | [B,H], keys [B,S,D], mask [B,S]] -> [context, weights [B,T,S] | [B,S]]`:
 *   additive (Bahdanau: `v^T tanh(Wq q + Wk k)`) or multiplicative (Luong "general": `q^T W k`) scores,
 *   padded keys masked with -1e9 before the softmax; with vaekit's native kernels on WASM the additive
 *   scores run as one fused op each way (`kernels/attention-scores.ts`, the same numbers);
 * - `VaekitSequenceMask` `tokens [B,S] -> mask [B,S]` (1 where the id is not `<pad>`);
 * - `VaekitMaskedMean` `[x [B,S,D], mask [B,S]] -> [B,D]` (mean over the real steps);
 * - `VaekitGaussianSample` `[mu, logvar, eps] -> mu + exp(logvar / 2) * eps` (the reparameterized
 *   attention context of variational attention; the noise is an input, so it is seeded by the caller
 *   and zeros give the mean).
 */
import * as tf from '@tensorflow/tfjs';
import type { AttentionScore } from '@vaekit/core';
import { additiveScoresNative, nativeAttentionAvailable } from '../kernels/attention-scores.js';

/** Added to the scores of padded keys: exp(-1e9 - max) is exactly 0 in float32. */
export const MASKED_SCORE = -1e9;

type Kwargs = Record<string, unknown>;

/** `[B, T, X] x [X, Y]` as one 2-D product (tfjs' matMul wants equal ranks). */
function dot3(x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const inner = shape[shape.length - 1]!;
  const out = tf.matMul(x.reshape([-1, inner]), w as tf.Tensor2D);
  return out.reshape([...shape.slice(0, -1), w.shape[1]!]);
}

/** Constructor arguments of {@link Attention}. */
export interface AttentionArgs {
  score: AttentionScore;
  /** Size of the additive score's hidden layer (ignored by the multiplicative score). */
  units: number;
  name?: string;
  seed?: number;
}

/** Soft attention over encoder states (see the module comment). */
export class Attention extends tf.layers.Layer {
  static className = 'VaekitAttention';
  readonly score: AttentionScore;
  readonly units: number;
  private readonly seed: number | undefined;
  private queryKernel?: tf.LayerVariable;
  private keyKernel?: tf.LayerVariable;
  private scoreVector?: tf.LayerVariable;
  private kernel?: tf.LayerVariable;

  constructor(args: AttentionArgs) {
    super({ name: args.name });
    this.score = args.score;
    this.units = args.units;
    this.seed = args.seed;
    this.supportsMasking = true;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [q, k] = inputShape as tf.Shape[];
    const H = q![q!.length - 1]!;
    const D = k![2]!;
    const init = (n: number) => tf.initializers.glorotUniform(this.seed === undefined ? {} : { seed: this.seed + n });
    if (this.score === 'additive') {
      this.queryKernel = this.addWeight('query_kernel', [H, this.units], 'float32', init(0));
      this.keyKernel = this.addWeight('key_kernel', [D, this.units], 'float32', init(1));
      this.scoreVector = this.addWeight('score_vector', [this.units, 1], 'float32', init(2));
    } else {
      this.kernel = this.addWeight('kernel', [H, D], 'float32', init(0));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape[] {
    const [q, k] = inputShape as tf.Shape[];
    const lead = q!.slice(0, -1);
    return [
      [...lead, k![2]!],
      [...lead, k![1]!],
    ];
  }

  override computeMask(): tf.Tensor[] {
    // No mask on either output (tfjs reads null entries as "no mask").
    return [null, null] as unknown as tf.Tensor[];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor[] {
    return tf.tidy(() => {
      const [query, keys, mask] = inputs as tf.Tensor[];
      const rank2 = query!.rank === 2;
      const q = (rank2 ? query!.expandDims(1) : query!) as tf.Tensor3D;
      const k = keys as tf.Tensor3D;
      let scores: tf.Tensor3D;
      if (this.score === 'additive') {
        const qa = dot3(q, this.queryKernel!.read()) as tf.Tensor3D; // [B,T,A]
        const ka = dot3(k, this.keyKernel!.read()) as tf.Tensor3D; // [B,S,A]
        if (nativeAttentionAvailable() && mask!.dtype === 'float32' && k.dtype === 'float32') {
          // One native pass each way instead of a broadcast add and tanh over [B,T,S,A] (same weights).
          scores = additiveScoresNative(qa, ka, this.scoreVector!.read().reshape([this.units]) as tf.Tensor1D, mask as tf.Tensor2D);
        } else {
          const e = tf.tanh(tf.add(qa.expandDims(2), ka.expandDims(1))); // [B,T,S,A]
          scores = dot3(e, this.scoreVector!.read()).squeeze([3]) as tf.Tensor3D;
        }
      } else {
        const qw = dot3(q, this.kernel!.read()); // [B,T,D]
        scores = tf.matMul(qw as tf.Tensor3D, k, false, true);
      }
      const penalty = tf.sub(1, mask!).mul(MASKED_SCORE).expandDims(1);
      const weights = tf.softmax(tf.add(scores, penalty), -1) as tf.Tensor3D;
      const context = tf.matMul(weights, k);
      return rank2 ? [context.squeeze([1]), weights.squeeze([1])] : [context, weights];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), score: this.score, units: this.units };
  }
}

/** `tokens [B,S] -> [B,S]` float, 1 where the token is not `<pad>` (id 0). */
export class SequenceMask extends tf.layers.Layer {
  static className = 'VaekitSequenceMask';
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const tokens = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.cast(tf.notEqual(tokens, 0), 'float32');
    });
  }
}

/** `[x [B,S,D], mask [B,S]] -> [B,D]`: the mean of `x` over the steps where the mask is 1. */
export class MaskedMean extends tf.layers.Layer {
  static className = 'VaekitMaskedMean';
  constructor(args: { name?: string } = {}) {
    super(args);
    this.supportsMasking = true;
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [x] = inputShape as tf.Shape[];
    return [x![0]!, x![2]!];
  }
  override computeMask(): tf.Tensor {
    return null as unknown as tf.Tensor;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [x, mask] = inputs as tf.Tensor[];
      const sum = tf.sum(tf.mul(x!, mask!.expandDims(2)), 1);
      const count = tf.maximum(tf.sum(mask!, 1, true), 1);
      return tf.div(sum, count);
    });
  }
}

/** `[mu, logvar, eps] -> mu + exp(logvar / 2) * eps`. */
export class GaussianSample extends tf.layers.Layer {
  static className = 'VaekitGaussianSample';
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0]!;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [mu, logvar, eps] = inputs as tf.Tensor[];
      return tf.add(mu!, tf.mul(tf.exp(tf.mul(logvar!, 0.5)), eps!));
    });
  }
}

for (const cls of [Attention, SequenceMask, MaskedMean, GaussianSample]) tf.serialization.registerClass(cls);
