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
 * ```
 *
 * A checkpoint is written to a temporary folder and renamed into place; `latest.json` is replaced
 * atomically afterwards, so a crash at any point leaves the previous complete checkpoint in charge.
 */
import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ensureBackend } from './backend.js';
import type { ImageTrainConfig } from './config.js';
import { CheckpointError } from './errors.js';
import { isDirectory, writeFileAtomic } from './fsutil.js';
import { folderIO } from './io.js';

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
}

/** A loaded checkpoint. */
export interface Checkpoint {
  config: ImageTrainConfig;
  encoder: tf.LayersModel;
  decoder: tf.LayersModel;
  state: TrainState;
}

/** Name of the pointer file to the newest complete checkpoint. */
export const LATEST_FILE = 'latest.json';
/** Name of the configuration file in a run folder. */
export const CONFIG_FILE = 'config.json';
/** Name of the per-epoch metrics log in a run folder. */
export const METRICS_FILE = 'metrics.jsonl';

/** Writes the run configuration atomically. */
export async function writeConfig(runDir: string, config: ImageTrainConfig): Promise<void> {
  await fs.mkdir(runDir, { recursive: true });
  await writeFileAtomic(path.join(runDir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** Saves encoder, decoder and state as a new checkpoint, then points `latest.json` at it. */
export async function saveCheckpoint(
  runDir: string,
  checkpoint: { encoder: tf.LayersModel; decoder: tf.LayersModel; state: TrainState },
  keep = 2,
): Promise<string> {
  const rel = path.posix.join('checkpoints', `epoch-${String(checkpoint.state.epoch).padStart(4, '0')}`);
  const finalDir = path.join(runDir, rel);
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  await fs.rm(tmpDir, { recursive: true, force: true });
  await fs.mkdir(tmpDir, { recursive: true });
  await checkpoint.encoder.save(folderIO(path.join(tmpDir, 'encoder')));
  await checkpoint.decoder.save(folderIO(path.join(tmpDir, 'decoder')));
  await fs.writeFile(path.join(tmpDir, 'state.json'), JSON.stringify(checkpoint.state, null, 2) + '\n');
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

/** Reads `config.json` of a run folder. */
export async function readConfig(runDir: string): Promise<ImageTrainConfig> {
  if (!(await isDirectory(runDir))) throw new CheckpointError(`Run folder not found: ${runDir}`);
  const config = await readJson<ImageTrainConfig>(path.join(runDir, CONFIG_FILE), 'Run configuration');
  if (config?.kind !== 'image' || !Number.isInteger(config.latent)) {
    throw new CheckpointError(`${path.join(runDir, CONFIG_FILE)} is not a vaekit image run configuration.`);
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
  const encoder = await tf.loadLayersModel(folderIO(path.join(dir, 'encoder')));
  const decoder = await tf.loadLayersModel(folderIO(path.join(dir, 'decoder')));
  return { config, encoder, decoder, state };
}
