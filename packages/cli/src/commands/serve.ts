/**
 * `vaekit serve BUNDLE... | --repository REPO`: the Open Inference Protocol server (docs/serving.md).
 * The action is loaded lazily by main.ts, so other commands never load fastify or the workers.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { intIn, numberIn, positiveInt } from '../shared/options.js';

interface ServeFlags {
  repository?: string;
  host: string;
  port: number;
  maxBatch: number;
  maxDelayMs: number;
  workers?: number;
  bodyLimit: number;
  requestTimeout: number;
  name?: string[];
}

/** Registers `vaekit serve`. */
export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('serve bundles (or a Triton model repository) over the Open Inference Protocol (KServe v2 REST) with task endpoints')
    .argument('[bundles...]', 'bundle folders; each graph is served as the model <bundle>_<graph>')
    .option('--repository <repo>', 'serve a model repository written by vaekit export-triton instead of bundles')
    .option('--host <host>', 'address to bind (127.0.0.1 = this machine only; see docs/serving.md to expose it)', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intIn(0, 65535), 8000)
    .option('--max-batch <n>', 'most rows per ONNX Runtime run (1 turns dynamic batching off)', positiveInt(4096), 64)
    .option('--max-delay-ms <ms>', 'longest a request waits for others to join its batch', numberIn(0, 1000), 2)
    .option('--workers <n>', 'inference worker threads (default: CPU cores, at most 4)', positiveInt(64))
    .option('--body-limit <bytes>', 'largest request body (413 above)', positiveInt(1 << 30), 4 * 1024 * 1024)
    .option('--request-timeout <ms>', 'a request must arrive within this time (408 otherwise)', intIn(100, 3_600_000), 30_000)
    .action(async (bundles: string[], o: ServeFlags) => {
      if (o.repository && bundles.length) throw new UsageError('Give bundle folders or --repository, not both.');
      if (!o.repository && bundles.length === 0) throw new UsageError('Nothing to serve: give bundle folders or --repository REPO.');
      const { runServe } = await import('../serve/main.js');
      await runServe({
        ...(o.repository ? { repository: o.repository } : { bundles }),
        host: o.host,
        port: o.port,
        maxBatch: o.maxBatch,
        maxDelayMs: o.maxDelayMs,
        workers: o.workers ?? Math.max(1, Math.min(4, availableParallelism())),
        bodyLimit: o.bodyLimit,
        requestTimeoutMs: o.requestTimeout,
      });
    });
}
