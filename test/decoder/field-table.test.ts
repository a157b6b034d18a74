import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../src/decoder/encode-error.js';
import { DecodeError, PayloadError } from '../../src/decoder/errors.js';
import {
  MAX_FIELD_NESTING,
  decimalToString,
  decodeFieldArray,
  decodeFieldTable,
  decodeFieldTableEntries,
  encodeFieldArray,
  encodeFieldTable,
  encodeFieldTableEntries,
  fieldTable,
  fieldTableToPlain,
  fieldValue,
  fieldValueToJson,
  isFieldTable,
  tableGet,
  tableSet,
  typed,
} from '../../src/decoder/field-table.js';
import type { FieldTable } from '../../src/decoder/types.js';
import { canonicalFieldValue, canonicalTable, fieldTableArb, fieldValueArb } from './arbitraries.js';

const bytes = (...parts: (number | string | number[])[]): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));
const u32 = (n: number): number[] => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

/** Runs fn and returns the DecodeError it throws (failing on any other outcome). */
function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected a DecodeError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a DecodeError, but decoding succeeded');
}

describe('field tables: every type code', () => {
  // One entry per type, bytes written out by hand from the README's table.
  const cases: [string, number[], unknown][] = [
    ['t', [0x74, 1], { type: 't', value: true }],
    ['b', [0x62, 0xff], { type: 'b', value: -1 }],
    ['B', [0x42, 0xff], { type: 'B', value: 255 }],
    ['s', [0x73, 0xff, 0xfe], { type: 's', value: -2 }],
    ['u', [0x75, 0xff, 0xfe], { type: 'u', value: 65534 }],
    ['U', [0x55, 0x80, 0x00], { type: 'U', value: -32768 }],
    ['I', [0x49, 0xff, 0xff, 0xff, 0xfd], { type: 'I', value: -3 }],
    ['i', [0x69, 0xff, 0xff, 0xff, 0xfd], { type: 'i', value: 4294967293 }],
    ['l', [0x6c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe], { type: 'l', value: -2n }],
    ['L', [0x4c, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], { type: 'L', value: 2n ** 63n - 1n }],
    ['f', [0x66, 0x3f, 0xc0, 0x00, 0x00], { type: 'f', value: 1.5 }],
    ['d', [0x64, 0xc0, 0x04, 0, 0, 0, 0, 0, 0], { type: 'd', value: -2.5 }],
    ['D', [0x44, 2, 0xff, 0xff, 0xcf, 0xc7], { type: 'D', value: { scale: 2, value: -12345 } }],
    ['S', [0x53, ...u32(3), 0x61, 0xc3, 0xa9], { type: 'S', value: 'aé' }],
    ['S bytes', [0x53, ...u32(2), 0xff, 0x00], { type: 'S', value: new Uint8Array([0xff, 0]) }],
    [
      'A',
      [0x41, ...u32(7), 0x74, 0, 0x56, 0x42, 7, 0x56, 0x56],
      {
        type: 'A',
        value: [
          { type: 't', value: false },
          { type: 'V', value: null },
          { type: 'B', value: 7 },
          { type: 'V', value: null },
          { type: 'V', value: null },
        ],
      },
    ],
    ['T', [0x54, 0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00], { type: 'T', value: 1700000000n }],
    ['F', [0x46, ...u32(3), 1, 0x6b, 0x56], { type: 'F', value: { entries: [['k', { type: 'V', value: null }]] } }],
    ['V', [0x56], { type: 'V', value: null }],
    ['x', [0x78, ...u32(3), 1, 2, 3], { type: 'x', value: new Uint8Array([1, 2, 3]) }],
  ];

  for (const [name, valueBytes, expected] of cases) {
    it(`decodes and re-encodes '${name}'`, () => {
      const wire = bytes(u32(2 + valueBytes.length), 1, 'v', valueBytes);
      const table = decodeFieldTable(wire);
      expect(table.entries).toEqual([['v', expected]]);
      expect(encodeFieldTable(table)).toEqual(wire);
    });
  }

  it('keeps duplicate keys, in order', () => {
    const wire = bytes(u32(8), 1, 'a', 0x42, 1, 1, 'a', 0x42, 2);
    const table = decodeFieldTable(wire);
    expect(table.entries.map(([k, v]) => [k, v.value])).toEqual([
      ['a', 1],
      ['a', 2],
    ]);
    expect(tableGet(table, 'a')).toEqual({ type: 'B', value: 1 });
    expect(encodeFieldTable(table)).toEqual(wire);
  });

  it('keeps keys that are not UTF-8 byte for byte', () => {
    const wire = bytes(u32(5), 3, 0x61, 0xff, 0xc3, 0x56);
    const table = decodeFieldTable(wire);
    expect(table.entries[0]![0]).toBe('a\udcff\udcc3');
    expect(encodeFieldTable(table)).toEqual(wire);
  });

  it('reads and writes table entries without a length prefix (AMQPLAIN)', () => {
    const t = fieldTable({ LOGIN: 'guest', PASSWORD: 'guest' });
    const entries = encodeFieldTableEntries(t);
    expect(entries).toEqual(encodeFieldTable(t).subarray(4));
    expect(decodeFieldTableEntries(entries)).toEqual(t);
  });
});

