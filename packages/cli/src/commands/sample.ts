/** `vaekit sample`: images drawn from the prior of an image bundle. */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { addDeviceOption, deviceOf, type DeviceOptions } from '../shared/device.js';
import { intIn, numberIn, positiveInt } from '../shared/options.js';

/** Registers `vaekit sample`. */
export function registerSample(program: Command): void {
  addDeviceOption(
    program
      .command('sample')
      .description('draw images from the prior and decode them with ONNX Runtime into a PNG grid')
      .argument('<bundle>', 'image bundle folder made by vaekit export')
      .option('--n <count>', 'number of samples', positiveInt(10_000), 64)
      .option('--seed <s>', 'seed of the prior draw', intIn(0, 2 ** 31 - 1), 0)
      .option('--temperature <t>', 'scale of the prior standard deviation', numberIn(1e-6, 100), 1)
      .option('--out <file>', 'PNG file to write', 'samples.png'),
  )
    .option('--json', 'print the result (file, latent vectors) as JSON')
    .action(async (bundle: string, opts: DeviceOptions & { n: number; seed: number; temperature: number; out: string; json?: boolean }, cmd: Command) => {
      const device = deviceOf(opts, cmd);
      const { loadVae } = await import('@vaekit/runtime');
      const { writeGrid } = await import('../shared/image-data.js');
      const { printJson } = await import('../shared/output.js');
      const vae = await loadVae(bundle, { backend: device });
      if (vae.kind === 'text') {
        await vae.dispose();
        throw new UsageError(`${bundle} is a text bundle; vaekit sample draws images. Use: vaekit generate ${bundle}`);
      }
      try {
        const { z, images } = await vae.sample(opts.n, { seed: opts.seed, latentTemperature: opts.temperature });
        await writeGrid(vae, images, opts.out);
        if (opts.json) printJson({ out: opts.out, n: opts.n, seed: opts.seed, device: vae.backend, z: z.map((v) => Array.from(v)) });
        else process.stdout.write(`Wrote ${opts.n} samples to ${opts.out} (seed ${opts.seed}, device ${vae.backend}).\n`);
      } finally {
        await vae.dispose();
      }
    });
}
