/**
 * The tfjs backend option of training and evaluation (`--backend auto|node|wasm|cpu`), and starting
 * that backend with a short report line.
 */
import { Option, type Command } from 'commander';
import { TF_BACKENDS, type TfBackend } from './choices.js';
import { oneOf } from './options.js';

/** The `--backend` option (default auto) of a training or evaluation command. */
export function tfBackendOption(): Option {
  return new Option('--backend <name>', `tfjs backend: ${TF_BACKENDS.join(' | ')}`).argParser(oneOf(TF_BACKENDS)).default('auto');
}

/** Adds {@link tfBackendOption} to a command. */
export function addTfBackendOption(cmd: Command): Command {
  return cmd.addOption(tfBackendOption());
}

/** A started tfjs backend and the line that reports it. */
export interface StartedBackend {
  name: string;
  /** `backend: wasm (native kernels: avx512, 2 threads)`; with `verbose`, every note (why tfjs-node was not used, ...). */
  line: string;
}

/**
 * Starts the tfjs backend (loads tfjs: call it inside an action). The report line is short: why
 * tfjs-node was not used (it is an optional package that is usually absent) shows only with `verbose`,
 * while a slow fallback is always named.
 */
export async function startTfBackend(choice: TfBackend, verbose: boolean): Promise<StartedBackend> {
  const { initBackend } = await import('@vaekit/trainer');
  const info = await initBackend(choice);
  if (verbose) return { name: info.name, line: `backend: ${info.name} (${info.note})` };
  let detail = '';
  if (info.name === 'wasm') detail = info.native ? ` (native kernels: ${info.native.split(':')[0]})` : " (tfjs' WASM kernels; native kernels unavailable, several times slower; --verbose says why)";
  if (info.name === 'cpu') detail = ' (pure-JS CPU backend: expect training to be 10-100x slower than WASM; --verbose says why)';
  return { name: info.name, line: `backend: ${info.name}${detail}` };
}

/** Whether `--verbose` was given (a global option of the program). */
export function isVerbose(cmd: Command): boolean {
  return Boolean(cmd.optsWithGlobals().verbose) || process.argv.includes('--verbose');
}
