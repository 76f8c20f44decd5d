import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';

const here = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'packages', 'runtime', 'src');

test('the browser build pulls neither onnxruntime-node nor Node built-ins', async () => {
  // Resolve `@vaekit/runtime` the way a browser bundler does (the `browser` export condition).
  const result = await build({
    stdin: { contents: "export * from '@vaekit/runtime';", resolveDir: here, loader: 'ts' },
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
    splitting: true,
    outdir: path.join(here, 'out-not-written'),
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((f) => f.includes('runtime/dist/browser.js')), 'the browser entry point was picked');
  assert.ok(inputs.some((f) => f.includes('onnxruntime-web')));
  assert.deepEqual(inputs.filter((f) => /onnxruntime-node|^node:|(^|\/)fs(\/|$)/.test(f)), []);
  // Each onnxruntime-web build is its own chunk, imported on first use: a wasm-only page loads the
  // plain WASM build (ort-wasm-simd-threaded.wasm, 14 MB), never the JSEP one (28 MB) or WebGL.
  const outputs = Object.values(result.metafile.outputs);
  const entry = outputs.find((o) => o.entryPoint)!;
  assert.deepEqual(Object.keys(entry.inputs).filter((f) => f.includes('onnxruntime-web')), []);
  for (const build of ['ort.wasm.bundle.min.mjs', 'ort.bundle.min.mjs', 'ort.webgl.min.mjs']) {
    const chunks = outputs.filter((o) => Object.keys(o.inputs).some((f) => f.endsWith(`onnxruntime-web/dist/${build}`)));
    assert.equal(chunks.length, 1, `${build} is in one chunk of its own`);
    assert.ok(entry.imports.some((i) => i.kind === 'dynamic-import' && i.path.endsWith(path.basename(Object.keys(result.metafile.outputs).find((k) => result.metafile.outputs[k] === chunks[0])!))), `${build} is imported dynamically`);
  }
});
