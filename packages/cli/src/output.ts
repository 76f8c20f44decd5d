/** Writing command outputs: atomically, into folders that must already exist. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '@vaekit/trainer';
import { UsageError } from './errors.js';

/** Writes `data` to `file` atomically; a missing parent folder is a usage error. */
export async function writeOutput(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(path.resolve(file));
  try {
    if (!(await fs.stat(dir)).isDirectory()) throw new Error();
  } catch {
    throw new UsageError(`Cannot write ${file}: folder ${dir} does not exist.`);
  }
  await writeFileAtomic(file, data);
}

/** Prints `value` as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}
