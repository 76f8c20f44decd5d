/**
 * Run folders and checkpoints.
 *
 * ```
 * RUN_DIR/config.json                     training configuration
 * RUN_DIR/metrics.jsonl                   one line of metrics per epoch
 * RUN_DIR/latest.json                     {"checkpoint": "checkpoints/epoch-0003", "epoch": 3}
 * RUN_DIR/checkpoints/epoch-0003/encoder  model.json + weights.bin
 * RUN_DIR/checkpoints/epoch-0003/decoder  model.json + weights.bin
 * RUN_DIR/checkpoints/epoch-0003/state.json
 * RUN_DIR/checkpoints/epoch-0003/optimizer.json + optimizer.bin   optimizer state, for --resume
 * RUN_DIR/checkpoints/epoch-0003/optimizer-NAME.json + .bin        named optimizers (text: encoder, decoder)
 * RUN_DIR/tokenizer.json                  text runs: the vocabulary (Hugging Face WordLevel layout)
 * ```
 *
 * A checkpoint is written to a temporary folder and renamed into place; `latest.json` is replaced
 * atomically afterwards, so a crash at any point leaves the previous complete checkpoint in charge.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensureBackend } from './backend.js';
import { CONFIG_FILE, CheckpointError, STATE_FILE, checkpointFolder, type TrainConfig } from '@vaekit/core';
import { trainingKinds } from './kinds/registry.js';
import { isDirectory, readLatestPointer, readRunConfig, readRunJson, removeStaleTemps, tempSibling, writeLatestPointer } from '@vaekit/core/node';
import { folderIO } from '@vaekit/core/tfjs';

/** A named optimizer variable, as `Optimizer.getWeights()` returns them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** Progress of training stored with each checkpoint. */
export interface TrainState {
  /** Number of completed epochs. */
  epoch: number;
  /** Optimizer steps taken. */
  step: number;
  /** Held-out metrics after the last completed epoch. */
  metrics?: Record<string, number>;
  backend?: string;
  seconds?: number;
  /** Every completed epoch's metrics line, so a resumed run can rewrite `metrics.jsonl` exactly. */
  history?: unknown[];
}

/** What a checkpoint holds besides its state: the models and the optimizers. */
export interface CheckpointContent {
  encoder?: tf.LayersModel;
  decoder: tf.LayersModel;
  /** The run's one optimizer, saved as `optimizer.json` + `optimizer.bin` (image runs). */
  optimizer?: tf.Optimizer;
  /** Named optimizers, saved as `optimizer-NAME.*` and returned in `optimizerStates` (text: encoder, decoder). */
  optimizers?: Record<string, tf.Optimizer>;
  /**
   * Training-only models (VAE-GAN: `discriminator`), saved in folders of their name and loaded only for
   * resuming (`optimizer` not false): export and evaluation never read them, so bundles never hold them.
   */
  trainingModels?: Record<string, tf.LayersModel>;
}

/**
 * A loaded checkpoint. It owns tfjs tensors (models, optimizer state): free them with {@link dispose},
 * or take the models and free the rest with {@link disposeOptimizerState}.
 */
export interface Checkpoint {
  config: TrainConfig;
  /** Absent for a language-model baseline run (text, `model: 'lm'`), which has no encoder. */
  encoder?: tf.LayersModel;
  decoder: tf.LayersModel;
  state: TrainState;
  /** Optimizer variables (Adam: iterations, first and second moments), when the checkpoint has them. */
  optimizerWeights?: NamedTensor[];
  /** States of the named optimizers saved with `optimizers` (text runs: `encoder`, `decoder`). */
  optimizerStates?: Record<string, NamedTensor[]>;
  /** The training-only models saved with `trainingModels` (loaded when the optimizer state is). */
  trainingModels?: Record<string, tf.LayersModel>;
  /** Frees the models and every optimizer tensor (both fields). Safe to call twice. */
  dispose(): void;
  /** Frees the optimizer tensors only (both fields), for callers that keep the models. Safe to call twice. */
  disposeOptimizerState(): void;
}

/** Folder-name prefix of training-only models in a checkpoint (`train-discriminator`). */
export const TRAINING_MODEL_PREFIX = 'train-';

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Load the optimizer state too (default true); `false` for export and evaluation, which never need it. */
  optimizer?: boolean;
}

export { CONFIG_FILE, LATEST_FILE, METRICS_FILE } from '@vaekit/core';
export { readRunConfig as readConfig, writeRunConfig as writeConfig } from '@vaekit/core/node';

