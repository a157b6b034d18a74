// Undoing a body's content-encoding with Node's zlib (gzip, deflate, br). A decompression
// bomb must not take the process: zlib stops at maxOutputLength, so memory is bounded by the
// cap, not by what the sender claims. zstd needs Node 22's zlib, and this is Node 20.

import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

/** Bytes one body may inflate to (a gzip bomb of 10 KB asks for gigabytes). */
export const DEFAULT_MAX_INFLATED = 64 * 1024 * 1024;

export interface EncodingResult {
  /** the body with every encoding it could undo undone */
  readonly bytes: Uint8Array;
  /** the encodings undone, in the order they were undone */
  readonly undone: readonly string[];
  /** why it stopped early, when it did (an unknown encoding, a corrupt stream, the cap) */
  readonly note?: string;
}

/**
 * Undoes `content-encoding` (a comma list, applied in order, so undone from the last).
 * Identity is skipped; on anything it cannot undo it stops and keeps the bytes it has.
 */
export function undoContentEncoding(bytes: Uint8Array, contentEncoding: string, maxInflated = DEFAULT_MAX_INFLATED): EncodingResult {
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let current = bytes;
  const undone: string[] = [];
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const inflate = INFLATERS[coding];
    // clients put a charset here (pika and Spring set "utf-8"): that is no compression
    if (inflate === undefined && CHARSETS.has(coding)) continue;
    if (inflate === undefined) {
      const why = coding === 'zstd' ? 'zstd: not supported on Node 20' : `unknown content-encoding ${JSON.stringify(coding)}`;
      return { bytes: current, undone, note: `${why}; shown as it came` };
    }
    try {
      current = inflate(current, maxInflated);
    } catch (error) {
      return { bytes: current, undone, note: `${coding}: ${inflateFailure(error, maxInflated)}; shown as it came` };
    }
    undone.push(coding);
  }
  return { bytes: current, undone };
}

/** Charset names and transfer words seen in content-encoding that leave the bytes as they are. */
const CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii', 'iso-8859-1', 'latin1', 'binary', '7bit', '8bit']);

type Inflater = (bytes: Uint8Array, max: number) => Uint8Array;

const INFLATERS: Readonly<Record<string, Inflater>> = {
  gzip: (bytes, max) => gunzipSync(bytes, { maxOutputLength: max }),
  'x-gzip': (bytes, max) => gunzipSync(bytes, { maxOutputLength: max }),
  // "deflate" means zlib-wrapped (RFC 9110), but senders often mean raw deflate: try both
  deflate: (bytes, max) => {
    try {
      return inflateSync(bytes, { maxOutputLength: max });
    } catch (error) {
      if (isTooLarge(error)) throw error;
      return inflateRawSync(bytes, { maxOutputLength: max });
    }
  },
  br: (bytes, max) => brotliDecompressSync(bytes, { maxOutputLength: max }),
};

function isTooLarge(error: unknown): boolean {
  return error instanceof RangeError || (error as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}

function inflateFailure(error: unknown, max: number): string {
  if (isTooLarge(error)) return `inflates past the ${Math.round(max / 1024 / 1024)} MiB cap (a decompression bomb?)`;
  const message = error instanceof Error ? error.message : String(error);
  return message === 'unexpected end of file' ? 'truncated stream' : `corrupt stream (${message})`;
}