describe('field tables: round trips (property)', () => {
  it('value and bytes survive encode → decode → encode', () => {
    fc.assert(
      fc.property(fieldTableArb, (table) => {
        const wire = encodeFieldTable(table);
        const decoded = decodeFieldTable(wire);
        expect(decoded).toEqual(canonicalTable(table));
        expect(encodeFieldTable(decoded)).toEqual(wire);
      }),
      { numRuns: 300 },
    );
  });

  it('arrays round-trip too', () => {
    fc.assert(
      fc.property(fc.array(fieldValueArb, { maxLength: 6 }), (values) => {
        const wire = encodeFieldArray(values);
        const decoded = decodeFieldArray(wire);
        expect(decoded).toEqual(values.map(canonicalFieldValue));
        expect(encodeFieldArray(decoded)).toEqual(wire);
      }),
      { numRuns: 150 },
    );
  });
});

describe('field tables: bad input', () => {
  it('every truncation of a valid table is a DecodeError, never another exception', () => {
    fc.assert(
      fc.property(fieldTableArb, (table) => {
        const wire = encodeFieldTable(table);
        for (let cut = 0; cut < wire.length; cut++) {
          const e = decodeError(() => decodeFieldTable(wire.subarray(0, cut)));
          expect(e.code).toBe('truncated');
          expect(e.offset).toBeGreaterThanOrEqual(0);
          expect(e.offset).toBeLessThanOrEqual(cut);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('truncating the entries inside a table whose length still covers them is caught', () => {
    // The outer length claims 4 bytes but the shortstr key claims 9.
    const e = decodeError(() => decodeFieldTable(bytes(u32(4), 9, 'abc')));
    expect(e.code).toBe('truncated');
    expect(e.offset).toBe(4);
  });

  it('corrupted bytes give a table or a DecodeError, never another exception', () => {
    fc.assert(
      fc.property(fieldTableArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (table, edits) => {
        const wire = encodeFieldTable(table).slice();
        for (const [at, value] of edits) wire[at % wire.length] = value;
        try {
          decodeFieldTable(wire);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('random bytes give a table or a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (wire) => {
        try {
          decodeFieldTableEntries(wire);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('reports an unknown type code with its offset', () => {
    for (const code of ['q', 'Z', '\x00', '\xff']) {
      const e = decodeError(() => decodeFieldTable(bytes(u32(6), 1, 'k', 0x56, 1, 'j', code)));
      expect(e).toBeInstanceOf(PayloadError);
      expect(e.code).toBe('unknown-field-type');
      expect(e.offset).toBe(9);
    }
  });

  it('catches lying lengths: table, array, longstr, byte array, key', () => {
    const cases: [Uint8Array, number][] = [
      [bytes(u32(100), 1, 'k', 0x56), 0], // table longer than the bytes
      [bytes(u32(8), 1, 'k', 0x41, u32(50), 0x56), 7], // array longer than its table
      [bytes(u32(8), 1, 'k', 0x53, u32(1000), 0x61), 7], // longstr
      [bytes(u32(7), 1, 'k', 0x78, u32(0xffffffff)), 7], // byte array of 4 GiB
      [bytes(u32(3), 200, 'k', 0x56), 4], // key
    ];
    for (const [wire, offset] of cases) {
      const e = decodeError(() => decodeFieldTable(wire));
      expect(e.code).toBe('truncated');
      expect(e.offset).toBe(offset);
    }
  });

  it('reports bytes after the table', () => {
    const e = decodeError(() => decodeFieldTable(bytes(u32(0), 0x56)));
    expect(e.code).toBe('trailing-bytes');
    expect(e.offset).toBe(4);
  });

  it(`refuses nesting deeper than ${MAX_FIELD_NESTING} levels instead of overflowing the stack`, () => {
    // 20,000 levels of { "": { "": ... } }: 6 bytes per level.
    const depth = 20_000;
    const wire = new Uint8Array(4 + depth * 6);
    const view = new DataView(wire.buffer);
    for (let level = 0; level <= depth; level++) {
      const at = level * 6;
      view.setUint32(at, wire.length - at - 4);
      if (level < depth) {
        wire[at + 4] = 0; // empty key
        wire[at + 5] = 0x46; // F
      }
    }
    const e = decodeError(() => decodeFieldTable(wire));
    expect(e.code).toBe('too-deep');
    // Just under the limit decodes.
    let table: FieldTable = { entries: [] };
    for (let i = 0; i < MAX_FIELD_NESTING - 1; i++) table = { entries: [['', { type: 'F', value: table }]] };
    expect(decodeFieldTable(encodeFieldTable(table))).toEqual(table);
  });
});

describe('field tables: encoding checks', () => {
  it('refuses values their tag cannot hold', () => {
    const bad: FieldTable[] = [
      { entries: [['b', { type: 'b', value: 128 }]] },
      { entries: [['u', { type: 'u', value: -1 }]] },
      { entries: [['I', { type: 'I', value: 1.5 }]] },
      { entries: [['l', { type: 'l', value: 2n ** 63n }]] },
      { entries: [['T', { type: 'T', value: -1n }]] },
      { entries: [['t', { type: 't', value: 1 as unknown as boolean }]] },
      { entries: [['k'.repeat(256), { type: 'V', value: null }]] },
    ];
    for (const t of bad) expect(() => encodeFieldTable(t)).toThrow(EncodeError);
  });
});

describe('field tables: building and showing', () => {
  it('infers tags from JS values', () => {
    const t = fieldTable({
      s: 'text',
      yes: true,
      small: 7,
      big: 2 ** 40,
      neg: -(2 ** 31),
      frac: 0.5,
      huge: 2n ** 62n,
      raw: new Uint8Array([1]),
      when: new Date(1_700_000_000_500),
      list: [1, 'a', null],
      nested: { deep: { x: false } },
      none: null,
      forced: typed('T', 5n),
      table: fieldTable({ a: 1 }),
    });
    expect(Object.fromEntries(t.entries.map(([k, v]) => [k, v.type]))).toEqual({
      s: 'S',
      yes: 't',
      small: 'I',
      big: 'l',
      neg: 'I',
      frac: 'd',
      huge: 'l',
      raw: 'x',
      when: 'T',
      list: 'A',
      nested: 'F',
      none: 'V',
      forced: 'T',
      table: 'F',
    });
    expect(tableGet(t, 'big')).toEqual({ type: 'l', value: 2n ** 40n });
    expect(tableGet(t, 'when')).toEqual({ type: 'T', value: 1_700_000_000n });
    expect(tableGet(t, 'table')).toEqual({ type: 'F', value: { entries: [['a', { type: 'I', value: 1 }]] } });
    expect(tableGet(t, 'missing')).toBeUndefined();
    expect(fieldValue(-(2 ** 31) - 1)).toEqual({ type: 'l', value: -(2n ** 31n) - 1n });
    expect(decodeFieldTable(encodeFieldTable(t))).toEqual(t);
    expect(() => fieldTable({ m: new Map() as never })).toThrow(EncodeError);
    expect(() => fieldTable({ u: new Uint16Array(2) as never })).toThrow(EncodeError);
    expect(() => fieldTable({ f: (() => 1) as never })).toThrow(EncodeError);
  });

  it('shows tables as JSON-safe plain objects', () => {
    const t = fieldTable({
      n: 1,
      big: 2n ** 60n,
      d: typed('D', { scale: 2, value: -5 }),
      x: new Uint8Array([0xab, 1]),
      inf: Infinity,
      list: [true],
      sub: { a: 'b' },
    });
    const plain = fieldTableToPlain(t);
    expect(plain).toEqual({ n: 1, big: '1152921504606846976', d: '-0.05', x: { $bytes: 'ab01' }, inf: 'Infinity', list: [true], sub: { a: 'b' } });
    expect(JSON.parse(JSON.stringify(plain))).toEqual(plain);
    expect(fieldTableToPlain({ entries: [['__proto__', { type: 'B', value: 1 }]] })).toHaveProperty('__proto__', 1);
    expect(fieldValueToJson({ type: 'S', value: new Uint8Array([0xff]) })).toEqual({ $bytes: 'ff' });
    expect(decimalToString({ scale: 0, value: 42 })).toBe('42');
    expect(decimalToString({ scale: 3, value: 5 })).toBe('0.005');
  });

  it('sets keys and recognises tables', () => {
    const t = tableSet(fieldTable({ a: 1, b: 2 }), 'a', { type: 'V', value: null });
    expect(t.entries.map(([k, v]) => [k, v.type])).toEqual([
      ['a', 'V'],
      ['b', 'I'],
    ]);
    expect(isFieldTable(t)).toBe(true);
    expect(isFieldTable(new Uint8Array(1))).toBe(false);
    expect(isFieldTable('x')).toBe(false);
  });
});
