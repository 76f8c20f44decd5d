/**
 * Loading options that do not need ONNX Runtime: byte-level progress, the Cache API layer (with a fake
 * CacheStorage), weight dtype selection, and the set-up errors (missing package, unreachable .wasm).
 * A fake engine records which graph files were compiled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BackendUnavailableError, importOptional, isModuleNotFound } from './backend-error.js';
import { wasmLoadError } from './backends/web.js';
import { sha256Hex } from '@vaekit/core';
import { cacheKey, cachedReader, resolveCache } from './cache.js';
import type { Engine, GraphSession } from './engine.js';
import { BundleError } from './errors.js';
import { openBundle } from './load.js';
import { mapReader, urlReader } from './sources.js';
import type { LoadProgress } from './types.js';

const enc = (s: string) => new TextEncoder().encode(s);
const spec = (name: string, shape: Array<string | number>) => ({ name, dtype: 'float32', shape });
const GRAPHS = (dir: string) => ({
  encoder: { file: `${dir}encoder.onnx`, inputs: [spec('x', ['batch', 4])], outputs: [spec('mu', ['batch', 2]), spec('logvar', ['batch', 2])] },
  decoder: { file: `${dir}decoder.onnx`, inputs: [spec('z', ['batch', 2])], outputs: [spec('logits', ['batch', 4])] },
});

/** An image bundle whose "graphs" are text; `int8/` and `fp16/` hold the other dtypes. */
async function bundle(): Promise<Record<string, Uint8Array>> {
  const payload: Record<string, Uint8Array> = {
    'encoder.onnx': enc('encoder fp32 '.repeat(1000)),
    'decoder.onnx': enc('decoder fp32'),
    'int8/encoder.onnx': enc('encoder int8'),
    'int8/decoder.onnx': enc('decoder int8'),
    'fp16/encoder.onnx': enc('encoder fp16'),
    'fp16/decoder.onnx': enc('decoder fp16'),
  };
  const files: Record<string, { sha256: string; bytes: number }> = {};
  for (const [k, v] of Object.entries(payload)) files[k] = { sha256: await sha256Hex(v), bytes: v.length };
  const manifest = {
    format: 'vaekit-bundle',
    formatVersion: 1,
    kind: 'image',
    latentSize: 2,
    image: { height: 2, width: 2, channels: 1, likelihood: 'bernoulli' },
    opset: 17,
    irVersion: 8,
    profile: 'default',
    dtype: 'fp32',
    graphs: GRAPHS(''),
    dtypes: { int8: { dtype: 'int8', graphs: GRAPHS('int8/') }, fp16: { dtype: 'fp16', graphs: GRAPHS('fp16/') } },
    files,
    producer: { name: 'vaekit', version: '0' },
    createdAt: '2026-01-01T00:00:00Z',
  };
  return { 'manifest.json': enc(JSON.stringify(manifest)), ...payload };
}

/** A fake engine: graphs are named by their text; records what it compiled. */
function recordingEngine(): { engine: Engine; compiled: string[] } {
  const compiled: string[] = [];
  const engine: Engine = {
    backends: ['cpu', 'wasm'],
    async createSession(model) {
      const text = new TextDecoder().decode(model);
      compiled.push(text.slice(0, 12));
      const isEncoder = text.startsWith('encoder');
      const session: GraphSession = {
        inputNames: isEncoder ? ['x'] : ['z'],
        outputNames: isEncoder ? ['mu', 'logvar'] : ['logits'],
        async run() {
          throw new Error('not used');
        },
        async release() {},
      };
      return session;
    },
  };
  return { engine, compiled };
}

/** A fetch over in-memory files that sends bodies in 1000-byte chunks and counts requests. */
function fakeFetch(files: Record<string, Uint8Array>, headers: Record<string, string> = {}) {
  const requests: string[] = [];
  const fetchImpl = (async (input: URL) => {
    const rel = decodeURIComponent(new URL(String(input)).pathname.replace(/^\/b\//, ''));
    requests.push(rel);
    const bytes = files[rel];
    if (!bytes) return new Response('not found', { status: 404 });
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + 1000));
        at += 1000;
      },
    });
    return new Response(body, { headers: { 'content-length': String(bytes.length), ...headers } });
  }) as typeof fetch;
  return { fetchImpl, requests };
}

/** A CacheStorage over Maps, with access to the stored bytes. */
class FakeCaches {
  readonly stores = new Map<string, Map<string, Uint8Array>>();
  async open(name: string): Promise<Cache> {
    let store = this.stores.get(name);
    if (!store) this.stores.set(name, (store = new Map()));
    const s = store;
    return {
      async match(key: string) {
        const b = s.get(String(key));
        return b ? new Response(b.slice()) : undefined;
      },
      async put(key: string, res: Response) {
        s.set(String(key), new Uint8Array(await res.arrayBuffer()));
      },
      async delete(key: string) {
        return s.delete(String(key));
      },
    } as unknown as Cache;
  }
}

