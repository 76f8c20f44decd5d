/**
 * The inference engine option, declared once for every command that runs a bundle: `--device cpu|wasm`
 * (transformers.js' word). `--backend` on these commands is the old spelling: it still works for one
 * release, with a one-line notice. Training and evaluation keep `--backend` for the tfjs backend
 * (see tf-backend.ts): the two meant unrelated things under one name.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { DEVICES, type Device } from './choices.js';
import { oneOf } from './options.js';

/** Options parsed by {@link addDeviceOption}. */
export interface DeviceOptions {
  device: Device;
  /** The deprecated spelling of `device`. */
  backend?: Device;
}

/** Adds `--device` (default cpu) and the hidden, deprecated `--backend` to an inference command. */
export function addDeviceOption(cmd: Command): Command {
  return cmd
    .option('--device <name>', `ONNX Runtime engine: ${DEVICES.join(' | ')} (cpu: onnxruntime-node; wasm: onnxruntime-web's WASM build)`, oneOf(DEVICES), 'cpu')
    .addOption(new Option('--backend <name>', 'deprecated spelling of --device').argParser(oneOf(DEVICES)).hideHelp());
}

/** The chosen device; prints the deprecation notice when the old `--backend` was used. */
export function deviceOf(opts: DeviceOptions, cmd: Command): Device {
  if (opts.backend === undefined) return opts.device;
  if (cmd.getOptionValueSource('device') === 'cli' && opts.device !== opts.backend) {
    throw new UsageError(`--device ${opts.device} and --backend ${opts.backend} disagree; give --device only.`);
  }
  process.stderr.write(`vaekit: --backend is deprecated on ${cmd.name()}; use --device ${opts.backend} (--backend will be removed in the next release).\n`);
  return opts.backend;
}
