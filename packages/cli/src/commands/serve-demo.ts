/**
 * `vaekit serve-demo BUNDLE`: serves the demo page (built by esbuild into dist/demo), the bundle at
 * `/bundle/` and onnxruntime-web's `.wasm` files at `/ort/` on 127.0.0.1, with the COOP/COEP headers
 * that make the page cross-origin isolated (WASM threads need SharedArrayBuffer).
 */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import sirv from 'sirv';
import { MANIFEST_FILE } from '@vaekit/core';
import { UsageError } from '../errors.js';
import { intIn } from '../shared/options.js';

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** A running demo server. */
export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the demo server for `bundleDir` on 127.0.0.1:`port` (0 picks a free port). */
export async function startDemoServer(bundleDir: string, port: number): Promise<DemoServer> {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const pageDir = path.resolve(here, '..', 'demo');
  try {
    await fs.access(path.join(pageDir, 'index.html'));
  } catch {
    throw new UsageError(`The demo page is not built (${pageDir} is missing): run npm run build.`);
  }
  try {
    await fs.access(path.join(bundleDir, MANIFEST_FILE));
  } catch {
    throw new UsageError(`${bundleDir} is not a bundle folder (no ${MANIFEST_FILE}).`);
  }
  // onnxruntime-web is a dependency of this package (an optional peer of @vaekit/runtime); its .wasm
  // files sit next to its main file in dist/.
  const ortDir = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  const opts = { dev: true, etag: true, setHeaders: (res: http.ServerResponse) => res.setHeader('Cache-Control', 'no-cache') };
  const page = sirv(pageDir, opts);
  const bundle = sirv(path.resolve(bundleDir), opts);
  const ort = sirv(ortDir, opts);
  const notFound = (res: http.ServerResponse) => {
    res.statusCode = 404;
    res.end('Not found');
  };
  const server = http.createServer((req, res) => {
    for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    const url = req.url ?? '/';
    const mount = (prefix: string, handler: typeof page) => {
      req.url = url.slice(prefix.length - 1) || '/';
      handler(req, res, () => notFound(res));
    };
    if (url.startsWith('/bundle/')) mount('/bundle/', bundle);
    else if (url.startsWith('/ort/')) mount('/ort/', ort);
    else page(req, res, () => notFound(res));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new UsageError(`Port ${port} is in use; pick another with --port.`) : err),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a browser's keep-alive connections would hold close() open
      }),
  };
}

/** Registers `vaekit serve-demo`. */
export function registerServeDemo(program: Command): void {
  program
    .command('serve-demo')
    .description('serve a browser demo of a bundle (onnxruntime-web: wasm, webgl, webgpu) on 127.0.0.1')
    .argument('<bundle>', 'bundle folder made by vaekit export')
    .option('--port <n>', 'TCP port (0 picks a free one)', intIn(0, 65535), 8080)
    .action(async (bundleDir: string, opts: { port: number }) => {
      const server = await startDemoServer(bundleDir, opts.port);
      process.stdout.write(`Serving ${bundleDir} at ${server.url} (Ctrl-C to stop)\n`);
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise(() => {}); // serve until stopped
    });
}