test('onProgress reports bytes per file: 0 first, chunks, then loaded === total (from the manifest)', async () => {
  const files = await bundle();
  const { fetchImpl } = fakeFetch(files);
  const events: LoadProgress[] = [];
  const { engine } = recordingEngine();
  await openBundle(urlReader('http://x/b/', fetchImpl), engine, { onProgress: (e) => events.push(e) });
  const enc = events.filter((e) => e.stage === 'download' && e.file === 'encoder.onnx');
  const size = files['encoder.onnx']!.length;
  assert.equal(size, 13000);
  assert.deepEqual(enc.map((e) => e.loaded), [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000, 13000]);
  assert.ok(enc.every((e) => e.total === size));
  // The order of stages per file is kept: verify, download..., session.
  const stages = events.filter((e) => e.file === 'decoder.onnx').map((e) => e.stage);
  assert.deepEqual([...new Set(stages)], ['verify', 'download', 'session']);
  // Files read from memory still get a first and a last event.
  const mem: LoadProgress[] = [];
  await openBundle(mapReader(files), engine, { onProgress: (e) => mem.push(e) });
  assert.deepEqual(mem.filter((e) => e.stage === 'download' && e.file === 'decoder.onnx').map((e) => [e.loaded, e.total]), [[0, 12], [12, 12]]);
});

test('a compressed response has no total from Content-Length, but the manifest gives it', async () => {
  const files = await bundle();
  const { fetchImpl } = fakeFetch(files, { 'content-encoding': 'gzip' });
  const events: LoadProgress[] = [];
  await openBundle(urlReader('http://x/b/', fetchImpl), recordingEngine().engine, { onProgress: (e) => events.push(e) });
  const man = events.filter((e) => e.stage === 'download' && e.file === 'manifest.json');
  assert.equal(man[0]!.total, undefined, 'manifest.json size is unknown while it downloads');
  assert.equal(man.at(-1)!.loaded, man.at(-1)!.total, 'and known at the end');
  assert.ok(events.filter((e) => e.stage === 'download' && e.file === 'encoder.onnx').every((e) => e.total === 13000));
});

test('Cache API: the second load reads graphs from the cache; the manifest is always fetched', async () => {
  const files = await bundle();
  const caches = new FakeCaches();
  const { fetchImpl, requests } = fakeFetch(files);
  const load = async (events: LoadProgress[] = []) =>
    openBundle(cachedReader(urlReader('http://x/b/', fetchImpl), caches as unknown as CacheStorage), recordingEngine().engine, { onProgress: (e) => events.push(e) });
  await load();
  assert.deepEqual(requests.splice(0), ['manifest.json', 'encoder.onnx', 'decoder.onnx']);
  const store = caches.stores.get('vaekit-bundles')!;
  assert.equal(store.size, 2);
  assert.ok(store.has(cacheKey(await sha256Hex(files['encoder.onnx']!))), 'keyed by sha256');
  const events: LoadProgress[] = [];
  await load(events);
  assert.deepEqual(requests.splice(0), ['manifest.json']);
  assert.ok(events.some((e) => e.stage === 'download' && e.file === 'encoder.onnx' && e.fromCache && e.loaded === 13000));
});

test('Cache API: a tampered cache entry is evicted and fetched again, never served', async () => {
  const files = await bundle();
  const caches = new FakeCaches();
  const { fetchImpl, requests } = fakeFetch(files);
  const read = cachedReader(urlReader('http://x/b/', fetchImpl), caches as unknown as CacheStorage);
  await openBundle(read, recordingEngine().engine);
  requests.length = 0;
  const key = cacheKey(await sha256Hex(files['decoder.onnx']!));
  caches.stores.get('vaekit-bundles')!.set(key, enc('decoder EVIL'));
  const { engine, compiled } = recordingEngine();
  await openBundle(read, engine);
  assert.deepEqual(compiled, ['encoder fp32', 'decoder fp32'], 'the tampered bytes were not compiled');
  assert.deepEqual(requests, ['manifest.json', 'decoder.onnx'], 'only the tampered file was fetched again');
  assert.deepEqual(caches.stores.get('vaekit-bundles')!.get(key), files['decoder.onnx'], 'and the entry was replaced');
});

