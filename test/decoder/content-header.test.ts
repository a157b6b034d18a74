import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeContentHeader, encodeContentHeader, propertyFlagsFor } from '../../src/decoder/content-header.js';
import { EncodeError } from '../../src/decoder/encode-error.js';
import { DecodeError } from '../../src/decoder/errors.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import { BASIC_PROPERTIES } from '../../src/decoder/spec.js';
import type { ArgumentValue } from '../../src/decoder/types.js';
import { basicPropertiesArb, canonicalArgument } from './arbitraries.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text.replace(/[\s|]/g, ''), 'hex'));

function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected a DecodeError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a DecodeError, but decoding succeeded');
}

describe('content header: golden vectors', () => {
  it('content-type (bit 15) and delivery-mode (bit 12)', () => {
    const bytes = fromHex('003c 0000 0000000000000005 9000 | 0a 746578742f706c61696e | 02');
    const h = decodeContentHeader(bytes);
    expect(h).toEqual({ classId: 60, weight: 0, bodySize: 5n, properties: { 'content-type': 'text/plain', 'delivery-mode': 2 }, propertyFlags: [0x9000] });
    expect(encodeContentHeader({ classId: 60, bodySize: 5, properties: { 'content-type': 'text/plain', 'delivery-mode': 2 } })).toEqual(bytes);
  });

  it('all 14 properties, in flag order', () => {
    const properties = {
      'content-type': 'a',
      'content-encoding': 'b',
      headers: fieldTable({ k: true }),
      'delivery-mode': 1,
      priority: 9,
      'correlation-id': 'c',
      'reply-to': 'd',
      expiration: 'e',
      'message-id': 'f',
      timestamp: 1700000000n,
      type: 'g',
      'user-id': 'h',
      'app-id': 'i',
      'cluster-id': 'j',
    };
    const bytes = encodeContentHeader({ classId: 60, bodySize: 2n ** 40n, properties });
    expect(hex(bytes)).toBe(
      '003c0000' +
        '0000010000000000' +
        'fffc' +
        '0161' +
        '0162' +
        '00000004016b7401' +
        '01' +
        '09' +
        '0163' +
        '0164' +
        '0165' +
        '0166' +
        '000000006553f100' +
        '0167' +
        '0168' +
        '0169' +
        '016a',
    );
    expect(decodeContentHeader(bytes).properties).toEqual(properties);
  });

  it('keeps extra flag words (continuation bit) for a byte-identical re-encoding', () => {
    const bytes = fromHex('003c 0000 0000000000000000 8001 0000 | 01 78');
    const h = decodeContentHeader(bytes);
    expect(h.propertyFlags).toEqual([0x8001, 0]);
    expect(h.properties).toEqual({ 'content-type': 'x' });
    expect(encodeContentHeader(h)).toEqual(bytes);
    // without the flags, the minimal form
    const { propertyFlags: _kept, ...withoutFlags } = h;
    expect(hex(encodeContentHeader(withoutFlags))).toBe('003c00000000000000000000' + '8000' + '0178');
  });

  it('keeps a non-zero weight', () => {
    const bytes = fromHex('003c 0007 0000000000000001 0000');
    expect(decodeContentHeader(bytes).weight).toBe(7);
    expect(encodeContentHeader(decodeContentHeader(bytes))).toEqual(bytes);
  });
});

describe('content header: round trips (property)', () => {
  it('random subsets of the 14 properties survive encode → decode → encode', () => {
    fc.assert(
      fc.property(basicPropertiesArb, fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (properties, bodySize) => {
        const bytes = encodeContentHeader({ classId: 60, bodySize, properties });
        const h = decodeContentHeader(bytes);
        const given = properties as Record<string, ArgumentValue>;
        const expected: Record<string, ArgumentValue> = {};
        for (const p of BASIC_PROPERTIES) if (given[p.name] !== undefined) expected[p.name] = canonicalArgument(p.type, given[p.name]!);
        expect(h.properties).toEqual(expected);
        expect(Object.keys(h.properties)).toEqual(Object.keys(expected));
        expect(h.bodySize).toBe(bodySize);
        expect(h.propertyFlags).toEqual(propertyFlagsFor(60, properties));
        expect(encodeContentHeader(h)).toEqual(bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('every strict prefix is truncated; random tails never throw anything but DecodeError', () => {
    fc.assert(
      fc.property(basicPropertiesArb, fc.uint8Array({ maxLength: 24 }), (properties, tail) => {
        const bytes = encodeContentHeader({ classId: 60, bodySize: 1, properties });
        for (let cut = 0; cut < bytes.length; cut++) expect(decodeError(() => decodeContentHeader(bytes.subarray(0, cut))).code).toBe('truncated');
        try {
          decodeContentHeader(new Uint8Array([...bytes.subarray(0, 12), ...tail]));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('content header: bad input', () => {
  it('refuses classes without content', () => {
    const e = decodeError(() => decodeContentHeader(fromHex('000a 0000 0000000000000000 0000')));
    expect(e.code).toBe('unknown-class');
    expect(e.context).toEqual({ classId: 10 });
    expect(decodeError(() => decodeContentHeader(fromHex('0063 0000 0000000000000000 0000'))).code).toBe('unknown-class');
  });

  it('refuses a flag bit past the 14 properties', () => {
    const e = decodeError(() => decodeContentHeader(fromHex('003c 0000 0000000000000000 0002')));
    expect(e.code).toBe('unknown-field-type');
    expect(e.offset).toBe(12);
    expect(decodeError(() => decodeContentHeader(fromHex('003c 0000 0000000000000000 0001 8000'))).offset).toBe(14);
  });

  it('finds a missing continuation word, and trailing bytes', () => {
    expect(decodeError(() => decodeContentHeader(fromHex('003c 0000 0000000000000000 0001'))).code).toBe('truncated');
    const e = decodeError(() => decodeContentHeader(fromHex('003c 0000 0000000000000000 0000 ff')));
    expect(e.code).toBe('trailing-bytes');
    expect(e.offset).toBe(14);
    expect(e.context).toEqual({ classId: 60 });
  });
});

describe('content header: encoding checks', () => {
  it('refuses flags that disagree with the properties', () => {
    const bad = [
      { classId: 60, bodySize: 0, properties: { priority: 1 }, propertyFlags: [0] },
      { classId: 60, bodySize: 0, properties: {}, propertyFlags: [0x8000] },
      { classId: 60, bodySize: 0, properties: {}, propertyFlags: [0x0001] },
      { classId: 60, bodySize: 0, properties: {}, propertyFlags: [0x0000, 0x0000] },
      { classId: 60, bodySize: 0, properties: {}, propertyFlags: [0x0002] },
      { classId: 60, bodySize: 0, properties: {}, propertyFlags: [] },
    ];
    for (const h of bad) expect(() => encodeContentHeader(h), JSON.stringify(h.propertyFlags)).toThrow(EncodeError);
  });

  it('refuses unknown properties, bad values and classes without content', () => {
    expect(() => encodeContentHeader({ classId: 60, bodySize: 0, properties: { contentType: 'x' } as never })).toThrow(/no property/);
    expect(() => encodeContentHeader({ classId: 60, bodySize: 0, properties: { priority: 256 } })).toThrow(EncodeError);
    expect(() => encodeContentHeader({ classId: 60, bodySize: -1, properties: {} })).toThrow(EncodeError);
    expect(() => encodeContentHeader({ classId: 20, bodySize: 0, properties: {} })).toThrow(EncodeError);
  });
});
