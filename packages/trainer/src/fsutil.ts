import { promises as fs } from 'node:fs';
import path from 'node:path';

let tmpCounter = 0;

/**
 * Marker in the names of temporary files and folders: `<name>.tmp-<pid>-<n>` siblings of their target.
 * A process killed mid-write leaves them behind; {@link removeStaleTemps} clears them.
 */
export const TMP_MARKER = '.tmp-';

/** A fresh temporary sibling path for `target` (unique within this process). */
export function tempSibling(target: string, hidden = true): string {
  const base = path.basename(target);
  return path.join(path.dirname(target), `${hidden ? '.' : ''}${base}${TMP_MARKER}${process.pid}-${tmpCounter++}`);
}

/**
 * Writes a file atomically: to a temporary sibling first, then renamed over the target, so readers see
 * the old file or the new one, never a half-written one. On failure the temporary file is removed.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(file);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Removes temporary files and folders left in `dir` by a writer that was killed (names containing
 * {@link TMP_MARKER}, as made by {@link tempSibling}). Callers must own `dir`: a temporary entry of a
 * writer still running would be removed too.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => /\.tmp-\d+(-\d+)?$/.test(n));
  for (const n of stale) await fs.rm(path.join(dir, n), { recursive: true, force: true });
  return stale;
}

/** True when `p` exists and is a directory. */
export async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}
