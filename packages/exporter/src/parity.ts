/**
 * Parity check: the tfjs model and the ONNX file, run on the same seeded random batch, must agree.
 * ONNX Runtime is reached through ort.ts. tfjs runs on whatever backend the caller selected.
 */
import * as tf from '@tensorflow/tfjs';
import type { ParityReport } from '@vaekit/core';
import { createRng } from '@vaekit/core';
import { ExportError, ParityError } from './errors.js';
import { PARITY_RUNTIMES, openSession, type OrtSession, type ParityInput, type ParityRuntime } from './ort.js';

export { PARITY_RUNTIMES, type ParityInput, type ParityRuntime };

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
  /**
   * Inputs that random normals or ids would not exercise well (a 0/1 mask): returns the input at
   * `index` (tfjs input order) for `shape`, or undefined for the default draw.
   */
  makeInput?: (index: number, shape: number[], rng: ReturnType<typeof createRng>) => ParityInput | undefined;
  /**
   * Compare against this ONNX model (run with onnxruntime-node on the same inputs) instead of tfjs:
   * how far a compressed variant is from the fp32 export.
   */
  reference?: Uint8Array;
  /** ONNX Runtime builds to compare against: `node` (onnxruntime-node), `wasm` (onnxruntime-web). Default `['node']`. */
  runtimes?: readonly ParityRuntime[];
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

/** Whether the model's `index`-th input goes straight into an Embedding layer. */
function feedsEmbedding(model: tf.LayersModel, index: number): boolean {
  const layer = model.inputLayers[index];
  return (layer?.outboundNodes ?? []).some((node) => node.outboundLayer.getClassName() === 'Embedding');
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
 * Runs the tfjs model and ONNX Runtime (onnxruntime-node, and onnxruntime-web's WASM backend when
 * `runtimes` includes `wasm`) on the same random batch and returns the max abs error per ONNX output,
 * the worst over the runtimes. Inputs are matched by position. Throws {@link ParityError} when an
 * output differs by more than the tolerance (NaN in either counts as infinitely wrong).
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
  const runtimes = opts.runtimes ?? ['node'];

  // Inputs and the tfjs reference, computed once for every runtime.
  const tfInputs: tf.Tensor[] = [];
  const generated: ParityInput[] = [];
  model.inputs.forEach((t, i) => {
    const shape = t.shape.map((d, axis) => {
      if (d !== null) return d;
      if (axis === 0) return batch;
      throw new ExportError(`Parity check needs static non-batch dimensions; input ${i} has shape [${t.shape.join(', ')}].`);
    });
    // A float input that feeds an Embedding still carries ids (tfjs casts them): negative or fractional
    // values would index outside the table, so it gets ids like an int32 input, as floats.
    const idsDtype = t.dtype === 'float32' && feedsEmbedding(model, i) ? 'int32' : t.dtype;
    const drawn = opts.makeInput?.(i, shape, rng) ?? randomInput(shape, idsDtype, rng, scale, opts.ids ?? defaultIds(model));
    const input: ParityInput = idsDtype === t.dtype ? drawn : { dtype: 'float32', shape, data: Float32Array.from(drawn.data) };
    generated.push(input);
    tfInputs.push(tf.tensor(input.data, shape, input.dtype));
  });
  const extra = opts.extraInputs ? opts.extraInputs(generated) : {};
  let expected: Array<ArrayLike<number>>;
  let expectedShapes: number[][];
  if (opts.reference) {
    tf.dispose(tfInputs);
    const ref = await openSession('node', opts.reference);
    try {
      const feeds: Record<string, ParityInput> = { ...extra };
      generated.forEach((g, i) => (feeds[ref.inputNames[i]!] = g));
      const out = await ref.run(feeds);
      expected = ref.outputNames.map((n) => out[n]!.data);
      expectedShapes = ref.outputNames.map((n) => [...out[n]!.dims]);
    } finally {
      await ref.release();
    }
  } else {
    // predict reshapes rank-1 inputs to [B, 1] (a Keras habit), which breaks models with a [batch]
    // input such as the text step graph's token; execute runs the graph as declared.
    // Inside tidy: layers that compute masks (Embedding with maskZero) leave intermediate tensors
    // that predict() does not free, one per call in a long-lived process.
    const feed = tfInputs.length === 1 ? tfInputs[0]! : tfInputs;
    const tfOutputs = tf.tidy(() => {
      const predicted = tfInputs.some((x) => x.rank === 1)
        ? model.execute(feed, model.outputs.map((o) => o.name))
        : model.predict(feed);
      return Array.isArray(predicted) ? predicted : [predicted];
    });
    expected = await Promise.all(tfOutputs.map((o) => o.data() as Promise<Float32Array>));
    expectedShapes = tfOutputs.map((o) => o.shape);
    tf.dispose([...tfInputs, ...tfOutputs]);
  }

  const maxAbsError: Record<string, number> = {};
  const byRuntime: Record<string, Record<string, number>> = {};
  for (const runtime of runtimes) {
    let session: OrtSession;
    try {
      session = await openSession(runtime, onnxBytes);
    } catch (err) {
      throw new ExportError(`ONNX Runtime (${runtime}) cannot load the exported model: ${(err as Error).message}`, {
        userError: false,
        cause: err,
      });
    }
    try {
      const extraCount = session.inputNames.length - model.inputs.length;
      // Outputs past the model's own (ConvertOptions.extraOutputs) have no tfjs counterpart.
      if (extraCount !== Object.keys(extra).length || session.outputNames.length < model.outputs.length) {
        throw new ExportError(
          `The ONNX model has ${session.inputNames.length} inputs / ${session.outputNames.length} outputs, the tfjs model ${model.inputs.length} / ${model.outputs.length}.`,
          { userError: false },
        );
      }
      const feeds: Record<string, ParityInput> = { ...extra };
      generated.forEach((g, i) => (feeds[session.inputNames[i]!] = g));
      const results = await session.run(feeds);
      const errors: Record<string, number> = {};
      session.outputNames.slice(0, model.outputs.length).forEach((name, i) => {
        const got = results[name];
        const want = expected[i]!;
        const wantShape = expectedShapes[i]!;
        if (!got || got.dims.length !== wantShape.length || got.dims.some((d, k) => d !== wantShape[k])) {
          errors[name] = Number.POSITIVE_INFINITY;
          return;
        }
        let max = 0;
        for (let k = 0; k < want.length; k++) {
          const diff = Math.abs((got.data[k] ?? Number.NaN) - want[k]!);
          max = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : Math.max(max, diff);
        }
        errors[name] = max;
        maxAbsError[name] = Math.max(maxAbsError[name] ?? 0, max);
      });
      byRuntime[runtime] = errors;
    } finally {
      await session.release();
    }
  }
  const bad = Object.entries(maxAbsError).filter(([, e]) => !(e <= tolerance));
  if (bad.length > 0) {
    const where = runtimes.length > 1 ? ` (${Object.entries(byRuntime).map(([r, e]) => `${r}: ${Object.values(e).map((v) => v.toExponential(2)).join('/')}`).join(', ')})` : '';
    throw new ParityError(
      `ONNX output${bad.length > 1 ? 's' : ''} differ from tfjs beyond tolerance ${tolerance}: ` +
        bad.map(([n, e]) => `${n} max abs error ${e}`).join(', ') + `${where}.`,
      maxAbsError,
      tolerance,
    );
  }
  return { batch, tolerance, maxAbsError, ...(runtimes.length > 1 || runtimes[0] !== 'node' ? { runtimes: byRuntime } : {}) };
}
