/**
 * Plain tensors as the server moves them between HTTP, the batcher and the worker threads, and the
 * Open Inference Protocol (KServe v2) datatype names.
 */

/** Element types the served graphs use. */
export type Dtype = 'float32' | 'int32' | 'int64' | 'bool';

/** Typed array of a {@link Dtype}. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** A dense tensor: row-major data and its dimensions. */
export interface Tensor {
  dtype: Dtype;
  dims: number[];
  data: TensorData;
}

/** Open Inference Protocol datatype of each dtype. */
export const OIP_DATATYPE: Record<Dtype, string> = { float32: 'FP32', int32: 'INT32', int64: 'INT64', bool: 'BOOL' };

/** Triton `DataType` enum name of each dtype (model_config.proto). */
export const TRITON_DATATYPE: Record<Dtype, string> = { float32: 'TYPE_FP32', int32: 'TYPE_INT32', int64: 'TYPE_INT64', bool: 'TYPE_BOOL' };

/** The dtype of an Open Inference Protocol datatype name, or undefined. */
export function dtypeOfOip(datatype: string): Dtype | undefined {
  return (Object.keys(OIP_DATATYPE) as Dtype[]).find((d) => OIP_DATATYPE[d] === datatype);
}

/** Number of elements of a shape. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A zero-filled typed array of `dtype`. */
export function allocate(dtype: Dtype, length: number): TensorData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(length);
    case 'int32':
      return new Int32Array(length);
    case 'int64':
      return new BigInt64Array(length);
    case 'bool':
      return new Uint8Array(length);
  }
}

/** Typed array of `dtype` from JS numbers (or booleans); throws on values the dtype cannot hold. */
export function fromNumbers(dtype: Dtype, values: ArrayLike<unknown>, what: string): TensorData {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype === 'bool') {
      if (typeof v !== 'boolean') throw new TypeError(`${what}: element ${i} is ${JSON.stringify(v)}; BOOL data must be true or false.`);
      (out as Uint8Array)[i] = v ? 1 : 0;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TypeError(`${what}: element ${i} is ${JSON.stringify(v)}; expected a finite number.`);
    }
    if (dtype === 'float32') (out as Float32Array)[i] = v;
    else {
      if (!Number.isInteger(v)) throw new TypeError(`${what}: element ${i} is ${v}; ${OIP_DATATYPE[dtype]} data must be integers.`);
      if (dtype === 'int32') {
        if (v < -(2 ** 31) || v >= 2 ** 31) throw new TypeError(`${what}: element ${i} is ${v}, outside the INT32 range.`);
        (out as Int32Array)[i] = v;
      } else (out as BigInt64Array)[i] = BigInt(v);
    }
  }
  return out;
}

/** JSON-friendly numbers of a typed array. */
export function toNumbers(data: TensorData): number[] | boolean[] {
  if (data instanceof BigInt64Array) return Array.from(data, Number);
  if (data instanceof Uint8Array) return Array.from(data, (v) => v !== 0);
  return Array.from(data);
}

/** Concatenates tensors along the first (batch) dimension; all must share dtype and the other dims. */
export function concatRows(parts: Tensor[]): Tensor {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const rows = parts.reduce((n, p) => n + p.dims[0]!, 0);
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const data = allocate(first.dtype, total);
  let offset = 0;
  for (const p of parts) {
    (data as Float32Array).set(p.data as Float32Array, offset);
    offset += p.data.length;
  }
  return { dtype: first.dtype, dims: [rows, ...first.dims.slice(1)], data };
}

/** Rows `[start, start + count)` of a batched tensor (a copy). */
export function sliceRows(t: Tensor, start: number, count: number): Tensor {
  const width = t.dims[0] === 0 ? 0 : t.data.length / t.dims[0]!;
  return { dtype: t.dtype, dims: [count, ...t.dims.slice(1)], data: t.data.slice(start * width, (start + count) * width) };
}

/** Bytes per element of each dtype in the binary tensor data extension (BOOL: one byte). */
export const BYTES_PER_ELEMENT: Record<Dtype, number> = { float32: 4, int32: 4, int64: 8, bool: 1 };

/**
 * A typed array of `dtype` from little-endian, row-major bytes (the binary tensor data extension's
 * layout). Copies, so the result is aligned whatever the offset of `bytes` in the request body.
 */
export function fromBytes(dtype: Dtype, bytes: Uint8Array, what: string): TensorData {
  const size = BYTES_PER_ELEMENT[dtype];
  if (bytes.byteLength % size !== 0) throw new TypeError(`${what}: ${bytes.byteLength} bytes of binary data is not a whole number of ${OIP_DATATYPE[dtype]} elements (${size} bytes each).`);
  const out = allocate(dtype, bytes.byteLength / size);
  new Uint8Array(out.buffer).set(bytes);
  if (dtype === 'float32') {
    const f = out as Float32Array;
    for (let i = 0; i < f.length; i++) if (!Number.isFinite(f[i]!)) throw new TypeError(`${what}: element ${i} is ${f[i]}; expected a finite number.`);
  }
  return out;
}

/** The little-endian bytes of a typed array (a view, no copy). */
export function toBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
