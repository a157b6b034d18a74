// Wire strings ⇄ AmqpString. Strings on the wire are bytes: valid UTF-8 becomes a JS string
// (which re-encodes to the same bytes), anything else stays bytes. Exchange names, routing
// keys and consumer tags are short, ASCII and repeat, so those go through a small cache.

import { isUtf8 } from 'node:buffer';
import type { AmqpString } from './types.js';

// Buffer's latin1/utf8 slicers take any Uint8Array and are several times faster than
// TextDecoder for short strings; fall back to TextDecoder where they are missing.
type Slicer = (this: Uint8Array, start: number, end: number) => string;
const nativeLatin1 = (Buffer.prototype as unknown as { latin1Slice?: Slicer }).latin1Slice;
const nativeUtf8 = (Buffer.prototype as unknown as { utf8Slice?: Slicer }).utf8Slice;
// ignoreBOM: a leading U+FEFF is content, not a marker to drop (else bytes would be lost).
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function latin1Slice(bytes: Uint8Array, start: number, end: number): string {
  return nativeLatin1 !== undefined ? nativeLatin1.call(bytes, start, end) : utf8Decoder.decode(bytes.subarray(start, end));
}
function utf8Slice(bytes: Uint8Array, start: number, end: number): string {
  return nativeUtf8 !== undefined ? nativeUtf8.call(bytes, start, end) : utf8Decoder.decode(bytes.subarray(start, end));
}

// Direct-mapped cache of short ASCII strings, keyed by a hash of their bytes. An entry is
// just the string: for ASCII its char codes are its bytes, so a hit is checked against it.
const CACHE_SIZE = 1024;
const CACHE_MAX_LENGTH = 48;
const cache: string[] = new Array<string>(CACHE_SIZE).fill('');

/** Decodes `bytes[start, end)`: a string when valid UTF-8, else a copy of the bytes. */
export function decodeAmqpString(bytes: Uint8Array, start: number, end: number): AmqpString {
  const length = end - start;
  if (length === 0) return '';
  let hash = length;
  let i = start;
  for (; i < end; i++) {
    const b = bytes[i]!;
    if (b >= 0x80) break;
    hash = (Math.imul(hash, 31) + b) | 0;
  }
  if (i === end) {
    if (length > CACHE_MAX_LENGTH) return latin1Slice(bytes, start, end);
    const slot = (hash ^ (hash >>> 10)) & (CACHE_SIZE - 1);
    const cached = cache[slot]!;
    if (cached.length === length) {
      let j = 0;
      while (j < length && cached.charCodeAt(j) === bytes[start + j]) j++;
      if (j === length) return cached;
    }
    const text = latin1Slice(bytes, start, end);
    cache[slot] = text;
    return text;
  }
  const view = bytes.subarray(start, end);
  return isUtf8(view) ? utf8Slice(bytes, start, end) : view.slice();
}

/** The AmqpString of a whole byte array. */
export function amqpStringFromBytes(bytes: Uint8Array): AmqpString {
  return decodeAmqpString(bytes, 0, bytes.length);
}

/** Bytes `s` takes on the wire. */
export function amqpStringByteLength(s: AmqpString): number {
  return typeof s === 'string' ? utf8ByteLength(s, false) : s.length;
}

/** Writes `s` at `offset`; returns the offset after it. `target` must have room. */
export function writeAmqpString(s: AmqpString, target: Uint8Array, offset: number): number {
  if (typeof s !== 'string') {
    target.set(s, offset);
    return offset + s.length;
  }
  return writeUtf8(s, target, offset, false);
}

export function amqpStringToBytes(s: AmqpString): Uint8Array {
  if (typeof s !== 'string') return s;
  const out = new Uint8Array(utf8ByteLength(s, false));
  writeUtf8(s, out, 0, false);
  return out;
}

/** Byte-wise equality (a string and the bytes of its UTF-8 are equal). */
export function amqpStringEquals(a: AmqpString, b: AmqpString): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  const x = amqpStringToBytes(a);
  const y = amqpStringToBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Text for display: invalid UTF-8 sequences become U+FFFD. */
export function amqpStringToText(s: AmqpString): string {
  return typeof s === 'string' ? s : utf8Decoder.decode(s);
}

// --- table keys ----------------------------------------------------------------------------
// FieldTable keys are JS strings. Keys that are not valid UTF-8 keep their bytes by the
// "surrogate escape" trick: each invalid byte b becomes the lone surrogate U+DC00+b, which
// valid UTF-8 can never produce, and the key encoder turns it back into the byte.

/** Decodes a table key (lossless, see above). */
export function decodeKey(bytes: Uint8Array, start: number, end: number): string {
  const s = decodeAmqpString(bytes, start, end);
  return typeof s === 'string' ? s : decodeUtf8Escaped(s);
}

/** Bytes a key takes on the wire. */
export function keyByteLength(key: string): number {
  return utf8ByteLength(key, true);
}

/** Writes a key at `offset`; returns the offset after it. */
export function writeKey(key: string, target: Uint8Array, offset: number): number {
  return writeUtf8(key, target, offset, true);
}

function utf8ByteLength(s: string, escapeKey: boolean): number {
  let n = 0;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < len && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else if (escapeKey && c >= 0xdc80 && c <= 0xdcff) n += 1;
    else n += 3; // BMP, or a lone surrogate written as U+FFFD (as TextEncoder does)
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function writeUtf8(s: string, target: Uint8Array, offset: number, escapeKey: boolean): number {
  let p = offset;
  const len = s.length;
  for (let i = 0; i < len; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      target[p++] = c;
      continue;
    }
    if (c < 0x800) {
      target[p++] = 0xc0 | (c >> 6);
      target[p++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < len ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && isLowSurrogate(next)) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        target[p++] = 0xf0 | (cp >> 18);
        target[p++] = 0x80 | ((cp >> 12) & 0x3f);
        target[p++] = 0x80 | ((cp >> 6) & 0x3f);
        target[p++] = 0x80 | (cp & 0x3f);
        i++;
        continue;
      }
      if (escapeKey && c >= 0xdc80 && c <= 0xdcff) {
        target[p++] = c - 0xdc00;
        continue;
      }
      c = 0xfffd;
    }
    target[p++] = 0xe0 | (c >> 12);
    target[p++] = 0x80 | ((c >> 6) & 0x3f);
    target[p++] = 0x80 | (c & 0x3f);
  }
  return p;
}

/** Strict UTF-8 (as WHATWG defines it) with each invalid byte escaped to U+DC00+byte. */
function decodeUtf8Escaped(bytes: Uint8Array): string {
  const units: number[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      units.push(b);
      i++;
      continue;
    }
    let need = 0;
    let lower = 0x80;
    let upper = 0xbf;
    let cp = 0;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    }
    let ok = need > 0 && i + need < n;
    if (ok) {
      for (let k = 1; k <= need; k++) {
        const c = bytes[i + k];
        const lo = k === 1 ? lower : 0x80;
        const hi = k === 1 ? upper : 0xbf;
        if (c === undefined || c < lo || c > hi) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (c & 0x3f);
      }
    }
    if (!ok) {
      units.push(0xdc00 + b);
      i++;
      continue;
    }
    if (cp >= 0x10000) {
      const v = cp - 0x10000;
      units.push(0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
    } else units.push(cp);
    i += need + 1;
  }
  let out = '';
  for (let k = 0; k < units.length; k += 4096) out += String.fromCharCode(...units.slice(k, k + 4096));
  return out;
}
