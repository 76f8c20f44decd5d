/** Bundle loading shared by every platform: manifest checks, hash verification, backend choice, session checks. */
import { presentGraphNames, MANIFEST_FILE, parseManifest, verifyFile, type BundleManifest, type GraphSpec } from '@vaekit/core';
import { BackendUnavailableError } from './backend-error.js';
import { assertGraphTypes } from './checks.js';
import type { Engine, GraphSession } from './engine.js';
import { BundleError, InputError, quote } from './errors.js';
import { kindWithArticle, runtimeKind } from './kinds.js';
import { pruneOutputs } from './onnx-prune.js';
import type { BackendName, LoadOptions, Vae } from './types.js';

/** What a reader may use when reading one file: the manifest's record, and where to report bytes. */
export interface ReadHints {
  /** The sha256 the manifest gives the file (absent for `manifest.json`). */
  sha256?: string;
  /** The size the manifest gives the file. */
  bytes?: number;
  /** Called as bytes arrive; `fromCache` when they came from the browser cache. */
  onBytes?: (loaded: number, total: number | undefined, fromCache?: boolean) => void;
}

/** Reads one bundle file by its bundle-relative path; throws {@link BundleError} when it is missing. */
export type FileReader = (relPath: string, hints?: ReadHints) => Promise<Uint8Array>;

/**
 * Reads a file reporting `download` progress; readers that cannot report bytes as they arrive (disk,
 * memory) still get a first (0) and a last (`loaded === total`) event.
 */
async function readWithProgress(read: FileReader, file: string, options: LoadOptions, record?: { sha256: string; bytes: number }): Promise<Uint8Array> {
  const report = options.onProgress;
  let last = -1;
  let lastTotal: number | undefined;
  let started = false;
  const onBytes = (loaded: number, total: number | undefined, fromCache?: boolean) => {
    started = true;
    last = loaded;
    lastTotal = total;
    report?.({ stage: 'download', file, loaded, ...(total !== undefined ? { total } : {}), ...(fromCache ? { fromCache } : {}) });
  };
  const bytes = await read(file, { ...(record ? { sha256: record.sha256, bytes: record.bytes } : {}), ...(report ? { onBytes } : {}) });
  if (report && (last !== bytes.length || lastTotal !== bytes.length)) {
    if (!started) onBytes(0, bytes.length);
    onBytes(bytes.length, bytes.length);
  }
  return bytes;
}

/** The weight dtypes a bundle carries: its own first, then those of `manifest.dtypes`. */
export function bundleDtypes(manifest: BundleManifest): string[] {
  return [manifest.dtype, ...Object.keys(manifest.dtypes ?? {}).filter((d) => d !== manifest.dtype)];
}

/** Throws {@link BundleError} naming the dtypes the bundle has when `dtype` is not one of them. */
export function checkDtype(manifest: BundleManifest, dtype: string | undefined): void {
  if (dtype === undefined) return;
  const have = bundleDtypes(manifest);
  if (!have.includes(dtype)) {
    throw new BundleError(`This bundle has no ${quote(dtype)} weights. Should be one of: ${have.join(', ')} (export several with --dtype ${[...new Set([...have, dtype])].join(',')}).`);
  }
}

function backendList(engine: Engine, requested: LoadOptions['backend']): BackendName[] {
  const list = requested === undefined ? [engine.backends[0]!] : Array.isArray(requested) ? [...requested] : [requested as BackendName];
  if (list.length === 0) throw new InputError(`backend list is empty. Should name some of: ${engine.backends.join(', ')}.`);
  for (const b of list) {
    if (!engine.backends.includes(b)) {
      throw new InputError(`Unsupported backend "${String(b)}". Should be one of: ${engine.backends.join(', ')}.`);
    }
  }
  return list;
}

/**
 * The graphs a backend should run: the `webgl` variant on WebGL when the bundle has one (WebGL lacks
 * int64, GRU/LSTM and more), otherwise the default graphs.
 */
export function pickVariant(manifest: BundleManifest, backend: BackendName, dtype?: string): { profile: string; graphs: Record<string, GraphSpec> } {
  const webgl = manifest.variants?.webgl;
  if (backend === 'webgl' && webgl) return { profile: webgl.profile, graphs: webgl.graphs as unknown as Record<string, GraphSpec> };
  const other = dtype !== undefined && dtype !== manifest.dtype ? manifest.dtypes?.[dtype] : undefined;
  if (other) return { profile: manifest.profile, graphs: other.graphs as unknown as Record<string, GraphSpec> };
  return { profile: manifest.profile, graphs: manifest.graphs as unknown as Record<string, GraphSpec> };
}

/**
 * Why `backend` must not run these graphs although ONNX Runtime would load them, or undefined.
 *
 * - WebGL loads default graphs but then rejects every input (it reads symbolic dimensions as null)
 *   and lacks int64, GRU and LSTM, so it needs `webgl`-profile graphs.
 * - `webgl`-profile graphs declare their dynamic dimensions as 0, WebGL's "any size"; every other
 *   ONNX Runtime build checks a fed size against that 0 and refuses the run, so they run on WebGL only.
 * - and whatever the bundle's kind says (e.g. the text kind: no LSTM on WebGPU).
 */
