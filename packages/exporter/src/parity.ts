/**
 * Parity check: the tfjs model and the ONNX file, run on the same seeded random batch, must agree.
 * The only place the exporter uses ONNX Runtime.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import type { ParityReport } from '@vaekit/runtime/bundle';
import { createRng } from '@vaekit/runtime/rng';
import { ExportError, ParityError } from './errors.js';

/** Options of {@link checkParity}. */
export interface ParityOptions {
  /** Batch size of the random input. Default 8. */
  batch?: number;
  /** Largest acceptable max-abs error per output. Default 1e-4 (fp32). */
  tolerance?: number;
  /** RNG seed of the random input. Default 0. */
  seed?: number;
  /** Standard deviation of the normal random input. Default 1. */
  scale?: number;
  /**
   * Integer (token id) inputs: ids are drawn uniformly from `[0, vocab)`. With `padRight`, each row of
   * a `[B, T]` id input gets a random length `1..T`, ids from `[1, vocab)` before it and 0 after it
   * (right padding). Default `{ vocab: 2 }`.
   */
  ids?: { vocab: number; padRight?: boolean };
  /**
   * ONNX inputs the tfjs model lacks, after its own inputs (e.g. `lengths` of a text encoder), computed
   * from the generated tfjs inputs.
   */
  extraInputs?: (inputs: ParityInput[]) => Record<string, ParityInput>;
}

/** One generated input batch. */
export interface ParityInput {
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  shape: number[];
}

function randomInput(
  shape: number[],
  dtype: string,
  rng: ReturnType<typeof createRng>,
  scale: number,
  ids: { vocab: number; padRight?: boolean },
): ParityInput {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'float32') return { dtype, shape, data: Float32Array.from({ length: n }, () => rng.normal() * scale) };
  if (dtype === 'int32') {
    const pick = (lo: number): number => lo + rng.int(Math.max(1, ids.vocab - lo));
    if (ids.padRight && shape.length === 2) {
      const [rows, steps] = shape as [number, number];
      const data = new Int32Array(n);
      for (let b = 0; b < rows; b++) {
        const len = 1 + rng.int(steps);
        for (let t = 0; t < len; t++) data[b * steps + t] = pick(1);
      }
      return { dtype, shape, data };
    }
    return { dtype, shape, data: Int32Array.from({ length: n }, () => pick(0)) };
  }
  throw new ExportError(`Parity check supports float32 and int32 inputs, got ${dtype}.`);
}

/**
 * Id inputs that suit the model: below the smallest Embedding's `inputDim`, right-padded when an
 * Embedding masks zeros (masks become sequence lengths, which assume right padding).
 */
function defaultIds(model: tf.LayersModel): { vocab: number; padRight: boolean } {
  let vocab = Number.POSITIVE_INFINITY;
  let padRight = false;
  const visit = (layers: tf.layers.Layer[]): void => {
    for (const l of layers) {
      if (l instanceof tf.LayersModel) visit(l.layers);
      else if (l.getClassName() === 'Embedding') {
        const cfg = l.getConfig();
        if (typeof cfg.inputDim === 'number') vocab = Math.min(vocab, cfg.inputDim);
        if (cfg.maskZero === true) padRight = true;
      }
    }
  };
  visit(model.layers);
  return { vocab: Number.isFinite(vocab) ? vocab : 2, padRight };
}

/** Right-padded row lengths of a `[B, T]` id batch: the count of ids before the first trailing run of 0s. */
export function rowLengths(input: ParityInput): ParityInput {
  const [rows, steps] = input.shape as [number, number];
  const data = new Int32Array(rows);
  for (let b = 0; b < rows; b++) {
    let len = steps;
    while (len > 0 && input.data[b * steps + len - 1] === 0) len--;
    data[b] = len;
  }
  return { dtype: 'int32', data, shape: [rows] };
}

/**
 * Runs the tfjs model and ONNX Runtime on the same random batch and returns the max abs error
 * per ONNX output. Inputs are matched by position. Throws {@link ParityError} when an output differs
 * by more than the tolerance (NaN in either counts as infinitely wrong).
 */
