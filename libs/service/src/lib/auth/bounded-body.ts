import type { IncomingMessage } from 'node:http';

export type BoundedBody = { readonly body: Buffer } | { readonly tooLarge: true } | { readonly error: Error };

/**
 * Reads a request body of at most `limit` bytes. Past the limit (declared or as it streams) it
 * answers `{ tooLarge }` at once and keeps nothing of what came, so a caller can refuse with 413
 * without holding the rest; the remaining bytes are discarded as they arrive.
 */
export function readBoundedBody(
  request: IncomingMessage,
  limit: number,
  done: (result: BoundedBody) => void,
): void {
  if (Number(request.headers['content-length'] ?? 0) > limit) {
    request.resume();
    done({ tooLarge: true });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let settled = false;
  request.on('data', (chunk: Buffer) => {
    if (settled) return;
    size += chunk.length;
    if (size > limit) {
      settled = true;
      chunks.length = 0;
      done({ tooLarge: true });
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    if (settled) return;
    settled = true;
    done({ body: Buffer.concat(chunks, size) });
  });
  request.on('error', (error) => {
    if (settled) return;
    settled = true;
    done({ error });
  });
}
