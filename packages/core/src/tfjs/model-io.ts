/**
 * A tfjs IOHandler that saves and loads layers models as `model.json` + `weights.bin` in a folder.
 * tfjs' own `file://` handler ships only with tfjs-node, which is optional here.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CheckpointError } from '../run-config.js';
import { writeFileAtomic } from '../node/fs-atomic.js';

/** Name of the topology file in a saved model folder. */
export const MODEL_JSON = 'model.json';
/** Name of the weights file in a saved model folder. */
export const WEIGHTS_BIN = 'weights.bin';

interface ModelJson {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/**
 * Returns an IOHandler for `model.save(...)` and `tf.loadLayersModel(...)` backed by a folder.
 * Loading accepts any standard tfjs `model.json` whose weight paths are files next to it; `modelFile`
 * names the topology file when it is not `model.json`.
 */
export function folderIO(dir: string, modelFile: string = MODEL_JSON): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer || !artifacts.modelTopology) {
        throw new CheckpointError('Only JSON model topologies can be saved.', { userError: false });
      }
      await fs.mkdir(dir, { recursive: true });
      const weights = artifacts.weightData ? new tf.io.CompositeArrayBuffer(artifacts.weightData).slice() : new ArrayBuffer(0);
      const modelJson: ModelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFileAtomic(path.join(dir, WEIGHTS_BIN), new Uint8Array(weights));
      await writeFileAtomic(path.join(dir, modelFile), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(dir, modelFile);
      let parsed: ModelJson;
      try {
        parsed = JSON.parse(await fs.readFile(file, 'utf8')) as ModelJson;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new CheckpointError(
          code === 'ENOENT' ? `Model file not found: ${file}` : `Cannot read ${file}: ${(err as Error).message}`,
        );
      }
      if (!parsed || typeof parsed !== 'object' || !parsed.modelTopology || !Array.isArray(parsed.weightsManifest)) {
        throw new CheckpointError(`${file} is not a tfjs layers model (needs modelTopology and weightsManifest).`);
      }
      checkTopology(parsed.modelTopology, file);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of parsed.weightsManifest) {
        if (!group || !Array.isArray(group.weights) || !Array.isArray(group.paths)) {
          throw new CheckpointError(`${file} has a malformed weightsManifest.`);
        }
        specs.push(...group.weights);
        for (const p of group.paths) {
          if (typeof p !== 'string') throw new CheckpointError(`${file} has a malformed weightsManifest.`);
          const rel = path.normalize(p);
          if (path.isAbsolute(rel) || rel.startsWith('..')) {
            throw new CheckpointError(`${file}: weight path "${p}" leaves the model folder.`);
          }
          try {
            const b = await fs.readFile(path.join(dir, rel));
            buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
          } catch {
            throw new CheckpointError(`Weights file "${p}" listed in ${file} cannot be read.`);
          }
        }
      }
      // tfjs reports a short weights file as a shape error deep inside; name the file instead.
      const bytesPerElement: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2 };
      let expected = 0;
      for (const spec of specs) {
        if (!spec || !Array.isArray(spec.shape) || typeof spec.dtype !== 'string' || spec.quantization) {
          expected = Number.NaN;
          break;
        }
        expected += spec.shape.reduce((a, b) => a * b, 1) * (bytesPerElement[spec.dtype] ?? Number.NaN);
      }
      const actual = buffers.reduce((a, b) => a + b.byteLength, 0);
      if (Number.isFinite(expected) && expected !== actual) {
        throw new CheckpointError(`Weights of ${file} hold ${actual} bytes, the model needs ${expected}: the file is truncated or corrupt.`);
      }
      return {
        modelTopology: parsed.modelTopology,
        weightSpecs: specs,
        weightData: tf.io.concatenateArrayBuffers(buffers),
        format: parsed.format,
        generatedBy: parsed.generatedBy,
      };
    },
  };
}

/**
 * Checks the references inside a functional model's topology before tfjs deserializes it: every
 * inbound node, input and output must name a layer of the model. tfjs does not check this and loops
 * forever on a dangling reference (a one-character change in model.json was enough to hang `--resume`
 * and `vaekit export`).
 */
function checkTopology(topology: object, file: string): void {
  const bad = (why: string) => new CheckpointError(`${file} is not a valid tfjs layers model: ${why}.`);
  const walk = (model: unknown, where: string): void => {
    const m = model as { class_name?: unknown; config?: { layers?: unknown; input_layers?: unknown; output_layers?: unknown } };
    if (!m || typeof m !== 'object' || !m.config || typeof m.config !== 'object') return;
    const layers = m.config.layers;
    if (!Array.isArray(layers)) return;
    // Layer name -> how many nodes (calls) it has: an input layer has its own, others one per inbound node.
    const names = new Map<string, number>();
    for (const layer of layers as Array<{ name?: unknown; config?: { name?: unknown }; class_name?: unknown; inbound_nodes?: unknown }>) {
      const name = layer?.name ?? layer?.config?.name;
      if (typeof name !== 'string') throw bad(`a layer in ${where} has no name`);
      if (names.has(name)) throw bad(`layer name ${JSON.stringify(name.slice(0, 60))} appears twice in ${where}`);
      const inbound = Array.isArray(layer.inbound_nodes) ? layer.inbound_nodes.length : 0;
      names.set(name, layer.class_name === 'InputLayer' ? Math.max(1, inbound) : inbound);
    }
    if (m.class_name === 'Sequential') return;
    const refer = (ref: unknown, what: string) => {
      const [name, nodeIndex, tensorIndex] = Array.isArray(ref) ? ref : [];
      if (typeof name !== 'string' || !names.has(name)) {
        throw bad(`${what} in ${where} refers to ${JSON.stringify(String(name).slice(0, 60))}, which is not a layer of the model`);
      }
      const nodes = names.get(name)!;
      if (!Number.isInteger(nodeIndex) || nodeIndex < 0 || nodeIndex >= nodes || !Number.isInteger(tensorIndex) || tensorIndex < 0) {
        throw bad(`${what} in ${where} refers to node ${JSON.stringify(nodeIndex)}, tensor ${JSON.stringify(tensorIndex)} of layer ${JSON.stringify(name.slice(0, 60))}, which has ${nodes} node(s)`);
      }
    };
    for (const layer of layers as Array<{ name: string; inbound_nodes?: unknown; class_name?: unknown }>) {
      const nodes = layer.inbound_nodes ?? [];
      if (!Array.isArray(nodes)) throw bad(`layer ${JSON.stringify(layer.name)} has malformed inbound_nodes`);
      for (const node of nodes) {
        if (!Array.isArray(node)) throw bad(`layer ${JSON.stringify(layer.name)} has malformed inbound_nodes`);
        for (const ref of node) refer(ref, `an input of layer ${JSON.stringify(layer.name)}`);
      }
      if (layer.class_name === 'Model' || layer.class_name === 'Functional' || layer.class_name === 'Sequential') walk(layer, `layer ${JSON.stringify(layer.name)}`);
    }
    for (const key of ['input_layers', 'output_layers'] as const) {
      const refs = m.config[key];
      if (!Array.isArray(refs) || refs.length === 0) throw bad(`${key} of ${where} is missing`);
      for (const ref of refs) refer(ref, key);
    }
  };
  walk(topology, 'the model');
}
