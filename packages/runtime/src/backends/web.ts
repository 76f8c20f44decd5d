/**
 * ONNX Runtime Web (WASM, WebGL, WebGPU): the only browser module importing ORT. Also runs in Node
 * (onnxruntime-web's Node build, WASM only).
 *
 * onnxruntime-web ships one build per set of backends, each with its own WebAssembly file; this module
 * imports the smallest that serves the load, on first use:
 *
 * - `onnxruntime-web/wasm` (`ort-wasm-simd-threaded.wasm`, 14 MB) when WebGPU is not requested;
 * - `onnxruntime-web`, the JSEP build (`ort-wasm-simd-threaded.jsep.wasm`, 28 MB), only when the
 *   backend list names `webgpu` (its WASM backend then serves the `wasm` fallback too);
 * - `onnxruntime-web/webgl` for `webgl` (its kernels are JavaScript: no `.wasm`).
 *
 * The builds locate their `.wasm` with `new URL('ort-wasm-simd-threaded.wasm', import.meta.url)`:
 * Vite's production build copies the file; esbuild leaves the URL relative to the bundled script, so
 * the file must be copied next to it, or its folder given with {@link configureWasm}.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { BackendUnavailableError, importOptional } from '../backend-error.js';
import type { Engine, EngineTensor, FloatTensor, GraphSession } from '../engine.js';
import type { BackendName, LoadOptions } from '../types.js';
import { OrtGraphSession } from './ort-session.js';

type Ort = typeof OrtWeb;
/** The onnxruntime-web builds this module uses. */
type Build = 'wasm' | 'jsep' | 'node';

/** WebAssembly file each build fetches. */
const WASM_FILE: Record<Build, string> = {
  wasm: 'ort-wasm-simd-threaded.wasm',
  jsep: 'ort-wasm-simd-threaded.jsep.wasm',
  node: 'ort-wasm-simd-threaded.wasm',
};

/** Settings of onnxruntime-web that must be made before its first session. */
export interface WasmSettings {
  /**
   * URL of the folder that serves onnxruntime-web's `.wasm` file (with a trailing slash), e.g.
   * `'/ort/'`, or the file's own URL as `{ wasm: url }`. Needed when the bundler did not place the
   * file next to the script that loads it (esbuild never does; see docs/guide-web-app.md).
   */
  wasmPaths?: string | { wasm?: string | URL; mjs?: string | URL };
  /** WASM threads; more than one works only on cross-origin isolated pages (COOP/COEP headers). */
  numThreads?: number;
}

const settings: WasmSettings = {};
const loaded = new Map<Build, Promise<Ort>>();
const ready = new Map<Build, Ort>();
let configuredThreads: number | undefined;

function apply(ort: Ort): void {
  if (settings.wasmPaths !== undefined) ort.env.wasm.wasmPaths = settings.wasmPaths as typeof ort.env.wasm.wasmPaths;
  if (settings.numThreads !== undefined) ort.env.wasm.numThreads = settings.numThreads;
}

/**
 * Settings of onnxruntime-web that must be made before its first session: where its `.wasm` file is
 * served from (a bundler such as esbuild that does not copy it needs this) and how many WASM threads
 * to use. Applies to every onnxruntime-web build this runtime loads, now or later.
 *
 * ```ts
 * configureWasm({ wasmPaths: '/ort/' }); // serves /ort/ort-wasm-simd-threaded.wasm
 * ```
 */
export function configureWasm(options: WasmSettings): void {
  if (options.wasmPaths !== undefined) settings.wasmPaths = options.wasmPaths;
  if (options.numThreads !== undefined) settings.numThreads = options.numThreads;
  for (const ort of ready.values()) apply(ort);
}

function importBuild(build: Build): Promise<Ort> {
  let p = loaded.get(build);
  if (!p) {
    const backend = build === 'jsep' ? 'webgpu' : 'wasm';
    p = importOptional('onnxruntime-web', backend, () =>
      build === 'wasm' ? (import('onnxruntime-web/wasm') as Promise<Ort>) : import('onnxruntime-web'),
    ).then(
      (ort) => {
        apply(ort);
        ready.set(build, ort);
        return ort;
      },
      (err: unknown) => {
        loaded.delete(build);
        throw err;
      },
    );
    loaded.set(build, p);
  }
  return p;
}

/** The URL onnxruntime-web will fetch its `.wasm` from, when {@link configureWasm} set it. */
function configuredWasmUrl(build: Build): string | undefined {
  const paths = settings.wasmPaths;
  if (paths === undefined) return undefined;
  if (typeof paths === 'string') return `${paths}${WASM_FILE[build]}`;
  return paths.wasm !== undefined ? String(paths.wasm) : undefined;
}

