/**
 * @vaekit/exporter: converts TensorFlow.js layers models to ONNX, written with protobufjs, and verifies
 * the result against tfjs with ONNX Runtime. The use cases: export a bundle from in-memory models
 * ({@link exportBundle}; a new model kind plugs in with {@link registerExportPlan}), export any layers
 * model file ({@link exportModelFile}) or model ({@link convertLayersModel}), and convert custom layers
 * with handlers of your own ({@link HandlerRegistry}, {@link createDefaultRegistry}).
 */
export {
  exportBundle,
  exportPlanKinds,
  registerExportPlan,
  runPlan,
  type BundleFileSummary,
  type BundleSource,
  type BundleSourceBase,
  type ExportBundleOptions,
  type ExportBundleResult,
  type ExportPlan,
  type ExportPlanFactory,
  type ExportProgress,
  type PlanGraph,
} from './plans.js';
export type { ImageBundleSource } from './kinds/image.js';
export type { TextBundleSource } from './kinds/text.js';
export { decodingHeads } from './kinds/text.js';
export type { ClassifierBundleSource } from './kinds/classifier.js';
export { buildSeq2SeqGraphs, type Seq2SeqBundleSource, type Seq2SeqInferenceGraphs } from './kinds/seq2seq.js';
export { exportModelFile, type ExportModelFileOptions, type ExportModelFileResult } from './model-file.js';
export { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, convertLayersModel, type ConvertOptions, type ConvertResult } from './converter.js';
export { WEIGHT_DTYPES, type WeightDtype } from './passes/weight-dtype.js';
export { writeDynamicDimsAsZero } from './passes/profile.js';
export { EXPORT_PROFILES, type ExportProfile } from './ir.js';
export { checkParity, type ParityInput, type ParityOptions, type ParityRuntime } from './parity.js';
export type { GraphRunner } from './ort.js';
export { HandlerRegistry, type LayerCall, type LayerHandler } from './handlers/registry.js';
export { createDefaultRegistry } from './handlers/index.js';
export {
  ConversionContext,
  DataType,
  attr,
  type DataTypeCode,
  type IrAttribute,
  type IrGraph,
  type IrModel,
  type IrNode,
  type IrTensor,
  type IrValueInfo,
  type MakeNodeOptions,
} from './ir.js';
export { decodeModel, serializeModel, type OnnxModelSummary, type OnnxValueSummary } from './serialize.js';
export { ExportError, OnnxFormatError, ParityError, UnsupportedLayerError, type UnsupportedLayer } from './errors.js';
export {
  exportTritonRepository,
  inferenceServiceYaml,
  type TritonExportOptions,
  type TritonExportResult,
  type TritonModelSummary,
} from './triton/repository.js';
export { fuseStatefulDecoder, START_INPUT } from './triton/fuse.js';
export { modelConfigText, type TritonModelOptions, type TritonSequenceOptions, type TritonTensor } from './triton/config.js';
