/**
 * Browser Cache API storage of bundle files, keyed by the sha256 the manifest gives them: the key of a
 * changed file changes with the manifest, and the bytes read back from the cache are hashed again
 * before use, so a modified entry is evicted and fetched again rather than served.
 */
import { sha256Hex } from '@vaekit/core';
import type { FileReader, ReadHints } from './load.js';
import type { LoadOptions } from './types.js';

/** Name of the cache that holds bundle files unless `cache: { name }` says otherwise. */
export const DEFAULT_CACHE_NAME = 'vaekit-bundles';

/**
 * The request URL a file is stored under: one key per content hash, so the same file shared by two
 * bundles (or two URLs of one bundle) is stored once. Never fetched: it only names the entry.
 */
export function cacheKey(sha256: string): string {
  return `https://vaekit.invalid/sha256/${sha256}`;
}

/** The cache a load should use, or undefined when caching is off or unavailable. */
export function resolveCache(option: LoadOptions['cache']): { name: string; storage: CacheStorage } | undefined {
  if (option === false) return undefined;
  const storage = (typeof option === 'object' ? option.storage : undefined) ?? (globalThis as { caches?: CacheStorage }).caches;
  if (!storage) return undefined;
  return { name: (typeof option === 'object' ? option.name : undefined) ?? DEFAULT_CACHE_NAME, storage };
}

/**
 * Wraps a reader so files with a known sha256 are served from `storage` when their bytes still hash
 * to it, and stored there after a download that does. Cache failures (quota, private mode) never
 * fail a load: the file is then read from the network as without a cache.
 */
export function cachedReader(read: FileReader, storage: CacheStorage, name = DEFAULT_CACHE_NAME): FileReader {
  let opened: Promise<Cache | undefined> | undefined;
  const open = () => (opened ??= storage.open(name).catch(() => undefined));
  return async (rel: string, hints: ReadHints = {}) => {
    const sha = hints.sha256;
    if (!sha) return read(rel, hints);
    const cache = await open();
    const key = cacheKey(sha);
    if (cache) {
      const hit = await cache.match(key).catch(() => undefined);
      if (hit) {
        const bytes = new Uint8Array(await hit.arrayBuffer());
        if ((await sha256Hex(bytes)) === sha) {
          hints.onBytes?.(bytes.length, bytes.length, true);
          return bytes;
        }
        await cache.delete(key).catch(() => false);
      }
    }
    const bytes = await read(rel, hints);
    if (cache && (await sha256Hex(bytes)) === sha) {
      const copy = bytes.slice(); // the Response may take the buffer; keep the caller's intact
      await cache.put(key, new Response(copy, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(copy.length) } })).catch(() => undefined);
    }
    return bytes;
  };
}
