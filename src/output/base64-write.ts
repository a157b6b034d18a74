// Base64 straight into the recorder's output buffer. Most frames are small (a publish, a
// header, a 16-byte body); for them a loop here beats making a Buffer view, a base64 string
// and copying that string in (three allocations and two native calls per frame).

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
const PAD = 0x3d; // '='

/** Above this many bytes the native encoder wins despite its allocations. */
const NATIVE_FROM = 512;

export function base64Length(byteLength: number): number {
  return Math.ceil(byteLength / 3) * 4;
}

// Buffer's own slicer and writer take any Uint8Array and skip toString's and write()'s
// argument handling (a Buffer view per frame, encoding lookups); fall back where missing.
type Slicer = (this: Uint8Array, start: number, end: number) => string;
type Writer = (this: Buffer, text: string, offset: number) => number;
const nativeBase64Slice = (Buffer.prototype as unknown as { base64Slice?: Slicer }).base64Slice;
const nativeLatin1Write = (Buffer.prototype as unknown as { latin1Write?: Writer }).latin1Write;

/** Writes `src` as base64 (with padding) at `at` in `dst`; returns the index after it. */
export function writeBase64(src: Uint8Array, dst: Buffer, at: number): number {
  const n = src.length;
  if (n >= NATIVE_FROM) {
    const text = nativeBase64Slice !== undefined ? nativeBase64Slice.call(src, 0, n) : Buffer.from(src.buffer, src.byteOffset, n).toString('base64');
    return at + (nativeLatin1Write !== undefined ? nativeLatin1Write.call(dst, text, at) : dst.write(text, at, 'latin1'));
  }
  let i = 0;
  for (const whole = n - (n % 3); i < whole; i += 3) {
    const v = (src[i]! << 16) | (src[i + 1]! << 8) | src[i + 2]!;
    dst[at++] = CODES[v >>> 18]!;
    dst[at++] = CODES[(v >>> 12) & 63]!;
    dst[at++] = CODES[(v >>> 6) & 63]!;
    dst[at++] = CODES[v & 63]!;
  }
  const rest = n - i;
  if (rest === 1) {
    const v = src[i]!;
    dst[at++] = CODES[v >>> 2]!;
    dst[at++] = CODES[(v & 3) << 4]!;
    dst[at++] = PAD;
    dst[at++] = PAD;
  } else if (rest === 2) {
    const v = (src[i]! << 8) | src[i + 1]!;
    dst[at++] = CODES[v >>> 10]!;
    dst[at++] = CODES[(v >>> 4) & 63]!;
    dst[at++] = CODES[(v & 15) << 2]!;
    dst[at++] = PAD;
  }
  return at;
}
