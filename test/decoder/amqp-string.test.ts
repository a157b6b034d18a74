import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  amqpStringByteLength,
  amqpStringEquals,
  amqpStringFromBytes,
  amqpStringToBytes,
  amqpStringToText,
  decodeAmqpString,
  decodeKey,
  keyByteLength,
  writeKey,
} from '../../src/decoder/amqp-string.js';

const enc = new TextEncoder();

describe('AmqpString', () => {
  it('decodes ASCII and UTF-8 to strings with the same bytes', () => {
    for (const text of ['', 'amq.direct', 'é€😀', '\u0000nul', 'x'.repeat(300), '\uFEFFbom kept']) {
      const bytes = enc.encode(text);
      expect(amqpStringFromBytes(bytes)).toBe(text);
      expect(amqpStringToBytes(text)).toEqual(bytes);
      expect(amqpStringByteLength(text)).toBe(bytes.length);
    }
  });

  it('keeps invalid UTF-8 as a copy of the bytes', () => {
    const frame = new Uint8Array([0x61, 0xff, 0x62, 0xed, 0xa0, 0x80, 0xc0, 0xaf]);
    for (const [start, end] of [
      [0, 3],
      [3, 6],
      [6, 8],
    ] as const) {
      const s = decodeAmqpString(frame, start, end);
      expect(s).toBeInstanceOf(Uint8Array);
      expect(s).toEqual(frame.slice(start, end));
      expect((s as Uint8Array).buffer).not.toBe(frame.buffer);
    }
  });

  it('returns the right string from the ASCII cache when different bytes share a slot', () => {
    const seen = new Map<string, string>();
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.nat(8), (text, pad) => {
        const bytes = new Uint8Array([...new Uint8Array(pad), ...enc.encode(text)]);
        expect(decodeAmqpString(bytes, pad, bytes.length)).toBe(text);
        seen.set(text, text);
      }),
      { numRuns: 3000 },
    );
    for (const text of seen.keys()) expect(amqpStringFromBytes(enc.encode(text))).toBe(text);
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        expect(amqpStringToBytes(amqpStringFromBytes(bytes))).toEqual(bytes);
      }),
      { numRuns: 1000 },
    );
  });

  it('compares strings and bytes by their bytes', () => {
    expect(amqpStringEquals('é', new Uint8Array([0xc3, 0xa9]))).toBe(true);
    expect(amqpStringEquals('a', 'b')).toBe(false);
    expect(amqpStringEquals(new Uint8Array([0xff]), new Uint8Array([0xff]))).toBe(true);
    expect(amqpStringToText(new Uint8Array([0x61, 0xff]))).toBe('a\uFFFD');
  });

  it('writes lone surrogates in plain strings as U+FFFD, like TextEncoder', () => {
    expect(amqpStringToBytes('a\ud800b')).toEqual(enc.encode('a\ud800b'));
  });
});

describe('table keys (surrogate escape)', () => {
  it('round-trips any bytes through a JS string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const key = decodeKey(bytes, 0, bytes.length);
        expect(typeof key).toBe('string');
        expect(keyByteLength(key)).toBe(bytes.length);
        const out = new Uint8Array(bytes.length);
        expect(writeKey(key, out, 0)).toBe(bytes.length);
        expect(out).toEqual(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes valid UTF-8 keys normally and escapes only the bad bytes', () => {
    expect(decodeKey(enc.encode('x-ü'), 0, 4)).toBe('x-ü');
    expect(decodeKey(new Uint8Array([0x61, 0xe2, 0x82, 0x62]), 0, 4)).toBe('a\udce2\udc82b');
    // surrogates encoded in UTF-8 (CESU) are invalid: escaped byte by byte
    expect(decodeKey(new Uint8Array([0xed, 0xa0, 0x80]), 0, 3)).toBe('\udced\udca0\udc80');
  });
});
