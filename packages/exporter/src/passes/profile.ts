/**
 * The profile passes. Export profiles: `webgl` targets onnxruntime-web's WebGL backend, which lacks many ops (GRU, LSTM,
 * RNN, HardSigmoid, Softplus, Softsign, Expand, ConstantOfShape, LayerNormalization, Where, Range,
 * ReduceSum with axes as an input, int64 graph inputs, quantization) and has no fallback: handlers
 * emit primitive forms instead (recurrent layers unrolled over their static length, see recurrent.ts),
 * and {@link assertProfileOps} refuses a graph that still holds an op the profile lacks.
 */
import { ExportError } from '../errors.js';
import { DataType, type ExportProfile, type IrModel } from '../ir.js';

/**
 * The ai.onnx ops onnxruntime-web's WebGL backend implements (onnxruntime-web 1.30
 * docs/webgl-operators.md), limited to the opset ranges our graphs use (13+). `Constant` nodes are
 * turned into initializers when the model loads.
 */
export const WEBGL_OPS: ReadonlySet<string> = new Set([
  'Abs', 'Acos', 'Add', 'And', 'Asin', 'Atan', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Clip', 'Concat',
  'Constant', 'Conv', 'ConvTranspose', 'Cos', 'DepthToSpace', 'Div', 'Dropout', 'Elu', 'Equal', 'Exp', 'Flatten', 'Floor',
  'Gather', 'Gemm', 'GlobalAveragePool', 'GlobalMaxPool', 'Greater', 'Identity', 'InstanceNormalization', 'LRN', 'LeakyRelu',
  'Less', 'Log', 'MatMul', 'MaxPool', 'Mul', 'Neg', 'Not', 'Or', 'PRelu', 'Pad', 'Pow', 'ReduceLogSum', 'ReduceMax',
  'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'Shape', 'Sigmoid', 'Sin',
  'Slice', 'Softmax', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan', 'Tanh', 'Tile', 'Transpose', 'Unsqueeze', 'Xor',
]);

/** Ops a profile allows, or undefined for no limit. */
export function profileOps(profile: ExportProfile): ReadonlySet<string> | undefined {
  return profile === 'webgl' ? WEBGL_OPS : undefined;
}

/**
 * Throws {@link ExportError} naming every op (with a node using it) and int64 graph input the profile
 * cannot run.
 */
export function assertProfileOps(model: IrModel, profile: ExportProfile): void {
  const allowed = profileOps(profile);
  if (!allowed) return;
  const bad = new Map<string, string>();
  for (const n of model.graph.nodes) if (!allowed.has(n.opType) && !bad.has(n.opType)) bad.set(n.opType, n.name);
  const problems = [...bad].map(([op, node]) => `${op} (node "${node}")`);
  for (const v of model.graph.inputs) if (v.elemType === DataType.INT64) problems.push(`int64 input "${v.name}"`);
  if (model.graph.initializers.some((t) => t.dataType === DataType.FLOAT16 || t.dataType === DataType.INT8)) {
    problems.push('fp16/int8 weights (use --dtype fp32)');
  }
  if (problems.length > 0) {
    throw new ExportError(
      `The ${profile} profile cannot express this model: ${problems.join(', ')} ${problems.length === 1 ? 'is' : 'are'} not supported by onnxruntime-web's WebGL backend. Export with --profile default (and run it with the wasm or webgpu backend).`,
    );
  }
}

/**
 * onnxruntime-web's WebGL backend reads a symbolic dimension (`dim_param`) as null and then rejects
 * every input shape, while `dim_value 0` is its marker for "any size"; ONNX Runtime's other builds
 * do not (they check a fed size against a declared 0 and refuse it), so such a file runs on WebGL
 * only. Rewrites, in place, the graph inputs' and outputs' symbolic dimensions as 0.
 */
export function writeDynamicDimsAsZero(model: IrModel): void {
  for (const v of [...model.graph.inputs, ...model.graph.outputs]) v.shape = v.shape.map((d) => (typeof d === 'string' ? 0 : d));
}