test('Cache API: a changed file on the server is never served from the cache; a bad download is not stored', async () => {
  const files = await bundle();
  const caches = new FakeCaches();
  const { fetchImpl } = fakeFetch(files);
  const read = cachedReader(urlReader('http://x/b/', fetchImpl), caches as unknown as CacheStorage);
  await openBundle(read, recordingEngine().engine);
  // The server's decoder changes and its manifest follows: the new sha256 is a new key.
  files['decoder.onnx'] = enc('decoder v2!!');
  const m = JSON.parse(new TextDecoder().decode(files['manifest.json']));
  m.files['decoder.onnx'] = { sha256: await sha256Hex(files['decoder.onnx']), bytes: 12 };
  files['manifest.json'] = enc(JSON.stringify(m));
  const { engine, compiled } = recordingEngine();
  await openBundle(read, engine);
  assert.deepEqual(compiled, ['encoder fp32', 'decoder v2!!']);
  // The server's file is modified without the manifest: the load fails and nothing bad is cached.
  files['encoder.onnx'] = enc('encoder EVIL');
  await caches.stores.get('vaekit-bundles')!.clear();
  await assert.rejects(openBundle(read, recordingEngine().engine), (e: Error) => e instanceof BundleError && /encoder\.onnx" does not match manifest\.json/.test(e.message));
  assert.equal([...caches.stores.get('vaekit-bundles')!.values()].some((b) => new TextDecoder().decode(b) === 'encoder EVIL'), false);
});

test('cache option: false opts out; an object names the cache and storage; no CacheStorage means no cache', () => {
  const storage = new FakeCaches() as unknown as CacheStorage;
  assert.equal(resolveCache(false), undefined);
  assert.deepEqual(resolveCache({ name: 'mine', storage }), { name: 'mine', storage });
  assert.equal(resolveCache(undefined), undefined, 'Node has no caches global');
  (globalThis as { caches?: CacheStorage }).caches = storage;
  try {
    assert.deepEqual(resolveCache(undefined), { name: 'vaekit-bundles', storage });
    assert.equal(resolveCache(false), undefined);
  } finally {
    delete (globalThis as { caches?: CacheStorage }).caches;
  }
});

test('dtype picks the graphs of one dtype and reads only its files; a missing dtype names those available', async () => {
  const files = await bundle();
  for (const [dtype, want] of [[undefined, 'fp32'], ['fp32', 'fp32'], ['int8', 'int8'], ['fp16', 'fp16']] as const) {
    const { engine, compiled } = recordingEngine();
    const read: string[] = [];
    const reader = mapReader(files);
    await openBundle(async (rel, h) => (read.push(rel), reader(rel, h)), engine, dtype ? { dtype } : {});
    assert.deepEqual(compiled, [`encoder ${want}`, `decoder ${want}`]);
    assert.ok(read.filter((r) => r !== 'manifest.json').every((r) => (want === 'fp32' ? !r.includes('/') : r.startsWith(`${want}/`))), read.join());
  }
  await assert.rejects(openBundle(mapReader(files), recordingEngine().engine, { dtype: 'q4' }), (e: Error) => e instanceof BundleError && /This bundle has no "q4" weights\. Should be one of: fp32, int8, fp16/.test(e.message));
});

test('missing ORT packages and an unreachable .wasm give one line that says what to do', async () => {
  const notFound = Object.assign(new Error("Cannot find package 'onnxruntime-node' imported from /app/x.js"), { code: 'ERR_MODULE_NOT_FOUND' });
  assert.ok(isModuleNotFound(notFound, 'onnxruntime-node'));
  assert.ok(!isModuleNotFound(Object.assign(new Error("Cannot find package 'long'"), { code: 'ERR_MODULE_NOT_FOUND' }), 'onnxruntime-node'));
  await assert.rejects(
    importOptional('onnxruntime-node', 'cpu', () => Promise.reject(notFound)),
    (e: Error) => e instanceof BackendUnavailableError && e.message === 'The cpu backend needs onnxruntime-node, which is not installed. Install it with: npm install onnxruntime-node',
  );
  const ort = wasmLoadError(new Error("no available backend found. ERR: [wasm] Error: previous call to 'initWasm()' failed."), 'wasm');
  assert.ok(ort instanceof BackendUnavailableError);
  assert.match(ort.message, /could not load its WebAssembly file ort-wasm-simd-threaded\.wasm .*configureWasm\(\{ wasmPaths/);
  assert.doesNotMatch(ort.message, /\n/);
  assert.equal(wasmLoadError(new Error('Protobuf parsing failed.'), 'wasm'), undefined, 'a broken model is still reported as such');
  // A failed backend of a list falls back to the next with the set-up error as the reason.
  const files = await bundle();
  const events: LoadProgress[] = [];
  const { engine } = recordingEngine();
  const flaky: Engine = {
    backends: engine.backends,
    async createSession(model, backend, options) {
      if (backend === 'cpu') throw new BackendUnavailableError('The cpu backend needs onnxruntime-node, which is not installed. Install it with: npm install onnxruntime-node', 'onnxruntime-node');
      return engine.createSession(model, backend, options);
    },
  };
  const vae = await openBundle(mapReader(files), flaky, { backend: ['cpu', 'wasm'], onProgress: (e) => events.push(e) });
  assert.equal(vae.backend, 'wasm');
  assert.match(events.find((e) => e.stage === 'fallback')!.message!, /npm install onnxruntime-node/);
  await assert.rejects(openBundle(mapReader(files), flaky, { backend: 'cpu' }), (e: Error) => e instanceof BackendUnavailableError);
});
