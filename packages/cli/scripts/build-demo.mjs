#!/usr/bin/env node
// Bundles the demo page (demo/main.ts + @vaekit/runtime's browser build + onnxruntime-web) with esbuild
// into dist/demo/. Part of `npm run build`. onnxruntime-web's .wasm files are not copied: `vaekit
// serve-demo` serves them from the installed package.
import { build } from 'esbuild';
import { promises as fs } from 'node:fs';
import path from 'node:path';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '..');
const out = path.join(root, 'dist', 'demo');
await fs.rm(out, { recursive: true, force: true });
await build({
  entryPoints: [path.join(root, 'demo', 'main.ts')],
  outdir: out,
  bundle: true,
  splitting: true, // the WebGL build of onnxruntime-web becomes its own chunk, loaded only on demand
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) await fs.copyFile(path.join(root, 'demo', file), path.join(out, file));