export async function checkParity(
  model: tf.LayersModel,
  onnxBytes: Uint8Array,
  opts: ParityOptions = {},
): Promise<ParityReport> {
  const batch = opts.batch ?? 8;
  const tolerance = opts.tolerance ?? 1e-4;
  const rng = createRng(opts.seed ?? 0);
  const scale = opts.scale ?? 1;

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(onnxBytes);
  } catch (err) {
    throw new ExportError(`ONNX Runtime cannot load the exported model: ${(err as Error).message}`, {
      userError: false,
      cause: err,
    });
  }
  try {
    const extraCount = session.inputNames.length - model.inputs.length;
    if ((extraCount !== 0 && !opts.extraInputs) || extraCount < 0 || session.outputNames.length !== model.outputs.length) {
      throw new ExportError(
        `The ONNX model has ${session.inputNames.length} inputs / ${session.outputNames.length} outputs, the tfjs model ${model.inputs.length} / ${model.outputs.length}.`,
        { userError: false },
      );
    }
    const feeds: Record<string, ort.Tensor> = {};
    const tfInputs: tf.Tensor[] = [];
    const generated: ParityInput[] = [];
    model.inputs.forEach((t, i) => {
      const shape = t.shape.map((d, axis) => {
        if (d !== null) return d;
        if (axis === 0) return batch;
        throw new ExportError(`Parity check needs static non-batch dimensions; input ${i} has shape [${t.shape.join(', ')}].`);
      });
      const input = randomInput(shape, t.dtype, rng, scale, opts.ids ?? defaultIds(model));
      generated.push(input);
      tfInputs.push(tf.tensor(input.data, shape, input.dtype));
      feeds[session.inputNames[i]!] = new ort.Tensor(input.dtype, input.data, shape);
    });
    if (opts.extraInputs) {
      for (const [name, input] of Object.entries(opts.extraInputs(generated))) {
        feeds[name] = new ort.Tensor(input.dtype, input.data, input.shape);
      }
    }

    // predict reshapes rank-1 inputs to [B, 1] (a Keras habit), which breaks models with a [batch]
    // input such as the text step graph's token; execute runs the graph as declared.
    const feed = tfInputs.length === 1 ? tfInputs[0]! : tfInputs;
    const predicted = tfInputs.some((x) => x.rank === 1)
      ? model.execute(feed, model.outputs.map((o) => o.name))
      : model.predict(feed);
    const tfOutputs = Array.isArray(predicted) ? predicted : [predicted];
    const expected = await Promise.all(tfOutputs.map((o) => o.data()));
    const expectedShapes = tfOutputs.map((o) => o.shape);
    tf.dispose([...tfInputs, ...tfOutputs]);

    const results = await session.run(feeds);
    const maxAbsError: Record<string, number> = {};
    session.outputNames.forEach((name, i) => {
      const got = results[name];
      const want = expected[i]!;
      const wantShape = expectedShapes[i]!;
      if (!got || got.dims.length !== wantShape.length || got.dims.some((d, k) => d !== wantShape[k])) {
        maxAbsError[name] = Number.POSITIVE_INFINITY;
        return;
      }
      const data = got.data as Float32Array;
      let max = 0;
      for (let k = 0; k < want.length; k++) {
        const diff = Math.abs((data[k] ?? Number.NaN) - (want[k] as number));
        max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(max, diff);
      }
      maxAbsError[name] = max;
    });
    const bad = Object.entries(maxAbsError).filter(([, e]) => !(e <= tolerance));
    if (bad.length > 0) {
      throw new ParityError(
        `ONNX output${bad.length > 1 ? 's' : ''} differ from tfjs beyond tolerance ${tolerance}: ` +
          bad.map(([n, e]) => `${n} max abs error ${e}`).join(', ') + '.',
        maxAbsError,
        tolerance,
      );
    }
    return { batch, tolerance, maxAbsError };
  } finally {
    await session.release();
  }
}