export function unsuitableBackend(manifest: BundleManifest, backend: BackendName, profile: string): string | undefined {
  if (backend === 'webgl' && profile !== 'webgl') {
    return "the bundle has no webgl-profile graphs, which onnxruntime-web's WebGL backend needs (export it with --webgl-variant)";
  }
  if (backend !== 'webgl' && profile === 'webgl') {
    return "its webgl-profile graphs declare dynamic dimensions as 0, which only onnxruntime-web's WebGL backend accepts (export with --webgl-variant for a bundle that also runs elsewhere)";
  }
  return runtimeKind(manifest.kind).unsuitable?.(manifest, backend, profile);
}

/** A graph the chosen backend cannot run: the next backend of a fallback list may. */
class BackendLoadError extends BundleError {}

async function openGraph(spec: GraphSpec, bytes: Uint8Array, engine: Engine, backend: BackendName, options: LoadOptions): Promise<GraphSession> {
  options.onProgress?.({ stage: 'session', file: spec.file, backend });
  let session: GraphSession;
  try {
    session = await engine.createSession(bytes, backend, options);
  } catch (err) {
    // A missing ORT package or an unreachable .wasm is a set-up problem, not the model's: say so as is.
    if (err instanceof BackendUnavailableError) throw err;
    throw new BackendLoadError(`${spec.file} could not be loaded by ONNX Runtime (${backend}): ${String((err as Error)?.message ?? err).split('\n')[0]}`);
  }
  const want = (names: string[], have: readonly string[], what: string) => {
    const missing = names.filter((n) => !have.includes(n));
    if (missing.length) {
      void session.release();
      throw new BundleError(
        `${spec.file} does not match manifest.json: ${what} ${missing.map((m) => quote(m)).join(', ')} not found (the graph has ${have.join(', ')}).`,
      );
    }
  };
  want(spec.inputs.map((t) => t.name), session.inputNames, 'input');
  want(spec.outputs.map((t) => t.name), session.outputNames, 'output');
  await assertGraphTypes(spec, session);
  return session;
}

/** Loads a bundle through `read` and `engine`: the platform entry points supply both. */
export async function openBundle(read: FileReader, engine: Engine, options: LoadOptions = {}): Promise<Vae> {
  const backends = backendList(engine, options.backend);
  options.onProgress?.({ stage: 'manifest', file: MANIFEST_FILE });
  const raw = await readWithProgress(read, MANIFEST_FILE, options);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new BundleError(`${MANIFEST_FILE} is not valid UTF-8 JSON.`);
  }
  const manifest = parseManifest(json);
  const kind = runtimeKind(manifest.kind);
  if (options.kind && options.kind !== manifest.kind) {
    throw new BundleError(`This is ${kindWithArticle(manifest.kind)} bundle; expected ${kindWithArticle(options.kind)} bundle.`);
  }
  checkDtype(manifest, options.dtype);

  // Each file is read and verified once, even when several backends are tried.
  const verified = new Map<string, Uint8Array>();
  const readVerified = async (file: string): Promise<Uint8Array> => {
    let bytes = verified.get(file);
    if (!bytes) {
      options.onProgress?.({ stage: 'verify', file });
      bytes = await readWithProgress(read, file, options, manifest.files[file]);
      await verifyFile(manifest, file, bytes);
      verified.set(file, bytes);
    }
    return bytes;
  };

  const prepared = await kind.prepare?.(manifest, readVerified);

  let lastError: unknown;
  for (const [attempt, backend] of backends.entries()) {
    const { profile, graphs } = pickVariant(manifest, backend, options.dtype);
    const sessions: Record<string, GraphSession> = {};
    try {
      const unsuitable = unsuitableBackend(manifest, backend, profile);
      if (unsuitable) throw new BackendLoadError(`This bundle cannot run on ${backend}: ${unsuitable}.`);
      for (const key of presentGraphNames(manifest.kind, graphs)) {
        const spec = graphs[key]!;
        sessions[key] = await openGraph(spec, await readVerified(spec.file), engine, backend, options);
      }
    } catch (err) {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
      // A tampered or missing file fails the same way on every backend: do not try the others.
      const message = (err as Error).message ?? String(err);
      if (!(err instanceof BackendLoadError || err instanceof BackendUnavailableError) || attempt === backends.length - 1) throw err;
      lastError = err;
      options.onProgress?.({ stage: 'fallback', file: MANIFEST_FILE, backend: backends[attempt + 1]!, message });
      continue;
    }
    const prunable = new Map((kind.prunable ?? []).filter((key) => graphs[key]).map((key) => [key, verified.get(graphs[key]!.file)!]));
    const openPruned = async (key: string, outputs: readonly string[]): Promise<GraphSession> => {
      const bytes = prunable.get(key);
      if (!bytes) throw new BundleError(`Graph ${quote(key)} cannot be pruned (not declared prunable by the ${manifest.kind} kind).`);
      return engine.createSession(pruneOutputs(bytes, outputs), backend, options);
    };
    return kind.create({ manifest, backend, profile, sessions, graphs, prepared, openPruned }) as Vae;
  }
  throw lastError;
}
