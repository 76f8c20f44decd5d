/** Claiming the run folder a training command writes. */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import { UsageError } from '../errors.js';
import { assertFolderTarget } from './output.js';

/** Prepares `out` for a new run: refuses a path through a file, and a non-empty folder unless `force` (then empties it). */
export async function claimRunFolder(out: string, force: boolean | undefined): Promise<void> {
  await assertFolderTarget(out, '--out');
  let entries: string[] = [];
  try {
    const stat = await fs.stat(out);
    if (!stat.isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder.`);
    entries = await fs.readdir(out);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return;
  }
  if (entries.length > 0) {
    if (!force) throw new UsageError(`Run folder ${out} already exists and is not empty. Choose another --out or pass --force to replace it.`);
    await fs.rm(out, { recursive: true, force: true });
  }
}

/** The flags every training command shares. */
export interface RunFlags {
  out: string;
  epochs?: number;
  resume?: boolean;
  force?: boolean;
  skipNonfinite?: boolean;
  json?: boolean;
}

/**
 * Adds the run-folder flags every training command shares, worded once: `--out` (required when
 * `defaultOut` is undefined), `--force`, `--resume`, `--skip-nonfinite` and `--json`; they fill {@link RunFlags}.
 */
export function addRunFolderOptions(cmd: Command, defaultOut: string | undefined): Command {
  const withOut = defaultOut === undefined ? cmd.requiredOption('--out <dir>', 'run folder to create') : cmd.option('--out <dir>', 'run folder to create', defaultOut);
  return withOut
    .option('--force', 'replace the run folder if it exists')
    .option('--resume', 'continue the run in --out from its newest complete checkpoint (its saved configuration applies; --epochs may extend it)')
    .option('--skip-nonfinite', 'skip updates whose loss or gradients are NaN or infinite (default: stop, keeping the last good checkpoint)')
    .option('--json', 'print the result as JSON on stdout');
}

/** Refuses `--resume` together with `--force` (a resumed run keeps its folder). */
export function assertResumeWithoutForce(opts: RunFlags): void {
  if (opts.resume && opts.force) throw new UsageError('--resume and --force cannot be used together.');
}

/** What to do with a non-finite loss: `--skip-nonfinite` skips the update, else training stops. */
type NonFinite = 'skip' | 'stop';

/**
 * Starts a new run, or resumes the one in `--out`, as the flags say: `--epochs` extends a resumed run
 * only when given on the command line, `--skip-nonfinite` picks the non-finite policy. When training
 * fails, `onFailure` runs (progress bars stop), a new run that completed no epoch (`completedEpochs`)
 * is removed, and the error is rethrown.
 */
export async function trainOrResume<R>(
  opts: RunFlags,
  cmd: Command,
  run: { train(options: { nonFinite: NonFinite }): Promise<R>; resume(options: { epochs?: number; nonFinite: NonFinite }): Promise<R> },
  completedEpochs: () => number,
  onFailure?: () => unknown,
): Promise<R> {
  const nonFinite: NonFinite = opts.skipNonfinite ? 'skip' : 'stop';
  try {
    if (!opts.resume) return await run.train({ nonFinite });
    const epochsGiven = cmd.getOptionValueSource('epochs') === 'cli';
    return await run.resume({ ...(epochsGiven ? { epochs: opts.epochs } : {}), nonFinite });
  } catch (err) {
    await onFailure?.();
    if (completedEpochs() === 0 && !opts.resume) await fs.rm(opts.out, { recursive: true, force: true });
    throw err;
  }
}
