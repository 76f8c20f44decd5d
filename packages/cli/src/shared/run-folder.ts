/** Claiming the run folder a training command writes. */
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
