/** Start-up and shutdown of `vaekit serve`: load and verify, start, print the address, drain on SIGTERM. */
import { UsageError } from '../errors.js';
import { bundleName, loadBundleFolder, loadRepository, type ServedBundle } from './models.js';
import { startServer, type ServeOptions } from './server.js';

/** What `vaekit serve` was asked to serve and how. */
export type RunServeOptions = ServeOptions & ({ bundles: string[]; repository?: undefined } | { repository: string; bundles?: undefined });

/** Runs the server until SIGTERM or SIGINT, then drains in-flight requests and returns. */
export async function runServe(o: RunServeOptions): Promise<void> {
  let bundles: ServedBundle[];
  if (o.repository !== undefined) bundles = await loadRepository(o.repository);
  else {
    const names = o.bundles.map((b) => bundleName(b));
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new UsageError(`Two bundles are named "${dup}" (bundle names come from folder names): rename one folder.`);
    bundles = [];
    for (const [i, dir] of o.bundles.entries()) bundles.push(await loadBundleFolder(dir, names[i]));
  }
  let server;
  try {
    server = await startServer(bundles, o);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UsageError(`Port ${o.port} on ${o.host} is in use; choose another with --port (0 picks a free one).`);
    }
    throw err;
  }
  const models = bundles.flatMap((b) => Object.values(b.models).map((m) => m.name));
  process.stdout.write(`vaekit serve: listening on ${server.url} (${models.length} models: ${models.join(', ')}; workers ${o.workers}, max batch ${o.maxBatch}, max delay ${o.maxDelayMs} ms)\n`);
  await new Promise<void>((resolve, reject) => {
    const stop = (signal: string) => {
      process.stdout.write(`vaekit serve: ${signal}: draining in-flight requests\n`);
      server.drain().then(() => {
        process.stdout.write('vaekit serve: stopped\n');
        resolve();
      }, reject);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