/** Saves encoder, decoder and state as a new checkpoint, then points `latest.json` at it. */
export async function saveCheckpoint(runDir: string, checkpoint: CheckpointContent & { state: TrainState }, keep = 2
): Promise<string> {
  const rel = checkpointFolder(checkpoint.state.epoch);
  const finalDir = path.join(runDir, rel);
  // Temporary folders of a writer killed earlier (this run folder has one writer: us) are garbage.
  await removeStaleTemps(path.dirname(finalDir));
  await removeStaleTemps(runDir);
  const tmpDir = tempSibling(finalDir, false);
  await fs.mkdir(tmpDir, { recursive: true });
  if (checkpoint.encoder) await checkpoint.encoder.save(folderIO(path.join(tmpDir, 'encoder')));
  await checkpoint.decoder.save(folderIO(path.join(tmpDir, 'decoder')));
  for (const [name, model] of Object.entries(checkpoint.trainingModels ?? {})) {
    if (!/^\w+$/.test(name) || name === 'encoder' || name === 'decoder') throw new CheckpointError(`Invalid training model name "${name}".`);
    await model.save(folderIO(path.join(tmpDir, `${TRAINING_MODEL_PREFIX}${name}`)));
  }
  await fs.writeFile(path.join(tmpDir, STATE_FILE), JSON.stringify(checkpoint.state, null, 2) + '\n');
  const optimizers: Array<[string, tf.Optimizer]> = Object.entries(checkpoint.optimizers ?? {}).map(([name, o]) => [`optimizer-${name}`, o]);
  if (checkpoint.optimizer) optimizers.push(['optimizer', checkpoint.optimizer]);
  for (const [file, optimizer] of optimizers) {
    const weights = await optimizer.getWeights();
    await saveOptimizer(tmpDir, file, weights);
    // getWeights() returns the optimizer's own variables plus fresh tensors (the iteration count).
    tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
  }
  await fs.rm(finalDir, { recursive: true, force: true });
  await fs.rename(tmpDir, finalDir);
  await writeLatestPointer(runDir, { checkpoint: rel, epoch: checkpoint.state.epoch });
  const all = (await fs.readdir(path.join(runDir, 'checkpoints'))).filter((d) => /^epoch-\d+$/.test(d)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    // Renamed first, so a kill halfway through the removal leaves a temporary name (cleaned up later),
    // never a half-deleted folder that looks like a checkpoint.
    const doomed = tempSibling(path.join(runDir, 'checkpoints', old), false);
    await fs.rename(path.join(runDir, 'checkpoints', old), doomed);
    await fs.rm(doomed, { recursive: true, force: true });
  }
  return finalDir;
}

async function saveOptimizer(dir: string, base: string, weights: NamedTensor[]): Promise<void> {
  const specs: Array<{ name: string; shape: number[]; dtype: string }> = [];
  const parts: Uint8Array[] = [];
  for (const w of weights) {
    const values = (await w.tensor.data()) as Float32Array | Int32Array;
    specs.push({ name: w.name, shape: w.tensor.shape, dtype: w.tensor.dtype });
    parts.push(new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice());
  }
  await fs.writeFile(path.join(dir, `${base}.bin`), Buffer.concat(parts));
  await fs.writeFile(path.join(dir, `${base}.json`), JSON.stringify({ weights: specs }) + '\n');
}

async function loadOptimizer(dir: string, base: string): Promise<NamedTensor[] | undefined> {
  const jsonFile = `${base}.json`;
  const binFile = `${base}.bin`;
  let specs: { weights: Array<{ name: string; shape: number[]; dtype: 'float32' | 'int32' }> };
  try {
    specs = JSON.parse(await fs.readFile(path.join(dir, jsonFile), 'utf8'));
  } catch {
    return undefined;
  }
  const bad = (why: string) => new CheckpointError(`The optimizer state in ${dir} is corrupt: ${why}.`);
  if (!specs || !Array.isArray(specs.weights)) throw bad(`${jsonFile} has no weights list`);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path.join(dir, binFile));
  } catch {
    throw bad(`${binFile} cannot be read`);
  }
  let offset = 0;
  const parsed = specs.weights.map((spec) => {
    if (
      !spec ||
      typeof spec.name !== 'string' ||
      (spec.dtype !== 'float32' && spec.dtype !== 'int32') ||
      !Array.isArray(spec.shape) ||
      !spec.shape.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      throw bad(`${jsonFile} has a malformed entry`);
    }
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const start = offset;
    offset += size * 4;
    if (offset > bytes.length) throw bad(`${binFile} is shorter than ${jsonFile} says`);
    return { spec, start, size };
  });
  if (offset !== bytes.length) throw bad(`${binFile} holds ${bytes.length} bytes, ${jsonFile} describes ${offset}`);
  return parsed.map(({ spec, start, size }) => {
    const buffer = bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + size * 4);
    const values = spec.dtype === 'int32' ? new Int32Array(buffer) : new Float32Array(buffer);
    return { name: spec.name, tensor: tf.tensor(values, spec.shape, spec.dtype) };
  });
}

