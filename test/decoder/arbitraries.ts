// fast-check arbitraries for the codec's value types, shared by the decoder tests.
import fc from 'fast-check';
import { amqpStringFromBytes, amqpStringToBytes } from '../../src/decoder/amqp-string.js';
import type { BasicPropertiesInput } from '../../src/decoder/spec.js';
import { BASIC_PROPERTIES } from '../../src/decoder/spec.js';
import type { AmqpString, ArgumentValue, FieldSpec, FieldTable, FieldValue, SpecFieldType } from '../../src/decoder/types.js';

const utf8 = new TextEncoder();

/** Strings of valid Unicode (no lone surrogates), so they are their UTF-8's decoding. */
export const unicodeString = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom('a', 'Z', '.', '-', '#', '*'),
      fc.constantFrom('é', '€', '😀', '\u0000', '\uFEFF'),
      fc.string({ unit: 'grapheme', maxLength: 1 }),
    ),
    maxLength,
  });

/** Bytes that are not valid UTF-8 (so they stay bytes when decoded). */
export const invalidUtf8 = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(fc.uint8Array({ maxLength: Math.max(0, maxLength - 1) }), fc.constantFrom(0x80, 0xc0, 0xff, 0xed), fc.nat())
    .map(([bytes, bad, at]) => {
      const out = new Uint8Array(bytes.length + 1);
      const i = bytes.length === 0 ? 0 : at % (bytes.length + 1);
      out.set(bytes.subarray(0, i), 0);
      out[i] = bad;
      out.set(bytes.subarray(i), i + 1);
      return out;
    })
    .filter((b) => typeof amqpStringFromBytes(b) !== 'string');

/** A wire string of at most `maxBytes` bytes: text, or bytes that are not UTF-8. */
export const amqpString = (maxBytes: number): fc.Arbitrary<AmqpString> =>
  fc.oneof({ weight: 4, arbitrary: unicodeString(Math.floor(maxBytes / 4)) }, { weight: 1, arbitrary: invalidUtf8(maxBytes) });

const tableKey = fc.oneof(fc.constantFrom('a', 'x-match', 'x-message-ttl', ''), unicodeString(20)).filter((k) => utf8.encode(k).length <= 255);

const int = (min: number, max: number): fc.Arbitrary<number> => fc.integer({ min, max });

export const leafFieldValue: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.boolean().map((value) => ({ type: 't', value }) as const),
  int(-128, 127).map((value) => ({ type: 'b', value }) as const),
  int(0, 255).map((value) => ({ type: 'B', value }) as const),
  int(-32768, 32767).map((value) => ({ type: 's', value }) as const),
  int(-32768, 32767).map((value) => ({ type: 'U', value }) as const),
  int(0, 65535).map((value) => ({ type: 'u', value }) as const),
  int(-(2 ** 31), 2 ** 31 - 1).map((value) => ({ type: 'I', value }) as const),
  int(0, 2 ** 32 - 1).map((value) => ({ type: 'i', value }) as const),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'l', value }) as const),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'L', value }) as const),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ type: 'T', value }) as const),
  fc.float().map((value) => ({ type: 'f', value }) as const),
  fc.double().map((value) => ({ type: 'd', value }) as const),
  fc.record({ scale: int(0, 255), value: int(-(2 ** 31), 2 ** 31 - 1) }).map((value) => ({ type: 'D', value }) as const),
  amqpString(300).map((value) => ({ type: 'S', value }) as const),
  fc.uint8Array({ maxLength: 40 }).map((value) => ({ type: 'x', value }) as const),
  fc.constant({ type: 'V', value: null } as const),
);

export const { fieldValue: fieldValueArb, fieldTable: fieldTableArb } = fc.letrec<{ fieldValue: FieldValue; fieldTable: FieldTable }>((tie) => ({
  fieldValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leafFieldValue,
    fc.array(tie('fieldValue'), { maxLength: 4 }).map((value) => ({ type: 'A', value }) as const),
    tie('fieldTable').map((value) => ({ type: 'F', value }) as const),
  ),
  fieldTable: fc.array(fc.tuple(tableKey, tie('fieldValue')), { maxLength: 5 }).map((entries) => ({ entries })),
}));

/** A value of a spec type, as encoders take it (64-bit values sometimes as numbers). */
export function argumentArb(type: SpecFieldType): fc.Arbitrary<ArgumentValue> {
  switch (type) {
    case 'bit':
      return fc.boolean();
    case 'octet':
      return int(0, 255);
    case 'short':
      return int(0, 65535);
    case 'long':
      return int(0, 2 ** 32 - 1);
    case 'longlong':
    case 'timestamp':
      return fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.maxSafeNat());
    case 'shortstr':
      return amqpString(255).filter((s) => amqpStringToBytes(s).length <= 255);
    case 'longstr':
      return amqpString(600);
    case 'table':
      return fieldTableArb;
  }
}

/** Random arguments for the fields, each present or (sometimes) left to its default. */
export function argumentsArb(fields: readonly FieldSpec[]): fc.Arbitrary<Record<string, ArgumentValue>> {
  const model: Record<string, fc.Arbitrary<ArgumentValue>> = {};
  for (const f of fields) model[f.name] = argumentArb(f.type);
  return fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Record<string, ArgumentValue>>;
}

/** A random subset of the 14 basic properties. */
export const basicPropertiesArb: fc.Arbitrary<BasicPropertiesInput> = argumentsArb(BASIC_PROPERTIES) as fc.Arbitrary<BasicPropertiesInput>;

/** What a value decodes to: strings/bytes as the bytes read back, 64-bit numbers as bigint. */
export function canonicalArgument(type: SpecFieldType, v: ArgumentValue): ArgumentValue {
  if (type === 'longlong' || type === 'timestamp') return typeof v === 'number' ? BigInt(v) : v;
  if (type === 'shortstr' || type === 'longstr') return amqpStringFromBytes(amqpStringToBytes(v as AmqpString));
  if (type === 'table') return canonicalTable(v as FieldTable);
  return v;
}

export function canonicalTable(t: FieldTable): FieldTable {
  return { entries: t.entries.map(([k, v]) => [k, canonicalFieldValue(v)] as const) };
}

export function canonicalFieldValue(v: FieldValue): FieldValue {
  switch (v.type) {
    case 'S':
      return { type: 'S', value: amqpStringFromBytes(amqpStringToBytes(v.value)) };
    case 'A':
      return { type: 'A', value: v.value.map(canonicalFieldValue) };
    case 'F':
      return { type: 'F', value: canonicalTable(v.value) };
    default:
      return v;
  }
}
