/** Reading and writing the run folder format of `../run-config.ts` with `fs`. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILE, CheckpointError, LATEST_FILE, TOKENIZER_FILE, parseLatestPointer, parseRunConfig, type LatestPointer, type TrainConfig } from '../run-config.js';
import { WordTokenizer } from '../tokenizer.js';
import { isDirectory, writeFileAtomic } from './fs-atomic.js';

/** Reads and parses a JSON file of a run folder; `what` names it in errors ("Run configuration"). */
export async function readRunJson<T>(file: string, what: string): Promise<T> {
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

/** Reads and checks `config.json` of a run folder (any kind). */
export async function readRunConfig(runDir: string): Promise<TrainConfig> {
  if (!(await isDirectory(runDir))) throw new CheckpointError(`Run folder not found: ${runDir}`);
  const file = path.join(runDir, CONFIG_FILE);
  return parseRunConfig(await readRunJson<unknown>(file, 'Run configuration'), file);
}

/** Writes the run configuration atomically (creating the run folder). */
export async function writeRunConfig(runDir: string, config: TrainConfig): Promise<void> {
  await fs.mkdir(runDir, { recursive: true });
  await writeFileAtomic(path.join(runDir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
}

/** Reads `latest.json`: the newest complete checkpoint. Throws when no epoch was completed yet. */
export async function readLatestPointer(runDir: string): Promise<LatestPointer> {
  const file = path.join(runDir, LATEST_FILE);
  if (!(await fs.stat(file).then(() => true, () => false))) {
    throw new CheckpointError(`No checkpoint in ${runDir}: ${LATEST_FILE} is missing (no epoch was completed yet).`);
  }
  return parseLatestPointer(await readRunJson<unknown>(file, 'Checkpoint pointer'), file);
}

/** Points `latest.json` at a checkpoint folder, atomically. */
export async function writeLatestPointer(runDir: string, pointer: LatestPointer): Promise<void> {
  await writeFileAtomic(path.join(runDir, LATEST_FILE), JSON.stringify(pointer) + '\n');
}

/** Writes `tokenizer.json` of a text run folder, atomically. */
export async function writeRunTokenizer(runDir: string, tokenizer: WordTokenizer): Promise<void> {
  await writeFileAtomic(path.join(runDir, TOKENIZER_FILE), JSON.stringify(tokenizer.toJSON()) + '\n');
}

/** Reads `tokenizer.json` of a text run folder. */
export async function readRunTokenizer(runDir: string): Promise<WordTokenizer> {
  const file = path.join(runDir, TOKENIZER_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new CheckpointError(`Tokenizer not found: ${file} (is ${runDir} a text run folder?)`);
  }
  try {
    return WordTokenizer.fromJSON(text);
  } catch (e) {
    throw new CheckpointError(`${file}: ${(e as Error).message}`);
  }
}
