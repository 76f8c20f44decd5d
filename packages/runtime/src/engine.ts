/**
 * The internal seam between the platform-neutral runtime and ONNX Runtime. Each platform module in
 * `backends/` implements {@link Engine}; nothing outside `backends/` touches ORT types.
 */
import { RuntimeError } from './errors.js';
import type { BackendName, LoadOptions } from './types.js';

/** A dense tensor in plain JS form: float32, or int32 for token ids and lengths. */
export interface EngineTensor {
  data: Float32Array | Int32Array;
  dims: number[];
}

/** A dense float32 tensor in plain JS form. */
export interface FloatTensor extends EngineTensor {
  data: Float32Array;
}

/** Type and shape of a graph input or output as the ONNX file declares it (string dims are symbolic). */
export interface GraphValueInfo {
  name: string;
  /** ORT's element type name, e.g. `float32`, `int64`. */
  dtype: string;
  /** Empty when the file declares no shape. */
  shape: ReadonlyArray<number | string>;
}

/** One loaded ONNX graph. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Declared types and shapes, when the platform's ORT exposes them (used to check the manifest). */
  readonly inputInfo?: readonly GraphValueInfo[];
  readonly outputInfo?: readonly GraphValueInfo[];
  /**
   * Runs the graph. With `fetches`, only those outputs are returned (ONNX Runtime still runs every
   * node: a session of a pruned copy, `onnx-prune.ts`, skips the work); without, every output. Float
   * outputs come back as Float32Array, int32 ones as Int32Array.
   */
  run(feeds: Record<string, EngineTensor>, fetches?: readonly string[]): Promise<Record<string, EngineTensor>>;
  release(): Promise<void>;
}

/** Creates sessions for one platform. */
export interface Engine {
  /** Backends this platform can run, the default first. */
  readonly backends: readonly BackendName[];
  createSession(model: Uint8Array, backend: BackendName, options: LoadOptions): Promise<GraphSession>;
}

/** Output `name` of a graph run as float32 data; a missing or non-float output is a broken bundle. */
export function floatOutput(result: Record<string, EngineTensor>, name: string, file: string): Float32Array {
  const data = result[name]?.data;
  if (!(data instanceof Float32Array)) {
    throw new RuntimeError(`${file} did not produce a float32 output "${name}".`, { userError: false });
  }
  return data;
}

/** Output `name` of a graph run as int32 data; a missing or non-int32 output is a broken bundle. */
export function intOutput(result: Record<string, EngineTensor>, name: string, file: string): Int32Array {
  const data = result[name]?.data;
  if (!(data instanceof Int32Array)) {
    throw new RuntimeError(`${file} did not produce an int32 output "${name}".`, { userError: false });
  }
  return data;
}
