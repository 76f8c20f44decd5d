/**
 * `vaekit export-triton`: a bundle as a Triton model repository (ONNX Runtime backend), ready for
 * KServe: `<repo>/<bundle>_<graph>/config.pbtxt` + `1/model.onnx` for every graph, the stateful fused
 * decoder `<bundle>_decoder_stateful` for text bundles, a `vaekit.json` sidecar per model (bundle,
 * graph, sha256, manifest) so `vaekit serve --repository` serves the same folder, and
 * `inferenceservice.yaml` (Triton treats only sub-folders as models).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { graphNamesOf, MANIFEST_FILE, parseManifest, verifyFile, type BundleManifest, type TensorSpec } from '@vaekit/core';
import { ExportError } from '../errors.js';
import { modelConfigText, type TritonModelOptions, type TritonTensor } from './config.js';
import { fuseStatefulDecoder, START_INPUT } from './fuse.js';

/** Options of {@link exportTritonRepository}. */
export interface TritonExportOptions {
  /** Bundle name used in model names (default: the bundle folder's name). */
  name?: string;
  /** Triton `max_batch_size` (default 64). */
  maxBatchSize?: number;
  /** Dynamic batcher queue delay in microseconds (default 2000). */
  maxQueueDelayMicroseconds?: number;
  /** Instances on GPU (`KIND_GPU`) instead of CPU. */
  gpu?: boolean;
  /** Instances per model (default 1). */
  instanceCount?: number;
  /** The `storageUri` written into the InferenceService YAML (default a placeholder to fill in). */
  storageUri?: string;
  /** Replace an existing non-empty output folder. */
  overwrite?: boolean;
}

/** One model written. */
export interface TritonModelSummary {
  name: string;
  graph: string;
  inputs: TritonTensor[];
  outputs: TritonTensor[];
  stateful: boolean;
}

/** What {@link exportTritonRepository} wrote. */
export interface TritonExportResult {
  repository: string;
  bundle: string;
  models: TritonModelSummary[];
  inferenceService: string;
}

const TRITON_TYPE: Record<string, string> = { float32: 'TYPE_FP32', int32: 'TYPE_INT32', int64: 'TYPE_INT64' };
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function tritonTensor(t: TensorSpec): TritonTensor {
  const dataType = TRITON_TYPE[t.dtype];
  if (!dataType) throw new ExportError(`Tensor "${t.name}" has dtype ${t.dtype}. Should be one of: ${Object.keys(TRITON_TYPE).join(', ')}.`);
  // The first dimension is the batch (Triton adds it back from max_batch_size); names and 0 are dynamic.
  return { name: t.name, dataType, dims: t.shape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : -1)) };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The KServe InferenceService for a repository (Triton runtime, Open Inference Protocol v2). */
export function inferenceServiceYaml(name: string, storageUri: string, gpu: boolean): string {
  const k8sName = name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '') || 'vaekit';
  return [
    '# KServe InferenceService for a vaekit Triton model repository (docs/serving.md).',
    '# Upload the repository folder (this file may stay in it: Triton loads only sub-folders) and set storageUri.',
    'apiVersion: serving.kserve.io/v1beta1',
    'kind: InferenceService',
    'metadata:',
    `  name: ${k8sName}`,
    'spec:',
    '  predictor:',
    '    model:',
    '      modelFormat:',
    '        name: onnx',
    '      protocolVersion: v2',
    '      runtime: kserve-tritonserver',
    `      storageUri: ${JSON.stringify(storageUri)}`,
    '      args:',
    '        - --strict-model-config=true',
    '      resources:',
    '        requests:',
    '          cpu: "1"',
    '          memory: 1Gi',
    '        limits:',
    '          cpu: "2"',
    '          memory: 2Gi',
    ...(gpu ? ['          nvidia.com/gpu: "1"'] : []),
    '',
  ].join('\n');
}

async function writeModel(dir: string, config: string, onnx: Uint8Array, sidecar: Record<string, unknown>): Promise<void> {
  await fs.mkdir(path.join(dir, '1'), { recursive: true });
  await fs.writeFile(path.join(dir, '1', 'model.onnx'), onnx);
  await fs.writeFile(path.join(dir, 'config.pbtxt'), config);
  await fs.writeFile(path.join(dir, 'vaekit.json'), JSON.stringify({ format: 'vaekit-triton-model', formatVersion: 1, ...sidecar, sha256: sha256(onnx) }, null, 2) + '\n');
}

/**
 * Writes the Triton model repository of the bundle in `bundleDir` to `repoDir`. Verifies every
 * bundle file against its manifest first. Throws {@link ExportError} for bad input.
 */
