/**
 * What `vaekit serve` serves: bundles (verified like `loadVae` does: manifest checks and every file's
 * sha256) or a Triton model repository written by `vaekit export-triton` (each model's `vaekit.json`
 * names its bundle and graph and holds the sha256 of `1/model.onnx`). Each graph becomes one Open
 * Inference Protocol model named `<bundle>_<graph>`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { graphNamesOf, presentGraphNames } from '@vaekit/core';
import {
  BundleError,
  MANIFEST_FILE,
  parseManifest,
  runtimeKind,
  sha256Hex,
  verifyFile,
  WordTokenizer,
  type BundleManifest,
  type TensorSpec,
} from '@vaekit/runtime';

/** One served graph. */
export interface ServedModel {
  /** Open Inference Protocol model name, `<bundle>_<graph>`. */
  name: string;
  bundle: string;
  graph: string;
  /** The inputs and outputs clients send and get (for a stateful model: without control and state). */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  bytes: Uint8Array;
  /** Set for the fused stateful decoder: the server keeps each sequence's state, as Triton's sequence batcher does. */
  stateful?: StatefulSpec;
}

/** The control input and implicit states of a stateful model. */
export interface StatefulSpec {
  /** Sequence-start control input, int32 [batch, 1]. */
  control: string;
  states: Array<{ input: string; output: string; size: number }>;
}

/** One served bundle: its manifest, tokenizer (text) and graphs. */
export interface ServedBundle {
  name: string;
  manifest: BundleManifest;
  tokenizer?: WordTokenizer;
  /** By graph key (`encoder`, `decoder_step`, ...). */
  models: Record<string, ServedModel>;
  /**
   * For kinds other than text and image (classifier, seq2seq, plug-ins): what the runtime kind's
   * `prepare` read (tokenizers), to build its facade over the server's batched sessions.
   */
  prepared?: unknown;
}

/** Kinds whose task endpoints the server implements itself (shared-step generation, image rows). */
const OWN_TASK_KINDS = new Set(['text', 'image']);

/** Sidecar of each model folder of a vaekit-written Triton repository. */
export interface TritonSidecar {
  format: 'vaekit-triton-model';
  formatVersion: 1;
  bundle: string;
  graph: string;
  /** sha256 of `1/model.onnx`. */
  sha256: string;
  /** The bundle's manifest (graph interfaces, text spec, file hashes). */
  manifest: BundleManifest;
  /** The folder (relative to the repository) holding the bundle's tokenizer, for text bundles. */
  tokenizerModel?: string;
}

/** File name of the sidecar in each model folder. */
export const SIDECAR_FILE = 'vaekit.json';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A bundle name from a folder name: letters, digits, `_`, `.`, `-` (others become `_`). */
export function bundleName(dir: string): string {
  const base = path.basename(path.resolve(dir)).replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (base || 'bundle').slice(0, 64);
}

async function readFile(file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await fs.readFile(file));
  } catch {
    throw new BundleError(`${what} not found: ${file}`);
  }
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new BundleError(`${file} is not valid UTF-8 JSON.`);
  }
}

