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
import type { TrainConfig } from './config.js';
import { CheckpointError } from './errors.js';
import { isDirectory, writeFileAtomic } from './fsutil.js';
import { folderIO } from './io.js';

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

/** A loaded checkpoint. */
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
}

/** Name of the pointer file to the newest complete checkpoint. */
export const LATEST_FILE = 'latest.json';
/** Name of the configuration file in a run folder. */
export const CONFIG_FILE = 'config.json';
/** Name of the per-epoch metrics log in a run folder. */
export const METRICS_FILE = 'metrics.jsonl';

/** Writes the run configuration atomically. */
export async function writeConfig(runDir: string, config: TrainConfig): Promise<void> {
  await fs.mkdir(runDir, { recursive: true });
  await writeFileAtomic(path.join(runDir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** Saves encoder, decoder and state as a new checkpoint, then points `latest.json` at it. */
export async function saveCheckpoint(
  runDir: string,
  checkpoint: {
    encoder?: tf.LayersModel;
    decoder: tf.LayersModel;
    state: TrainState;
    optimizer?: tf.Optimizer;
    /** Further optimizers, saved as `optimizer-NAME.*` and returned in `optimizerStates`. */
    optimizers?: Record<string, tf.Optimizer>;
  },
  keep = 2,
): Promise<string> {
  const rel = path.posix.join('checkpoints', `epoch-${String(checkpoint.state.epoch).padStart(4, '0')}`);
  const finalDir = path.join(runDir, rel);
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  await fs.rm(tmpDir, { recursive: true, force: true });
  await fs.mkdir(tmpDir, { recursive: true });
  if (checkpoint.encoder) await checkpoint.encoder.save(folderIO(path.join(tmpDir, 'encoder')));
  await checkpoint.decoder.save(folderIO(path.join(tmpDir, 'decoder')));
  await fs.writeFile(path.join(tmpDir, 'state.json'), JSON.stringify(checkpoint.state, null, 2) + '\n');
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
  await writeFileAtomic(
    path.join(runDir, LATEST_FILE),
    JSON.stringify({ checkpoint: rel, epoch: checkpoint.state.epoch }) + '\n',
  );
  const all = (await fs.readdir(path.join(runDir, 'checkpoints'))).filter((d) => /^epoch-\d+$/.test(d)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    await fs.rm(path.join(runDir, 'checkpoints', old), { recursive: true, force: true });
  }
  return finalDir;
}

async function readJson<T>(file: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new CheckpointError(`${what} not found: ${file}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CheckpointError(`${what} is not valid JSON: ${file}`);
  }
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
  const bytes = await fs.readFile(path.join(dir, binFile));
  let offset = 0;
  return specs.weights.map((spec) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const buffer = bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + size * 4);
    offset += size * 4;
    if (offset > bytes.length) throw new CheckpointError(`${path.join(dir, binFile)} is shorter than ${jsonFile} says.`);
    const values = spec.dtype === 'int32' ? new Int32Array(buffer) : new Float32Array(buffer);
    return { name: spec.name, tensor: tf.tensor(values, spec.shape, spec.dtype) };
  });
}

/** Reads `config.json` of a run folder (an image or a text run). */
export async function readConfig(runDir: string): Promise<TrainConfig> {
  if (!(await isDirectory(runDir))) throw new CheckpointError(`Run folder not found: ${runDir}`);
  const config = await readJson<TrainConfig>(path.join(runDir, CONFIG_FILE), 'Run configuration');
  if ((config?.kind !== 'image' && config?.kind !== 'text') || !Number.isInteger(config.latent)) {
    throw new CheckpointError(`${path.join(runDir, CONFIG_FILE)} is not a vaekit run configuration (kind image or text).`);
  }
  return config;
}

/** Loads the newest complete checkpoint of a run folder made by `vaekit train`. */
export async function loadCheckpoint(runDir: string): Promise<Checkpoint> {
  const config = await readConfig(runDir);
  const latest = await readJson<{ checkpoint?: string }>(
    path.join(runDir, LATEST_FILE),
    'Checkpoint pointer (no completed epoch yet?)',
  );
  if (typeof latest.checkpoint !== 'string' || !/^checkpoints\/epoch-\d+$/.test(latest.checkpoint)) {
    throw new CheckpointError(`${path.join(runDir, LATEST_FILE)} does not name a checkpoint folder.`);
  }
  const dir = path.join(runDir, latest.checkpoint);
  await ensureBackend();
  const state = await readJson<TrainState>(path.join(dir, 'state.json'), 'Checkpoint state');
  const encoder = (await isDirectory(path.join(dir, 'encoder'))) ? await tf.loadLayersModel(folderIO(path.join(dir, 'encoder'))) : undefined;
  const decoder = await tf.loadLayersModel(folderIO(path.join(dir, 'decoder')));
  const optimizerWeights = await loadOptimizer(dir, 'optimizer');
  const optimizerStates: Record<string, NamedTensor[]> = {};
  for (const file of await fs.readdir(dir)) {
    const name = /^optimizer-(\w+)\.json$/.exec(file)?.[1];
    const weights = name ? await loadOptimizer(dir, `optimizer-${name}`) : undefined;
    if (name && weights) optimizerStates[name] = weights;
  }
  return {
    config,
    ...(encoder ? { encoder } : {}),
    decoder,
    state,
    ...(optimizerWeights ? { optimizerWeights } : {}),
    ...(Object.keys(optimizerStates).length ? { optimizerStates } : {}),
  };
}
