/**
 * The runtime's model-kind seam: a facade factory keyed by the manifest's `kind`. The one loader
 * (`load.ts`) reads and verifies the bundle and opens one ONNX Runtime session per graph the kind
 * declares (core's bundle-kind registry); the kind checks what it needs before any session opens, reads
 * its extra files (e.g. `tokenizer.json`) and builds the facade. Image and text are the built-in kinds;
 * a plug-in kind calls core's `registerBundleKind` and {@link registerRuntimeKind} once.
 */
import { WordTokenizer, type BundleManifest, type GraphSpec, type ImageBundleManifest, type ImageGraphs, type TextBundleManifest } from '@vaekit/core';
import { checkImageInterface } from './checks.js';
import type { GraphSession } from './engine.js';
import { BundleError, quote } from './errors.js';
import { createClassifier, type ClassifierBundleManifest } from './classifier.js';
import { createImageVae } from './image-vae.js';
import { createTextVae } from './text-vae.js';
import { createTranslator } from './translator.js';
import type { Seq2SeqBundleManifest } from '@vaekit/core';
import type { BackendName } from './types.js';

/** What the loader hands a kind's facade factory once every session is open. */
export interface FacadeContext<M = BundleManifest, P = unknown> {
  manifest: M;
  /** The backend that runs the sessions. */
  backend: BackendName;
  /** Export profile of the graphs in use (`default`, `webgl`). */
  profile: string;
  /** One open session per graph name of the kind. */
  sessions: Record<string, GraphSession>;
  /** The manifest's specs of the graphs in use, by graph name. */
  graphs: Record<string, GraphSpec>;
  /** What {@link RuntimeKind.prepare} returned. */
  prepared: P;
  /**
   * Opens another session of graph `graph` (one of {@link RuntimeKind.prunable}) that computes only
   * `outputs` and what they depend on ({@link pruneOutputs}): ONNX Runtime runs every node of a graph
   * whatever a call fetches. The facade owns the session and releases it. Absent where sessions are
   * not the loader's (the server's batched sessions).
   */
  openPruned?(graph: string, outputs: readonly string[]): Promise<GraphSession>;
}

/** A model kind's runtime side. `V` is its facade, `P` what `prepare` reads. */
export interface RuntimeKind<V = unknown, P = unknown, M = BundleManifest> {
  kind: string;
  /**
   * Checks the manifest beyond the format (throws {@link BundleError}) and reads extra files through
   * `read`, which verifies each file's sha256 once. Runs before any session opens.
   */
  prepare?(manifest: M, read: (file: string) => Promise<Uint8Array>): Promise<P>;
  /** Why `backend` must not run this bundle although ONNX Runtime would load it, or undefined. */
  unsuitable?(manifest: M, backend: BackendName, profile: string): string | undefined;
  /** Graphs whose bytes the loader keeps for {@link FacadeContext.openPruned} (none by default). */
  prunable?: readonly string[];
  /** Builds the facade; it owns the sessions from then on. */
  create(context: FacadeContext<M, P>): V;
}

const kinds = new Map<string, RuntimeKind>();

/** Registers a model kind's facade factory. Registering a kind twice throws. */
export function registerRuntimeKind<V, P, M>(kind: RuntimeKind<V, P, M>): void {
  if (kinds.has(kind.kind)) throw new BundleError(`Runtime kind ${quote(kind.kind)} is already registered.`);
  kinds.set(kind.kind, kind as unknown as RuntimeKind);
}

/** The runtime side of `kind`; throws {@link BundleError} naming the kinds this runtime knows. */
export function runtimeKind(kind: string): RuntimeKind {
  const k = kinds.get(kind);
  if (!k) throw new BundleError(`This runtime cannot run ${quote(kind)} bundles. Should be one of: ${[...kinds.keys()].join(', ')}.`);
  return k;
}

/** "an image", "a text": the kind with its article, for messages. */
export function kindWithArticle(kind: string): string {
  return `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}`;
}

registerRuntimeKind<ReturnType<typeof createImageVae>, void, ImageBundleManifest>({
  kind: 'image',
  async prepare(manifest) {
    checkImageInterface(manifest);
  },
  create: (c) => createImageVae(c.manifest, c.backend, c.profile, c.sessions.encoder!, c.sessions.decoder!, c.graphs as unknown as ImageGraphs),
});

/** Reads and checks a bundle's tokenizer file against the vocabulary size its manifest states. */
async function readTokenizer(read: (file: string) => Promise<Uint8Array>, file: string, vocabSize: number): Promise<WordTokenizer> {
  const bytes = await read(file);
  let tokenizer: WordTokenizer;
  try {
    tokenizer = WordTokenizer.fromJSON(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BundleError(`${file} is not a valid tokenizer: ${(err as Error).message}`);
  }
  if (tokenizer.vocabSize !== vocabSize) {
    throw new BundleError(`${file} has ${tokenizer.vocabSize} tokens but manifest.json says vocabSize ${vocabSize}.`);
  }
  return tokenizer;
}

registerRuntimeKind<ReturnType<typeof createTextVae>, WordTokenizer, TextBundleManifest>({
  kind: 'text',
  prepare: (manifest, read) => readTokenizer(read, manifest.text.tokenizer, manifest.text.vocabSize),
  // onnxruntime-web 1.30's WebGPU `LSTM` kernel returns wrong numbers (one decoder step already differs
  // from WASM and onnxruntime-node; GRU is right).
  unsuitable: (manifest, backend) =>
    backend === 'webgpu' && manifest.text.cell === 'lstm'
      ? "onnxruntime-web's WebGPU LSTM kernel gives wrong results (version 1.30); use wasm, or a fallback list such as ['webgpu', 'wasm']"
      : undefined,
  prunable: ['decoder_step'],
  create: (c) =>
    createTextVae(
      c.manifest,
      c.backend,
      c.profile,
      c.prepared,
      { encoder: c.sessions.encoder!, decoder_init: c.sessions.decoder_init!, decoder_step: c.sessions.decoder_step! },
      c.graphs,
      c.openPruned && ((outputs) => c.openPruned!('decoder_step', outputs)),
    ),
});

registerRuntimeKind<ReturnType<typeof createClassifier>, WordTokenizer, ClassifierBundleManifest>({
  kind: 'classifier',
  prepare: (manifest, read) => readTokenizer(read, manifest.classifier.tokenizer, manifest.classifier.vocabSize),
  create: (c) => createClassifier(c.manifest, c.backend, c.profile, c.prepared, c.sessions, c.graphs),
});

registerRuntimeKind<ReturnType<typeof createTranslator>, { source: WordTokenizer; target: WordTokenizer }, Seq2SeqBundleManifest>({
  kind: 'seq2seq',
  async prepare(manifest, read) {
    const s = manifest.seq2seq;
    return { source: await readTokenizer(read, s.sourceTokenizer, s.sourceVocabSize), target: await readTokenizer(read, s.targetTokenizer, s.targetVocabSize) };
  },
  create: (c) => createTranslator(c.manifest, c.backend, c.prepared, { encoder: c.sessions.encoder!, decoder_step: c.sessions.decoder_step! }, c.graphs),
});
