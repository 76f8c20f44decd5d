/**
 * Any tfjs layers model saved as `model.json` + weight files (not only vaekit's) -> one `.onnx` file:
 * the `vaekit export-model` path. Layer classes are checked against the handler registry from the
 * JSON topology before tfjs loads anything, so a model with classes neither tfjs nor the exporter
 * knows still gets one error listing them all.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ParityReport } from '@vaekit/core';
import { writeFileAtomic } from '@vaekit/core/node';
import { folderIO } from '@vaekit/core/tfjs';
import { convertLayersModel, DEFAULT_OPSET, type ConvertResult } from './converter.js';
import { ExportError, UnsupportedLayerError, type UnsupportedLayer } from './errors.js';
import { defaultRegistry } from './handlers/index.js';
import type { HandlerRegistry } from './handlers/registry.js';
import { checkParity } from './parity.js';
import type { ExportProfile } from './ir.js';
import type { WeightDtype } from './passes/weight-dtype.js';

/** Container classes whose sub-layers are converted instead of the container itself. */
const CONTAINERS = new Set(['Sequential', 'Model', 'Functional']);

interface LayerJson {
  class_name?: string;
  config?: { name?: string; layers?: LayerJson[]; layer?: LayerJson; cell?: LayerJson };
}

/**
 * Every layer of a tfjs `modelTopology` (nested models, wrapped layers and RNN cells included) whose
 * class has no handler. Wrapped layers and cells are converted by their wrapper's handler, so only
 * the top-level classes of wrappers are looked up.
 */
export function unsupportedInTopology(topology: unknown, registry: HandlerRegistry = defaultRegistry): UnsupportedLayer[] {
  const found: UnsupportedLayer[] = [];
  const visit = (layer: LayerJson): void => {
    const cls = layer.class_name ?? '?';
    const name = layer.config?.name ?? '?';
    if (CONTAINERS.has(cls)) {
      for (const l of layer.config?.layers ?? []) visit(l);
      return;
    }
    if (!registry.has(cls)) found.push({ className: cls, layerName: name });
  };
  const root = (topology as { model_config?: LayerJson } | undefined)?.model_config ?? (topology as LayerJson);
  if (root && typeof root === 'object') visit(root);
  return found;
}

/** Options of {@link exportModelFile}. */
export interface ExportModelFileOptions {
  opset?: number;
  /** Check the ONNX file against tfjs on random inputs (needs static non-batch input shapes). Default true. */
  parity?: boolean;
  tolerance?: number;
  registry?: HandlerRegistry;
  /** Export profile (see profiles.ts). Default `default`. */
  profile?: ExportProfile;
  /** Weight dtype; with fp16/int8 the parity check compares the fp32 conversion with tfjs. Default fp32. */
  dtype?: WeightDtype;
}

/** What {@link exportModelFile} wrote. */
export interface ExportModelFileResult {
  outFile: string;
  bytes: number;
  result: ConvertResult;
  /** Absent when parity was switched off. */
  parity?: ParityReport;
  /** Layers of the model, by class name, with their counts. */
  layers: Record<string, number>;
}

/**
 * Loads `modelJson` (a tfjs layers `model.json` with its weight files next to it), converts it to ONNX,
 * checks parity against tfjs (unless switched off) and writes `outFile` atomically.
 *
 * Throws {@link UnsupportedLayerError} listing every layer without a handler, {@link ExportError}
 * (userError) for a missing or malformed file.
 */
export async function exportModelFile(modelJson: string, outFile: string, opts: ExportModelFileOptions = {}): Promise<ExportModelFileResult> {
  const registry = opts.registry ?? defaultRegistry;
  let text: string;
  try {
    text = await fs.readFile(modelJson, 'utf8');
  } catch {
    throw new ExportError(`Model file not found: ${modelJson} (expected a tfjs layers model.json).`);
  }
  let parsed: { modelTopology?: unknown; weightsManifest?: unknown };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    throw new ExportError(`${modelJson} is not JSON (expected a tfjs layers model.json).`);
  }
  if (!parsed || typeof parsed !== 'object' || !parsed.modelTopology || !Array.isArray(parsed.weightsManifest)) {
    throw new ExportError(`${modelJson} is not a tfjs layers model (needs modelTopology and weightsManifest).`);
  }
  const unsupported = unsupportedInTopology(parsed.modelTopology, registry);
  if (unsupported.length > 0) throw new UnsupportedLayerError(unsupported, registry.classNames());

  let model: tf.LayersModel;
  await ensureTfBackend();
  try {
    model = await tf.loadLayersModel(folderIO(path.dirname(modelJson), path.basename(modelJson)));
  } catch (err) {
    throw new ExportError(`Cannot load ${modelJson} with tfjs: ${(err as Error).message}`, { cause: err });
  }
  try {
    const convert = (dtype: WeightDtype) =>
      convertLayersModel(model, {
        opset: opts.opset ?? DEFAULT_OPSET,
        ...(opts.registry ? { registry: opts.registry } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
        dtype,
      });
    const result = convert('fp32');
    const parity =
      opts.parity === false
        ? undefined
        : await checkParity(model, result.parityBytes, opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {});
    // The fp32 conversion is what parity checks; the file gets the asked-for weight dtype.
    const bytes = opts.dtype && opts.dtype !== 'fp32' ? convert(opts.dtype).bytes : result.bytes;
    await fs.mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
    await writeFileAtomic(outFile, bytes);
    const layers: Record<string, number> = {};
    for (const l of model.layers) layers[l.getClassName()] = (layers[l.getClassName()] ?? 0) + 1;
    return { outFile, bytes: bytes.length, result, ...(parity ? { parity } : {}), layers };
  } finally {
    model.dispose();
  }
}

/**
 * Keeps the tfjs backend the caller chose; when none was chosen yet, selects tfjs' own CPU backend: the
 * reference kernels the parity check is meant to compare against (never vaekit's patched ones).
 */
async function ensureTfBackend(): Promise<void> {
  if ((tf.engine() as unknown as { backendName: string | null }).backendName) return;
  await tf.setBackend('cpu');
}