function loadTokenizer(bytes: Uint8Array, file: string, manifest: BundleManifest): WordTokenizer {
  let tokenizer: WordTokenizer;
  try {
    tokenizer = WordTokenizer.fromJSON(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new BundleError(`${file} is not a valid tokenizer: ${(err as Error).message}`);
  }
  if (manifest.kind === 'text' && tokenizer.vocabSize !== manifest.text.vocabSize) {
    throw new BundleError(`${file} has ${tokenizer.vocabSize} tokens but manifest.json says vocabSize ${manifest.text.vocabSize}.`);
  }
  return tokenizer;
}

/** Loads and verifies one bundle folder; throws {@link BundleError} naming the file at fault. */
export async function loadBundleFolder(dir: string, name = bundleName(dir)): Promise<ServedBundle> {
  if (!NAME_RE.test(name)) throw new BundleError(`Bundle name "${name}" is not allowed: use 1-64 letters, digits, "_", "." or "-".`);
  const manifestFile = path.join(dir, MANIFEST_FILE);
  const manifest = parseManifest(parseJson(await readFile(manifestFile, 'Bundle manifest'), manifestFile));
  const read = async (rel: string): Promise<Uint8Array> => {
    const bytes = await readFile(path.join(dir, rel), 'Bundle file');
    try {
      await verifyFile(manifest, rel, bytes);
    } catch (err) {
      throw new BundleError(`${path.join(dir, rel)}: ${(err as Error).message}`);
    }
    return bytes;
  };
  const tokenizer = manifest.kind === 'text' ? loadTokenizer(await read(manifest.text.tokenizer), path.join(dir, manifest.text.tokenizer), manifest) : undefined;
  let prepared: unknown;
  if (!OWN_TASK_KINDS.has(manifest.kind)) {
    // The runtime kind reads and checks its own extra files (tokenizers), as loadVae does.
    try {
      prepared = await runtimeKind(manifest.kind).prepare?.(manifest, read);
    } catch (err) {
      throw err instanceof BundleError ? err : new BundleError(`${dir}: ${(err as Error).message}`);
    }
  }
  const models: Record<string, ServedModel> = {};
  const graphs = manifest.graphs as unknown as Record<string, { file: string; inputs: TensorSpec[]; outputs: TensorSpec[] }>;
  for (const key of presentGraphNames(manifest.kind, graphs)) {
    const spec = graphs[key]!;
    models[key] = { name: `${name}_${key}`, bundle: name, graph: key, inputs: spec.inputs, outputs: spec.outputs, bytes: await read(spec.file) };
  }
  return { name, manifest, ...(tokenizer ? { tokenizer } : {}), models, ...(prepared !== undefined ? { prepared } : {}) };
}

/**
 * Loads a Triton model repository written by `vaekit export-triton`: every folder with a
 * `vaekit.json`, grouped by bundle. Models without the sidecar are refused (the server cannot know
 * what they are). The fused stateful decoder is served too, with the sequence state kept by the server.
 */
export async function loadRepository(repo: string): Promise<ServedBundle[]> {
  let entries: string[];
  try {
    entries = (await fs.readdir(repo, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    throw new BundleError(`Model repository not found: ${repo}`);
  }
  const bundles = new Map<string, ServedBundle>();
  const tokenizerOf = new Map<string, string>();
  for (const dir of entries) {
    const sidecarFile = path.join(repo, dir, SIDECAR_FILE);
    const sidecar = parseJson(await readFile(sidecarFile, 'vaekit.json of a model'), sidecarFile) as TritonSidecar;
    if (sidecar?.format !== 'vaekit-triton-model' || typeof sidecar.bundle !== 'string' || typeof sidecar.graph !== 'string') {
      throw new BundleError(`${sidecarFile} is not a vaekit model sidecar (format "vaekit-triton-model").`);
    }
    const manifest = parseManifest(sidecar.manifest);
    if (!OWN_TASK_KINDS.has(manifest.kind)) {
      throw new BundleError(`${sidecarFile}: vaekit serve --repository serves text and image models; serve the ${manifest.kind} bundle folder itself (vaekit serve BUNDLE).`);
    }
    const modelFile = path.join(repo, dir, '1', 'model.onnx');
    const bytes = await readFile(modelFile, 'Model file');
    const actual = await sha256Hex(bytes);
    if (actual !== sidecar.sha256) {
      throw new BundleError(`Model file "${modelFile}" does not match ${SIDECAR_FILE}: sha256 is ${actual}, expected ${sidecar.sha256}. The file was modified or corrupted.`);
    }
    const graphs = manifest.graphs as unknown as Record<string, { inputs: TensorSpec[]; outputs: TensorSpec[] } | undefined>;
    let stateful: StatefulSpec | undefined;
    let spec = graphs[sidecar.graph];
    if (sidecar.graph === 'decoder_stateful' && manifest.kind === 'text') {
      // The fused decoder of export-triton: clients send token and z and get logits (and the decoding
      // heads); START and the states h (, c) stay on the server.
      const step = graphs.decoder_step!;
      stateful = { control: 'START', states: manifest.text.stateNames.map((n) => ({ input: n, output: `${n}_out`, size: manifest.text.hiddenSize })) };
      const stateOutputs = new Set(stateful.states.map((s) => s.output));
      spec = { inputs: step.inputs.filter((t) => t.name === 'token' || t.name === 'z'), outputs: step.outputs.filter((t) => !stateOutputs.has(t.name)) };
    }
    if (!spec) throw new BundleError(`${sidecarFile}: graph "${sidecar.graph}" is not in its manifest. Should be one of: ${Object.keys(graphs).join(', ')}.`);
    let b = bundles.get(sidecar.bundle);
    if (!b) {
      b = { name: sidecar.bundle, manifest, models: {} };
      bundles.set(sidecar.bundle, b);
    }
    b.models[sidecar.graph] = { name: dir, bundle: sidecar.bundle, graph: sidecar.graph, inputs: spec.inputs, outputs: spec.outputs, bytes, ...(stateful ? { stateful } : {}) };
    if (sidecar.tokenizerModel) tokenizerOf.set(sidecar.bundle, sidecar.tokenizerModel);
  }
  for (const b of bundles.values()) {
    const missing = graphNamesOf(b.manifest.kind).filter((k) => !b.models[k]);
    if (missing.length) throw new BundleError(`Model repository ${repo}: bundle "${b.name}" lacks the model(s) ${missing.map((m) => `${b.name}_${m}`).join(', ')}.`);
    if (b.manifest.kind === 'text') {
      const folder = tokenizerOf.get(b.name) ?? b.models.encoder!.name;
      const file = path.join(repo, folder, 'tokenizer.json');
      const bytes = await readFile(file, 'Tokenizer');
      try {
        await verifyFile(b.manifest, b.manifest.text.tokenizer, bytes);
      } catch (err) {
        throw new BundleError(`${file}: ${(err as Error).message}`);
      }
      b.tokenizer = loadTokenizer(bytes, file, b.manifest);
    }
  }
  if (bundles.size === 0) throw new BundleError(`Model repository ${repo} has no vaekit models (no folder with ${SIDECAR_FILE}).`);
  return [...bundles.values()];
}
