/**
 * The exporter's error hierarchy. Every error the exporter throws on purpose is an {@link ExportError};
 * `userError` tells the CLI whether the input was at fault (exit code 2) or the export failed while
 * running (exit code 1).
 */
import { VaekitError } from '@vaekit/core';
/** Base class of the exporter's errors (core's `VaekitError`: `userError` defaults to true). */
export class ExportError extends VaekitError {
  override name = 'ExportError';
}

/** One layer the converter has no handler for. */
export interface UnsupportedLayer {
  /** The tfjs layer class name, e.g. `BatchNormalization`. */
  className: string;
  /** The layer's name in the model, e.g. `batch_normalization_1`. */
  layerName: string;
  /** Why it is unsupported when a handler exists but refused it (e.g. an opset out of its range). */
  reason?: string;
}

/** Thrown once per conversion, listing every layer of the model that cannot be converted. */
export class UnsupportedLayerError extends ExportError {
  override name = 'UnsupportedLayerError';
  constructor(
    /** Every unsupported layer found, in model order. */
    readonly layers: UnsupportedLayer[],
    /** Layer class names the converter supports. */
    readonly supported: string[],
  ) {
    const list = layers
      .map((l) => `${l.className} (layer "${l.layerName}"${l.reason ? `: ${l.reason}` : ''})`)
      .join(', ');
    super(
      `Cannot export ${layers.length} layer${layers.length === 1 ? '' : 's'} to ONNX: ${list}. ` +
        `Supported layers: ${supported.join(', ')}.`,
    );
  }
}

/** The ONNX graph does not reproduce the tfjs model within tolerance. */
export class ParityError extends ExportError {
  override name = 'ParityError';
  constructor(
    message: string,
    /** Max abs error per graph output. */
    readonly maxAbsError: Record<string, number>,
    /** The tolerance that was exceeded. */
    readonly tolerance: number,
  ) {
    super(message, { userError: false });
  }
}

/** Bytes that are not a valid ONNX model (truncated, corrupt, or not ONNX at all). */
export class OnnxFormatError extends ExportError {
  override name = 'OnnxFormatError';
}
