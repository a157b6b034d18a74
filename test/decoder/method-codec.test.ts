import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../src/decoder/encode-error.js';
import { DecodeError } from '../../src/decoder/errors.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import { decodeMethod, encodeMethod, methodArgsWithDefaults } from '../../src/decoder/method-codec.js';
import { METHODS, isMethod, methodByName } from '../../src/decoder/spec.js';
import type { ArgumentValue, SpecFieldType } from '../../src/decoder/types.js';
import { argumentsArb, canonicalArgument } from './arbitraries.js';

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

const ZERO: Record<SpecFieldType, ArgumentValue> = {
  bit: false,
  octet: 0,
  short: 0,
  long: 0,
  longlong: 0n,
  timestamp: 0n,
  shortstr: '',
  longstr: '',
  table: { entries: [] },
};

describe('method codec: golden vectors (laid out by hand from the spec)', () => {
  it('queue.declare: ticket, queue, five bits packed LSB first into one octet, table', () => {
    const bytes = encodeMethod('queue.declare', { queue: 'q', durable: true, 'auto-delete': true });
    // class 50, method 10 | ticket 0 | shortstr "q" | bits: passive0 durable1 exclusive0 auto-delete1 nowait0 | empty table
    expect(hex(bytes)).toBe('0032000a' + '0000' + '0171' + '0a' + '00000000');
    expect(decodeMethod(bytes).args).toEqual({
      ticket: 0,
      queue: 'q',
      passive: false,
      durable: true,
      exclusive: false,
      'auto-delete': true,
      nowait: false,
      arguments: { entries: [] },
    });
  });

  it('basic.publish', () => {
    const bytes = fromHex('003c 0028 | 0000 | 02 6578 | 02 726b | 01');
    const m = decodeMethod(bytes);
    expect(m.name).toBe('basic.publish');
    expect(m.args).toEqual({ ticket: 0, exchange: 'ex', 'routing-key': 'rk', mandatory: true, immediate: false });
    expect(encodeMethod('basic.publish', { exchange: 'ex', 'routing-key': 'rk', mandatory: true })).toEqual(bytes);
  });

  it('basic.deliver: a bit between a longlong and shortstrs', () => {
    const bytes = fromHex('003c 003c | 01 63 | 0000010000000001 | 01 | 00 | 01 6b');
    const m = decodeMethod(bytes);
    expect(m.args).toEqual({ 'consumer-tag': 'c', 'delivery-tag': 2n ** 40n + 1n, redelivered: true, exchange: '', 'routing-key': 'k' });
    if (!isMethod(m, 'basic.deliver')) throw new Error('not basic.deliver');
    expect(m.args['delivery-tag']).toBe(1099511627777n);
    expect(encodeMethod('basic.deliver', m.args)).toEqual(bytes);
  });

  it('connection.tune: short, long, short', () => {
    const bytes = fromHex('000a 001e | 07ff | 00020000 | 003c');
    expect(decodeMethod(bytes).args).toEqual({ 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 });
    expect(encodeMethod('connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 })).toEqual(bytes);
  });

  it('access.request with all defaults: five bits, four of them true', () => {
    expect(hex(encodeMethod('access.request'))).toBe('001e000a' + '052f64617461' + '1e');
  });

  it('exchange.declare: bits passive..nowait are 0..4', () => {
    const bytes = encodeMethod('exchange.declare', { exchange: 'x', type: 'fanout', passive: true, internal: true, nowait: true });
    expect(hex(bytes)).toBe('0028000a' + '0000' + '0178' + '066661' + '6e6f7574' + '19' + '00000000');
  });

  it('connection.start-ok: table, shortstr, binary longstr, shortstr', () => {
    const response = new Uint8Array([0, 0x67, 0, 0x70]);
    const bytes = encodeMethod('connection.start-ok', { 'client-properties': fieldTable({ p: 'x' }), response });
    expect(hex(bytes)).toBe('000a000b' + '00000008' + '0170' + '53' + '00000001' + '78' + '05504c41494e' + '00000004' + '00670070' + '05656e5f5553');
    // valid UTF-8 (NULs included) comes back as a string with the same bytes
    expect(decodeMethod(bytes).args['response']).toBe('\0g\0p');
  });

  it('ignores bits of the octet that no argument uses', () => {
    const m = decodeMethod(fromHex('003c 0028 0000 00 00 fd'));
    expect(m.args).toMatchObject({ mandatory: true, immediate: false });
    expect(hex(encodeMethod('basic.publish', m.args))).toBe('003c0028' + '0000' + '00' + '00' + '01');
  });

  it('basic.ack takes a delivery tag as bigint or number', () => {
    expect(encodeMethod('basic.ack', { 'delivery-tag': 7 })).toEqual(encodeMethod('basic.ack', { 'delivery-tag': 7n }));
    expect(hex(encodeMethod('basic.nack', { 'delivery-tag': 1n, multiple: true }))).toBe('003c0078' + '0000000000000001' + '03');
  });
});

describe('method codec: round trips over every method (property)', () => {
  for (const spec of METHODS) {
    it(spec.name, () => {
      fc.assert(
        fc.property(argumentsArb(spec.fields), (args) => {
          const bytes = encodeMethod(spec, args);
          const decoded = decodeMethod(bytes);
          expect(decoded.spec).toBe(spec);
          expect(decoded.name).toBe(spec.name);
          expect(decoded.classId).toBe(spec.classId);
          expect(decoded.methodId).toBe(spec.methodId);
          const expected: Record<string, ArgumentValue> = {};
          for (const f of spec.fields) expected[f.name] = canonicalArgument(f.type, args[f.name] ?? f.defaultValue ?? ZERO[f.type]);
          expect(decoded.args).toEqual(expected);
          expect(Object.keys(decoded.args)).toEqual(spec.fields.map((f) => f.name));
          expect(encodeMethod(spec, decoded.args)).toEqual(bytes);
        }),
        { numRuns: 25 },
      );
    });
  }
});

describe('method codec: bad input', () => {
  it('names unknown class/method ids', () => {
    for (const [classId, methodId] of [
      [60, 41],
      [99, 10],
      [0, 0],
      [0xffff, 0xffff],
    ] as const) {
      const e = decodeError(() => decodeMethod(new Uint8Array([classId >> 8, classId & 0xff, methodId >> 8, methodId & 0xff])));
      expect(e.code).toBe('unknown-method');
      expect(e.offset).toBe(0);
      expect(e.context).toEqual({ classId, methodId });
    }
  });

  it('every strict prefix of a valid payload is truncated, with the ids in context', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...METHODS).chain((m) => fc.tuple(fc.constant(m), argumentsArb(m.fields))),
        ([spec, args]) => {
          const bytes = encodeMethod(spec, args);
          for (let cut = 0; cut < bytes.length; cut++) {
            const e = decodeError(() => decodeMethod(bytes.subarray(0, cut)));
            expect(e.code).toBe('truncated');
            expect(e.offset).toBeLessThanOrEqual(cut);
            if (cut >= 4) expect(e.context).toMatchObject({ classId: spec.classId, methodId: spec.methodId });
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reports trailing bytes at their offset', () => {
    const ok = encodeMethod('basic.ack', { 'delivery-tag': 1n });
    const withExtra = new Uint8Array([...ok, 0]);
    const e = decodeError(() => decodeMethod(withExtra));
    expect(e.code).toBe('trailing-bytes');
    expect(e.offset).toBe(ok.length);
    expect(e.context).toEqual({ classId: 60, methodId: 80 });
  });

  it('names the argument that runs past the end', () => {
    const e = decodeError(() => decodeMethod(fromHex('003c 0028 0000 02 65')));
    expect(e.code).toBe('truncated');
    expect(e.offset).toBe(6);
    expect(e.message).toContain('basic.publish exchange (shortstr)');
  });

  it('random bytes after known ids decode or throw a DecodeError, never anything else', () => {
    fc.assert(
      fc.property(fc.constantFrom(...METHODS), fc.uint8Array({ maxLength: 48 }), (spec, tail) => {
        const bytes = new Uint8Array([spec.classId >> 8, spec.classId & 0xff, spec.methodId >> 8, spec.methodId & 0xff, ...tail]);
        try {
          const m = decodeMethod(bytes);
          expect(m.spec).toBe(spec);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('method codec: encoding', () => {
  it('fills missing arguments with spec defaults, else zero values', () => {
    expect(methodArgsWithDefaults('basic.nack', { 'delivery-tag': 3 })).toEqual({ 'delivery-tag': 3n, multiple: false, requeue: true });
    expect(decodeMethod(encodeMethod('connection.start')).args).toEqual({
      'version-major': 0,
      'version-minor': 9,
      'server-properties': { entries: [] },
      mechanisms: 'PLAIN',
      locales: 'en_US',
    });
    expect(decodeMethod(encodeMethod('connection.close')).args).toEqual({ 'reply-code': 0, 'reply-text': '', 'class-id': 0, 'method-id': 0 });
  });

  it('accepts a MethodSpec as well as a name', () => {
    expect(encodeMethod(methodByName('tx.select'))).toEqual(new Uint8Array([0, 90, 0, 10]));
  });

  it('refuses values that do not fit, naming the method and argument', () => {
    const cases: [() => unknown, string, string][] = [
      [() => encodeMethod('basic.publish', { 'routing-key': 'r'.repeat(256) }), 'string-too-long', 'routing-key'],
      [() => encodeMethod('basic.qos', { 'prefetch-count': 65536 }), 'value-out-of-range', 'prefetch-count'],
      [() => encodeMethod('basic.qos', { 'prefetch-size': -1 }), 'value-out-of-range', 'prefetch-size'],
      [() => encodeMethod('basic.ack', { 'delivery-tag': 2n ** 64n }), 'value-out-of-range', 'delivery-tag'],
      [() => encodeMethod('basic.ack', { 'delivery-tag': 1.5 }), 'value-out-of-range', 'delivery-tag'],
      [() => encodeMethod('basic.ack', { multiple: 1 as unknown as boolean }), 'value-out-of-range', 'multiple'],
      [() => encodeMethod('queue.declare', { arguments: { 'x-max-length': 1 } as never }), 'bad-value', 'arguments'],
      [() => encodeMethod('basic.publish', { routingKey: 'x' } as never), 'bad-value', 'routingKey'],
    ];
    for (const [fn, code, field] of cases) {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(EncodeError);
      expect((error as EncodeError).code).toBe(code);
      expect((error as EncodeError).context.field).toBe(field);
    }
    expect(() => encodeMethod('basic.bogus' as never)).toThrow(EncodeError);
  });
});