export async function exportTritonRepository(bundleDir: string, repoDir: string, options: TritonExportOptions = {}): Promise<TritonExportResult> {
  const name = options.name ?? path.basename(path.resolve(bundleDir)).replace(/[^A-Za-z0-9_.-]/g, '_');
  if (!NAME_RE.test(name)) throw new ExportError(`Model name prefix "${name}" is not allowed: use 1-64 letters, digits, "_", "." or "-" (--name).`);
  const maxBatchSize = options.maxBatchSize ?? 64;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new ExportError(`maxBatchSize must be a positive integer, got ${maxBatchSize}.`);
  let manifest: BundleManifest;
  const read = async (rel: string) => {
    try {
      return new Uint8Array(await fs.readFile(path.join(bundleDir, rel)));
    } catch {
      throw new ExportError(`Bundle file missing: ${path.join(bundleDir, rel)}`);
    }
  };
  const manifestBytes = await read(MANIFEST_FILE);
  try {
    manifest = parseManifest(JSON.parse(new TextDecoder().decode(manifestBytes)));
  } catch (err) {
    throw new ExportError(`${path.join(bundleDir, MANIFEST_FILE)}: ${(err as Error).message}`);
  }
  const verified = async (rel: string) => {
    const bytes = await read(rel);
    try {
      await verifyFile(manifest, rel, bytes);
    } catch (err) {
      throw new ExportError(`${path.join(bundleDir, rel)}: ${(err as Error).message}`);
    }
    return bytes;
  };

  const existing = await fs.readdir(repoDir).catch(() => [] as string[]);
  if (existing.length > 0) {
    if (!options.overwrite) throw new ExportError(`${repoDir} exists and is not empty; choose another folder or pass --overwrite.`);
    await fs.rm(repoDir, { recursive: true, force: true });
  }
  await fs.mkdir(repoDir, { recursive: true });

  const modelOptions: TritonModelOptions = {
    maxBatchSize,
    preferredBatchSizes: [...new Set([8, 32, maxBatchSize])].filter((n) => n <= maxBatchSize).sort((a, b) => a - b),
    maxQueueDelayMicroseconds: options.maxQueueDelayMicroseconds ?? 2000,
    kind: options.gpu ? 'KIND_GPU' : 'KIND_CPU',
    instanceCount: options.instanceCount ?? 1,
    parameters: options.gpu ? {} : { intra_op_thread_count: '1', inter_op_thread_count: '1' },
  };
  const graphs = manifest.graphs as unknown as Record<string, { file: string; inputs: TensorSpec[]; outputs: TensorSpec[] }>;
  const models: TritonModelSummary[] = [];
  const bytesOf: Record<string, Uint8Array> = {};
  for (const graph of graphNamesOf(manifest.kind)) {
    const spec = graphs[graph]!;
    const modelName = `${name}_${graph}`;
    const inputs = spec.inputs.map(tritonTensor);
    const outputs = spec.outputs.map(tritonTensor);
    bytesOf[graph] = await verified(spec.file);
    await writeModel(path.join(repoDir, modelName), modelConfigText(modelName, inputs, outputs, modelOptions), bytesOf[graph]!, { bundle: name, graph, manifest });
    models.push({ name: modelName, graph, inputs, outputs, stateful: false });
  }
  if (manifest.kind === 'text') {
    await fs.writeFile(path.join(repoDir, `${name}_encoder`, 'tokenizer.json'), await verified(manifest.text.tokenizer));
    const stateNames = manifest.text.stateNames;
    const fused = fuseStatefulDecoder(bytesOf.decoder_init!, bytesOf.decoder_step!, stateNames);
    const step = graphs.decoder_step!;
    const modelName = `${name}_decoder_stateful`;
    const inputs = step.inputs.filter((t) => t.name === 'token' || t.name === 'z').map(tritonTensor);
    // Every output of the step but the states, which the sequence batcher keeps (logits and the decoding heads).
    const stateOutputs = new Set(stateNames.map((s) => `${s}_out`));
    const outputs = step.outputs.filter((t) => !stateOutputs.has(t.name)).map(tritonTensor);
    const H = manifest.text.hiddenSize;
    const config = modelConfigText(modelName, inputs, outputs, modelOptions, {
      controlInput: START_INPUT,
      states: stateNames.map((s) => ({ input: s, output: `${s}_out`, dataType: 'TYPE_FP32', dims: [H] })),
      maxCandidateSequences: Math.max(256, maxBatchSize),
      maxSequenceIdleMicroseconds: 60_000_000,
    });
    await writeModel(path.join(repoDir, modelName), config, fused, { bundle: name, graph: 'decoder_stateful', manifest, tokenizerModel: `${name}_encoder` });
    models.push({ name: modelName, graph: 'decoder_stateful', inputs, outputs, stateful: true });
  }
  const yaml = inferenceServiceYaml(name, options.storageUri ?? `s3://CHANGE-ME/${path.basename(path.resolve(repoDir))}`, options.gpu === true);
  const inferenceService = path.join(repoDir, 'inferenceservice.yaml');
  await fs.writeFile(inferenceService, yaml);
  return { repository: repoDir, bundle: name, models, inferenceService };
}
