/** Platform-neutral bundle readers: a map of files, or a base URL fetched file by file. No `fs` here. */
import { assertSafeBundlePath, MANIFEST_FILE } from '@vaekit/core';
import { BundleError } from './errors.js';
import { readBody } from './fetch-progress.js';
import type { FileReader } from './load.js';

/** Reads from files given in memory, keyed by bundle-relative path (e.g. from an `<input type=file>`). */
export function mapReader(files: Record<string, Uint8Array | ArrayBuffer>): FileReader {
  return async (rel) => {
    assertSafeBundlePath(rel);
    const f = Object.prototype.hasOwnProperty.call(files, rel) ? files[rel] : undefined;
    if (f === undefined) {
      throw new BundleError(rel === MANIFEST_FILE ? `Not a vaekit bundle: ${MANIFEST_FILE} is missing from the files given.` : `Bundle file missing: ${rel}`);
    }
    return f instanceof Uint8Array ? f : new Uint8Array(f);
  };
}

/** Fetches files relative to `base` (a folder URL; a missing trailing slash is added). */
export function urlReader(base: string | URL, fetchImpl: typeof fetch = globalThis.fetch): FileReader {
  const root = new URL(String(base).endsWith('/') ? String(base) : `${String(base)}/`, globalThis.location?.href);
  return async (rel, hints = {}) => {
    assertSafeBundlePath(rel);
    const url = new URL(rel.split('/').map(encodeURIComponent).join('/'), root);
    let res: Response;
    try {
      res = await fetchImpl(url);
    } catch (err) {
      throw new BundleError(`Cannot fetch bundle file ${url.href}: ${(err as Error).message}`);
    }
    if (!res.ok) {
      throw new BundleError(
        rel === MANIFEST_FILE
          ? `${root.href} is not a vaekit bundle: ${MANIFEST_FILE} answered HTTP ${res.status}.`
          : `Bundle file missing: ${url.href} answered HTTP ${res.status}.`,
      );
    }
    return readBody(res, hints.onBytes, hints.bytes);
  };
}
