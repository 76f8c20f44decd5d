/**
 * @vaekit/exporter: converts TensorFlow.js layers models and vaekit checkpoints to ONNX, written with
 * protobufjs, and verifies the result against tfjs with ONNX Runtime.
 */
export {
  DEFAULT_OPSET,
  MAX_OPSET,
  MIN_OPSET,
  PRODUCER,
  convertLayersModel,
  irVersionForOpset,
  writeDynamicDimsAsZero,
  type ConvertOptions,
  type ConvertResult,
} from './converter.js';
export { PARITY_RUNTIMES, checkParity, rowLengths, type ParityInput, type ParityOptions, type ParityRuntime } from './parity.js';
export {

  WEBGL_VARIANT_DIR,
  exportBundle,
  exportCheckpointBundle,
  exportTextBundle,
  writeFolderAtomic,
  type TextBundleSource,
  type BundleFileSummary,
  type ExportBundleOptions,
  type ExportBundleResult,
  type ExportProgress,
} from './bundle.js';
export { decodeModel, serializeModel, type OnnxModelSummary, type OnnxValueSummary } from './serialize.js';
export { ExportError, OnnxFormatError, ParityError, UnsupportedLayerError, type UnsupportedLayer } from './errors.js';
export {
  ConversionContext,
  DataType,
  attr,
  elementCount,
  type DataTypeCode,
  type IrAttribute,
  type IrGraph,
  type IrModel,
  type IrNode,
  type IrTensor,
  type IrValueInfo,
  type MakeNodeOptions,
} from './ir.js';
export { optimizeGraph } from './optimize.js';
export { HandlerRegistry, type LayerCall, type LayerHandler } from './handlers/registry.js';
export { createDefaultRegistry, defaultRegistry } from './handlers/index.js';
export { ACTIVATIONS, type ActivationSpec } from './handlers/activation.js';
export {
  TEXT_LAYER_NAMES,
  buildTextGraphs,
  convertTextGraphs,
  textSpecFor,
  vocabularyHash,
  type ConvertTextOptions,
  type ConvertedGraph,
  type TextGraphs,
} from './text-bundle.js';
export {
  exportModelFile,
  unsupportedInTopology,
  type ExportModelFileOptions,
  type ExportModelFileResult,
} from './model-file.js';
export {
  WEIGHT_DTYPES,
  applyWeightDtype,
  graphRunner,
  makeVariant,
  parseWeightDtype,
  toHalfBits,
  type GraphRunner,
  type GraphVariant,
  type WeightDtype,
  type WeightDtypeOptions,
} from './variants.js';
export { imageHeldOutLoss, textHeldOutLoss, type TextIds } from './held-out.js';
export { foldConstants } from './optimize.js';
export { WEBGL_OPS, assertProfileOps, profileOps } from './profiles.js';
export { EXPORT_PROFILES, type ExportProfile } from './ir.js';
