/** Bundle loading shared by every platform: manifest checks, hash verification, session checks. */
import { MANIFEST_FILE, parseManifest, verifyFile, type BundleManifest, type GraphSpec } from './bundle.js';
import type { Engine, GraphSession } from './engine.js';
import { BundleError, InputError } from './errors.js';
import { createImageVae } from './image-vae.js';
import type { BackendName, ImageVae, LoadOptions } from './types.js';

/** Reads one bundle file by its bundle-relative path; throws {@link BundleError} when it is missing. */
export type FileReader = (relPath: string) => Promise<Uint8Array>;

function pickBackend(engine: Engine, requested: BackendName | undefined): BackendName {
  const backend = requested ?? engine.backends[0]!;
  if (!engine.backends.includes(backend)) {
    throw new InputError(`Unsupported backend "${String(backend)}". Should be one of: ${engine.backends.join(', ')}.`);
  }
  return backend;
}

async function openGraph(
  manifest: BundleManifest,
  spec: GraphSpec,
  read: FileReader,
  engine: Engine,
  backend: BackendName,
  options: LoadOptions,
): Promise<GraphSession> {
  options.onProgress?.({ stage: 'verify', file: spec.file });
  const bytes = await read(spec.file);
  await verifyFile(manifest, spec.file, bytes);
  options.onProgress?.({ stage: 'session', file: spec.file });
  let session: GraphSession;
  try {
    session = await engine.createSession(bytes, backend, options);
  } catch (err) {
    throw new BundleError(`${spec.file} could not be loaded by ONNX Runtime (${backend}): ${(err as Error).message.split('\n')[0]}`);
  }
  const want = (names: string[], have: readonly string[], what: string) => {
    const missing = names.filter((n) => !have.includes(n));
    if (missing.length) {
      void session.release();
      throw new BundleError(
        `${spec.file} does not match manifest.json: ${what} ${missing.map((m) => `"${m}"`).join(', ')} not found (the graph has ${have.join(', ')}).`,
      );
    }
  };
  want(spec.inputs.map((t) => t.name), session.inputNames, 'input');
  want(spec.outputs.map((t) => t.name), session.outputNames, 'output');
  return session;
}

/** Loads a bundle through `read` and `engine`: the platform entry points supply both. */
export async function openBundle(read: FileReader, engine: Engine, options: LoadOptions = {}): Promise<ImageVae> {
  const backend = pickBackend(engine, options.backend);
  options.onProgress?.({ stage: 'manifest', file: MANIFEST_FILE });
  const raw = await read(MANIFEST_FILE);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new BundleError(`${MANIFEST_FILE} is not valid UTF-8 JSON.`);
  }
  const manifest = parseManifest(json);
  if (manifest.kind !== 'image') {
    throw new BundleError(`This runtime version loads image bundles only; the bundle holds a ${manifest.kind} model.`);
  }
  const encoder = await openGraph(manifest, manifest.graphs.encoder, read, engine, backend, options);
  let decoder: GraphSession;
  try {
    decoder = await openGraph(manifest, manifest.graphs.decoder, read, engine, backend, options);
  } catch (err) {
    await encoder.release();
    throw err;
  }
  return createImageVae(manifest, backend, encoder, decoder);
}
