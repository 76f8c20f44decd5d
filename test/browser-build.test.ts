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
});
