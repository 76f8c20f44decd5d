/** `vaekit sample`: images drawn from the prior of an image bundle. */
import { Option, type Command } from 'commander';
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
      .option('--latent-temperature <t>', 'scale of the prior standard deviation', numberIn(1e-6, 100), 1)
      // `temperature` means the logits' temperature everywhere else (generate, reconstruct).
      .addOption(new Option('--temperature <t>', 'deprecated spelling of --latent-temperature').argParser(numberIn(1e-6, 100)).hideHelp())
      .option('--out <file>', 'PNG file to write', 'samples.png'),
  )
    .option('--json', 'print the result (file, latent vectors) as JSON')
    .action(async (bundle: string, opts: DeviceOptions & { n: number; seed: number; latentTemperature: number; temperature?: number; out: string; json?: boolean }, cmd: Command) => {
      const device = deviceOf(opts, cmd);
      let latentTemperature = opts.latentTemperature;
      if (opts.temperature !== undefined) {
        if (cmd.getOptionValueSource('latentTemperature') === 'cli' && opts.temperature !== latentTemperature) {
          throw new UsageError(`--latent-temperature ${latentTemperature} and --temperature ${opts.temperature} disagree; give --latent-temperature only.`);
        }
        process.stderr.write(`vaekit: --temperature is deprecated on sample; use --latent-temperature ${opts.temperature} (--temperature will be removed in the next release).\n`);
        latentTemperature = opts.temperature;
      }
      const { loadVae } = await import('@vaekit/runtime');
      const { writeGrid } = await import('../shared/image-data.js');
      const { printJson } = await import('../shared/output.js');
      const vae = await loadVae(bundle, { backend: device });
      if (vae.kind === 'text') {
        await vae.dispose();
        throw new UsageError(`${bundle} is a text bundle; vaekit sample draws images. Use: vaekit generate ${bundle}`);
      }
      try {
        const { z, images } = await vae.sample(opts.n, { seed: opts.seed, latentTemperature });
        await writeGrid(vae, images, opts.out);
        if (opts.json) printJson({ out: opts.out, n: opts.n, seed: opts.seed, device: vae.backend, z: z.map((v) => Array.from(v)) });
        else process.stdout.write(`Wrote ${opts.n} samples to ${opts.out} (seed ${opts.seed}, device ${vae.backend}).\n`);
      } finally {
        await vae.dispose();
      }
    });
}
