/**
 * A tfjs IOHandler that saves and loads layers models as `model.json` + `weights.bin` in a folder.
 * tfjs' own `file://` handler ships only with tfjs-node, which is optional here.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CheckpointError } from './errors.js';
import { writeFileAtomic } from './fsutil.js';

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
        throw new CheckpointError('Only JSON model topologies can be saved.', false);
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
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of parsed.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
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
