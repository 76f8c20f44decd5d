/** The ONNX opsets the exporter writes, and the IR version of each. */
import { ExportError } from './errors.js';

/** Lowest ONNX opset the exporter writes. */
export const MIN_OPSET = 13;
/** Highest ONNX opset the exporter writes. */
export const MAX_OPSET = 21;
/** The default opset: 17 (IR 8), understood by ONNX Runtime >= 1.13 and onnx >= 1.12. */
export const DEFAULT_OPSET = 17;

/** The ONNX IR version that goes with each opset (from the ONNX versioning table). */
const IR_FOR_OPSET: Readonly<Record<number, number>> = {
  13: 7,
  14: 7,
  15: 8,
  16: 8,
  17: 8,
  18: 8,
  19: 9,
  20: 9,
  21: 10,
};

/** The IR version for an opset; throws {@link ExportError} naming the accepted range otherwise. */
export function irVersionForOpset(opset: number): number {
  const ir = Number.isInteger(opset) ? IR_FOR_OPSET[opset] : undefined;
  if (ir === undefined) {
    throw new ExportError(
      `Unsupported ONNX opset ${JSON.stringify(opset)}. Should be an integer from ${MIN_OPSET} to ${MAX_OPSET}.`,
    );
  }
  return ir;
}