/** ORT's ways of saying that its WebAssembly module could not be fetched or started. */
const WASM_LOAD_FAILURE = /initWasm|fetching of the wasm|failed to load wasm|WebAssembly\.instantiate|expected magic word/i;

/**
 * Turns ORT's "no available backend found. ERR: [wasm] ... initWasm() failed" into an error that says
 * what to set, instead of one that seems to blame the model.
 */
export function wasmLoadError(err: unknown, build: Build): BackendUnavailableError | undefined {
  const message = String((err as Error)?.message ?? err).split('\n')[0]!;
  if (!WASM_LOAD_FAILURE.test(message)) return undefined;
  const url = configuredWasmUrl(build);
  const file = WASM_FILE[build];
  return new BackendUnavailableError(
    `onnxruntime-web could not load its WebAssembly file ${url ?? file} (${message}). ` +
      (url
        ? `Check that ${url} is served (copy it from node_modules/onnxruntime-web/dist/${file}).`
        : `Copy node_modules/onnxruntime-web/dist/${file} next to your bundled script, or call configureWasm({ wasmPaths: '/folder/of/the/wasm/' }) before loadVae.`),
  );
}

/** Which build serves a load: the JSEP build only when its backend list asks for WebGPU. */
function buildFor(options: LoadOptions): Build {
  const list = options.backend === undefined ? [] : typeof options.backend === 'string' ? [options.backend] : options.backend;
  return list.includes('webgpu') ? 'jsep' : 'wasm';
}

function makeEngine(pick: (options: LoadOptions) => Build, backends: BackendName[]): Engine {
  return {
    backends,
    async createSession(model: Uint8Array, backend: BackendName, options: LoadOptions): Promise<GraphSession> {
      const sessionOptions: OrtWeb.InferenceSession.SessionOptions = {
        executionProviders: [backend],
        graphOptimizationLevel: 'all',
      };
      if (backend === 'webgl') {
        const gl = await importOptional('onnxruntime-web', 'webgl', () => import('onnxruntime-web/webgl'));
        const create = async () => new OrtGraphSession(await gl.InferenceSession.create(model, sessionOptions), gl.Tensor);
        return new PerShapeSession(await create(), create);
      }
      const build = pick(options);
      const ort = await importBuild(build);
      if (options.threads && configuredThreads === undefined && settings.numThreads === undefined) {
        // onnxruntime-web reads this once, when its WASM module starts.
        ort.env.wasm.numThreads = options.threads;
        configuredThreads = options.threads;
      }
      try {
        return new OrtGraphSession(await ort.InferenceSession.create(model, sessionOptions), ort.Tensor);
      } catch (err) {
        throw wasmLoadError(err, build) ?? err;
      }
    },
  };
}

/** The browser engine: `wasm` (default), `webgl`, `webgpu`. */
export const webEngine: Engine = makeEngine(buildFor, ['wasm', 'webgl', 'webgpu']);

/** onnxruntime-web's Node build, for the Node entry's `wasm` backend. */
export const nodeWasmEngine: Engine = makeEngine(() => 'node', ['wasm']);

/** Most input-shape signatures a {@link PerShapeSession} keeps sessions for. */
const MAX_SHAPES = 8;

/**
 * onnxruntime-web's WebGL backend fixes a session's input shapes at its first run and rejects any
 * other shape later (the batch shrinks as sentences finish, encoder inputs vary in length). This keeps
 * one session per input-shape signature, created on first use, the most recent {@link MAX_SHAPES}.
 */
class PerShapeSession implements GraphSession {
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  constructor(
    private readonly first: GraphSession,
    private readonly create: () => Promise<GraphSession>,
  ) {}
  get inputNames(): readonly string[] {
    return this.first.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.first.outputNames;
  }
  async run(feeds: Record<string, EngineTensor>, fetches?: readonly string[]): Promise<Record<string, EngineTensor>> {
    const key = Object.entries(feeds)
      .map(([name, t]) => `${name}:${t.dims.join('x')}`)
      .sort()
      .join(';');
    let session = this.sessions.get(key);
    if (session) {
      this.sessions.delete(key); // re-inserted below: Map order is least recently used first
    } else {
      session = this.sessions.size === 0 && !this.usedFirst ? Promise.resolve(this.first) : this.create();
      this.usedFirst = true;
      if (this.sessions.size >= MAX_SHAPES) {
        const [oldKey, old] = this.sessions.entries().next().value!;
        this.sessions.delete(oldKey);
        void old.then((s) => s.release());
      }
    }
    this.sessions.set(key, session);
    return (await session).run(feeds, fetches);
  }
  private usedFirst = false;
  async release(): Promise<void> {
    const all = new Set([...this.sessions.values()]);
    if (!this.usedFirst) all.add(Promise.resolve(this.first));
    this.sessions.clear();
    await Promise.all([...all].map(async (s) => (await s).release()));
  }
}
