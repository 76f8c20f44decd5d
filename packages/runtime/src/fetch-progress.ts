/** Reading an HTTP response body chunk by chunk, reporting bytes as they arrive. */

/** Called with the bytes received so far and the expected size when known. */
export type BytesCallback = (loaded: number, total: number | undefined) => void;

/**
 * The size the body will have once decoded: Content-Length, unless the body is content-encoded (then
 * Content-Length counts compressed bytes), else `fallback` (e.g. the manifest's record).
 */
export function expectedSize(res: Response, fallback?: number): number | undefined {
  const length = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (fallback !== undefined) return fallback;
  return !encoded && Number.isFinite(length) && length > 0 ? length : undefined;
}

/**
 * Reads the whole body of `res`, calling `onBytes` after every chunk (and once with 0 first). Without
 * a readable stream (some fetch polyfills) it reads at once and reports the end only.
 */
export async function readBody(res: Response, onBytes?: BytesCallback, totalHint?: number): Promise<Uint8Array> {
  const total = expectedSize(res, totalHint);
  onBytes?.(0, total);
  if (!onBytes || !res.body || typeof res.body.getReader !== 'function') {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onBytes?.(bytes.length, total ?? bytes.length);
    return bytes;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onBytes(loaded, total);
  }
  const out = chunks.length === 1 ? chunks[0]! : new Uint8Array(loaded);
  if (chunks.length !== 1) {
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
  }
  return out;
}
