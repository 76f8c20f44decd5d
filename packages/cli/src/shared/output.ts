/** Writing command outputs: atomically, into folders that must already exist. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '@vaekit/core/node';
import { UsageError } from '../errors.js';

/** Writes `data` to `file` atomically; a missing parent folder or a folder in the file's place is a usage error. */
export async function writeOutput(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  try {
    if (!(await fs.stat(dir)).isDirectory()) throw new Error();
  } catch {
    throw new UsageError(`Cannot write ${file}: folder ${dir} does not exist.`);
  }
  if (await fs.stat(file).then((s) => s.isDirectory(), () => false)) {
    throw new UsageError(`Cannot write ${file}: it is a folder. Expected a file name.`);
  }
  try {
    await writeFileAtomic(file, data);
  } catch (err) {
    // A place the user may not write to is bad input; the temporary name in Node's message is noise.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      throw new UsageError(`Cannot write ${file}: permission denied (${code}). Choose another --out.`);
    }
    throw err;
  }
}

/**
 * Checks that `dir` can be an output folder before any work starts: it is a folder or does not exist
 * yet, and its nearest existing ancestor is a folder (not a file). Throws {@link UsageError} naming `flag`.
 */
export async function assertFolderTarget(dir: string, flag: string): Promise<void> {
  let p = path.resolve(dir);
  let first = true;
  for (;;) {
    const stat = await fs.stat(p).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err));
    if (stat instanceof Error) {
      if ((stat as NodeJS.ErrnoException).code === 'ENOTDIR') {
        // A file somewhere above: keep walking up to name it.
      } else throw new UsageError(`${flag} ${dir} cannot be used: ${stat.message}`);
    } else if (stat) {
      if (stat.isDirectory()) return;
      throw new UsageError(first ? `${flag} ${dir} exists and is not a folder.` : `${flag} ${dir} cannot be created: ${p} is a file, not a folder.`);
    }
    const parent = path.dirname(p);
    if (parent === p) return;
    p = parent;
    first = false;
  }
}

/** Prints `value` as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