/**
 * Loads the newest complete checkpoint of a run folder made by `vaekit train`. The caller owns the
 * result: {@link Checkpoint.dispose} frees it.
 */
export async function loadCheckpoint(runDir: string, options: LoadCheckpointOptions = {}): Promise<Checkpoint> {
  const config = await readAnyRunConfig(runDir);
  const latest = await readLatestPointer(runDir);
  const dir = path.join(runDir, latest.checkpoint);
  await ensureBackend();
  const state = await readRunJson<TrainState>(path.join(dir, STATE_FILE), 'Checkpoint state');
  if (!state || !Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.step) || state.step < 0) {
    throw new CheckpointError(`${path.join(dir, STATE_FILE)} is not a vaekit checkpoint state (needs integer epoch and step).`);
  }
  // Everything loaded so far is released when a later part turns out to be corrupt.
  const loaded: Array<{ dispose(): void }> = [];
  const keep = <T extends { dispose(): void }>(x: T): T => (loaded.push(x), x);
  const keepWeights = (w: NamedTensor[] | undefined) => (w?.forEach((t) => keep(t.tensor)), w);
  let encoder: tf.LayersModel | undefined;
  let decoder: tf.LayersModel;
  let optimizerWeights: NamedTensor[] | undefined;
  const optimizerStates: Record<string, NamedTensor[]> = {};
  const trainingModels: Record<string, tf.LayersModel> = {};
  try {
    encoder = (await isDirectory(path.join(dir, 'encoder'))) ? keep(await loadModel(path.join(dir, 'encoder'))) : undefined;
    decoder = keep(await loadModel(path.join(dir, 'decoder')));
    if (options.optimizer !== false) optimizerWeights = keepWeights(await loadOptimizer(dir, 'optimizer'));
    for (const file of options.optimizer === false ? [] : await fs.readdir(dir)) {
      const name = /^optimizer-(\w+)\.json$/.exec(file)?.[1];
      const weights = name ? keepWeights(await loadOptimizer(dir, `optimizer-${name}`)) : undefined;
      if (name && weights) optimizerStates[name] = weights;
      const model = new RegExp(`^${TRAINING_MODEL_PREFIX}(\\w+)$`).exec(file)?.[1];
      if (model && (await isDirectory(path.join(dir, file)))) trainingModels[model] = keep(await loadModel(path.join(dir, file)));
    }
  } catch (err) {
    loaded.forEach((x) => x.dispose());
    throw err;
  }
  const checkpoint: Checkpoint = {
    config,
    ...(encoder ? { encoder } : {}),
    decoder,
    state,
    ...(optimizerWeights ? { optimizerWeights } : {}),
    ...(Object.keys(optimizerStates).length ? { optimizerStates } : {}),
    ...(Object.keys(trainingModels).length ? { trainingModels } : {}),
    disposeOptimizerState() {
      tf.dispose((checkpoint.optimizerWeights ?? []).map((w) => w.tensor));
      tf.dispose(Object.values(checkpoint.optimizerStates ?? {}).flatMap((ws) => ws.map((w) => w.tensor)));
    },
    dispose() {
      checkpoint.disposeOptimizerState();
      // LayersModel.dispose throws on a second call: dispose each model once.
      for (const m of [checkpoint.encoder, checkpoint.decoder, ...Object.values(checkpoint.trainingModels ?? {})]) {
        if (m && !disposed.has(m)) {
          disposed.add(m);
          m.dispose();
        }
      }
    },
  };
  const disposed = new WeakSet<tf.LayersModel>();
  return checkpoint;
}

/**
 * `config.json` of a run of any registered kind: core checks the built-in kinds field by field; a kind
 * registered with `registerTrainingKind` (defined outside core) is checked by its own `validate` later.
 */
async function readAnyRunConfig(runDir: string): Promise<TrainConfig> {
  try {
    return await readRunConfig(runDir);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    const json = await readRunJson<{ kind?: unknown } | null>(path.join(runDir, CONFIG_FILE), 'Run configuration').catch(() => null);
    const kind = json?.kind;
    if (typeof kind === 'string' && kind !== 'image' && kind !== 'text' && trainingKinds().includes(kind)) return json as unknown as TrainConfig;
    throw err;
  }
}

/** Loads one saved model; tfjs' own errors (bad topology, unknown layer) become a {@link CheckpointError} naming the folder. */
async function loadModel(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(folderIO(dir));
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    // tfjs quotes whole configurations in its messages: keep the line short.
    const detail = String((err as Error)?.message ?? err).split('\n')[0]!;
    throw new CheckpointError(`The model in ${dir} cannot be loaded (corrupt or not a tfjs layers model): ${detail.length > 200 ? `${detail.slice(0, 200)}…` : detail}`);
  }
}
