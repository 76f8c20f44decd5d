/** `vaekit export-triton BUNDLE REPO`: a Triton model repository (and KServe InferenceService) from a bundle. */
import type { Command } from 'commander';
import { positiveInt } from '../shared/options.js';

interface Flags {
  name?: string;
  maxBatch: number;
  maxDelayUs: number;
  gpu?: boolean;
  instances: number;
  storageUri?: string;
  overwrite?: boolean;
}

/** Registers `vaekit export-triton`. */
export function registerExportTriton(program: Command): Command {
  return program
    .command('export-triton')
    .description('write a Triton model repository (config.pbtxt + model.onnx per graph, a stateful decoder for text) and a KServe InferenceService')
    .argument('<bundle>', 'bundle folder')
    .argument('<repo>', 'output model repository folder')
    .option('--name <name>', 'model name prefix (default: the bundle folder name)')
    .option('--max-batch <n>', 'Triton max_batch_size', positiveInt(4096), 64)
    .option('--max-delay-us <us>', 'dynamic batcher max_queue_delay_microseconds', positiveInt(10_000_000), 2000)
    .option('--gpu', 'instances on GPU (KIND_GPU) instead of CPU')
    .option('--instances <n>', 'instances per model', positiveInt(64), 1)
    .option('--storage-uri <uri>', 'storageUri of the InferenceService YAML')
    .option('--overwrite', 'replace a non-empty output folder')
    .action(async (bundle: string, repo: string, o: Flags) => {
      const { exportTritonRepository } = await import('@vaekit/exporter');
      const r = await exportTritonRepository(bundle, repo, {
        ...(o.name ? { name: o.name } : {}),
        maxBatchSize: o.maxBatch,
        maxQueueDelayMicroseconds: o.maxDelayUs,
        gpu: o.gpu === true,
        instanceCount: o.instances,
        ...(o.storageUri ? { storageUri: o.storageUri } : {}),
        overwrite: o.overwrite === true,
      });
      process.stdout.write(`Wrote ${r.models.length} models to ${r.repository}: ${r.models.map((m) => m.name).join(', ')}\nKServe InferenceService: ${r.inferenceService}\n`);
    });
}
