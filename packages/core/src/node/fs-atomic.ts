/**
 * Atomic writes of files and folders, with one temporary-name scheme and one cleanup rule for every
 * package:
 *
 * - a temporary entry is a sibling of its target named `<name>.tmp-<pid>-<n>` (files hidden with a
 *   leading dot), `<pid>` the writing process;
 * - a writer that is killed leaves its temporaries behind; {@link removeStaleTemps} removes those of
 *   processes that are no longer running, never those of a live writer (another process, or this one).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

let tmpCounter = 0;

/** Marker in the names of temporary files and folders (`<name>.tmp-<pid>-<n>`). */
export const TMP_MARKER = '.tmp-';

const TEMP_NAME = /\.tmp-(\d+)-\d+$/;

/** A fresh temporary sibling path for `target` (unique within this process). */
export function tempSibling(target: string, hidden = true): string {
  const base = path.basename(target);
  return path.join(path.dirname(target), `${hidden ? '.' : ''}${base}${TMP_MARKER}${process.pid}-${tmpCounter++}`);
}

/** True when process `pid` is running (signal 0 probes without signalling). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
 * Removes the temporary files and folders in `dir` left by writers that were killed (names made by
 * {@link tempSibling} whose process is no longer running). Returns the names removed.
 */
export async function removeStaleTemps(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => {
    const m = TEMP_NAME.exec(n);
    return m !== null && !alive(Number(m[1]));
  });
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

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}

/** One file of a folder written by {@link writeFolderAtomic}. */
export interface FolderFile {
  /** Path relative to the folder (`/`-separated; subfolders are created). */
  path: string;
  bytes: Uint8Array;
}

/**
 * Writes a whole folder atomically: into a temporary sibling first, then renamed into place. An existing
 * `dir` is moved aside (to another temporary sibling) only once the new folder is complete, and removed
 * afterwards; on failure the temporary folder is removed and the old folder left (or put back) in place.
 * Temporaries of killed writers beside `dir` are removed first. Callers check beforehand that `dir` may
 * be replaced; errors are the file system's own.
 */
export async function writeFolderAtomic(dir: string, files: readonly FolderFile[]): Promise<void> {
  const target = path.resolve(dir);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await removeStaleTemps(path.dirname(target));
  const tmp = tempSibling(target, false);
  try {
    await fs.mkdir(tmp);
    for (const f of files) {
      await fs.mkdir(path.dirname(path.join(tmp, f.path)), { recursive: true });
      await fs.writeFile(path.join(tmp, f.path), f.bytes);
    }
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
  const old = tempSibling(target, false);
  let movedOld = false;
  try {
    if (await exists(target)) {
      await fs.rename(target, old);
      movedOld = true;
    }
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (movedOld && !(await exists(target))) await fs.rename(old, target).catch(() => undefined);
    throw err;
  }
  if (movedOld) await fs.rm(old, { recursive: true, force: true });
}
