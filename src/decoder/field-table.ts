// Field tables and arrays (AMQP 0-9-1 §4.2.5.5 as RabbitMQ implements it), lossless: every
// value keeps the type octet it was read with, duplicate keys are kept, and re-encoding a
// decoded table gives the same bytes. Two exceptions, as values cannot carry them: a boolean
// octet other than 0/1 (read as true, written as 1) and a float32 signalling NaN (quieted by
// the float64 conversion). Plus helpers to build tables from plain JS values and to show them.

import { amqpStringByteLength, keyByteLength, writeAmqpString, writeKey } from './amqp-string.js';
import { EncodeError } from './encode-error.js';
import { PayloadError } from './errors.js';
import type { Decimal, FieldTable, FieldTypeTag, FieldValue } from './types.js';
import { WireReader, WireWriter } from './wire.js';

/** Nesting deeper than this is refused ('too-deep'), so hostile input cannot blow the stack. */
export const MAX_FIELD_NESTING = 64;

/** Every type octet the decoder knows, with the name of its type. */
export const FIELD_TYPES: Readonly<Record<FieldTypeTag, string>> = Object.freeze({
  t: 'boolean',
  b: 'int8',
  B: 'uint8',
  s: 'int16',
  u: 'uint16',
  U: 'int16',
  I: 'int32',
  i: 'uint32',
  l: 'int64',
  L: 'int64',
  f: 'float32',
  d: 'float64',
  D: 'decimal',
  S: 'longstr',
  A: 'array',
  T: 'timestamp',
  F: 'table',
  V: 'void',
  x: 'bytes',
});

const EMPTY_ENTRIES: FieldTable['entries'] = Object.freeze([]);
export const EMPTY_FIELD_TABLE: FieldTable = Object.freeze({ entries: EMPTY_ENTRIES });

// --- decoding ------------------------------------------------------------------------------

/** Decodes a field table with its u32 length prefix; the bytes must hold exactly that table. */
export function decodeFieldTable(bytes: Uint8Array): FieldTable {
  const r = new WireReader(bytes, 0, bytes.length);
  const table = readFieldTable(r, 0);
  if (r.pos !== bytes.length) throw trailing(r.pos, bytes.length, 'field table');
  return table;
}

/** Decodes table entries without a length prefix (as in the SASL AMQPLAIN response). */
export function decodeFieldTableEntries(bytes: Uint8Array): FieldTable {
  const r = new WireReader(bytes, 0, bytes.length);
  return { entries: readEntries(r, bytes.length, 0) };
}

/** Decodes a field array with its u32 length prefix; the bytes must hold exactly that array. */
export function decodeFieldArray(bytes: Uint8Array): FieldValue[] {
  const r = new WireReader(bytes, 0, bytes.length);
  const values = readFieldArray(r, 0);
  if (r.pos !== bytes.length) throw trailing(r.pos, bytes.length, 'field array');
  return values;
}

function trailing(pos: number, length: number, what: string): PayloadError {
  return new PayloadError('trailing-bytes', `${length - pos} bytes after the ${what} at offset ${pos}`, pos);
}

/** Reads a length-prefixed table at the reader's position. */
export function readFieldTable(r: WireReader, depth: number, what = 'field table'): FieldTable {
  const at = r.pos;
  const size = r.u32(what);
  const end = r.pos + size;
  if (end > r.end) throw r.truncated(what, at, 4 + size);
  const outerEnd = r.end;
  r.end = end;
  const entries = size === 0 ? EMPTY_ENTRIES : readEntries(r, end, depth);
  r.end = outerEnd;
  return { entries };
}

function readEntries(r: WireReader, end: number, depth: number): [string, FieldValue][] {
  if (depth >= MAX_FIELD_NESTING) throw tooDeep(r.pos);
  const entries: [string, FieldValue][] = [];
  // Every entry consumes at least its key length octet and type octet, so this ends.
  while (r.pos < end) {
    const key = r.key();
    entries.push([key, readFieldValue(r, depth)]);
  }
  return entries;
}

function readFieldArray(r: WireReader, depth: number): FieldValue[] {
  const at = r.pos;
  const size = r.u32('field array length');
  const end = r.pos + size;
  if (end > r.end) throw r.truncated('field array', at, 4 + size);
  if (depth >= MAX_FIELD_NESTING) throw tooDeep(at);
  const outerEnd = r.end;
  r.end = end;
  const values: FieldValue[] = [];
  while (r.pos < end) values.push(readFieldValue(r, depth));
  r.end = outerEnd;
  return values;
}

function tooDeep(at: number): PayloadError {
  return new PayloadError('too-deep', `field tables/arrays nested more than ${MAX_FIELD_NESTING} levels at offset ${at}`, at);
}

/** Reads a type octet and its value. */
export function readFieldValue(r: WireReader, depth: number): FieldValue {
  const at = r.pos;
  const tag = r.u8('field type');
  const b = r.bytes;
  switch (tag) {
    case 0x74: // t
      return { type: 't', value: r.u8('boolean') !== 0 };
    case 0x62: // b
      return { type: 'b', value: (r.u8('int8') << 24) >> 24 };
    case 0x42: // B
      return { type: 'B', value: r.u8('uint8') };
    case 0x73: // s (int16, as RabbitMQ; the PDF's short string is not used)
      return { type: 's', value: (r.u16('int16') << 16) >> 16 };
    case 0x55: // U (int16 in the PDF)
      return { type: 'U', value: (r.u16('int16') << 16) >> 16 };
    case 0x75: // u
      return { type: 'u', value: r.u16('uint16') };
    case 0x49: // I
      return { type: 'I', value: r.u32('int32') | 0 };
    case 0x69: // i
      return { type: 'i', value: r.u32('uint32') };
    case 0x6c: // l
      return { type: 'l', value: r.i64('int64') };
    case 0x4c: // L (int64 in the PDF)
      return { type: 'L', value: r.i64('int64') };
    case 0x66: // f
      return { type: 'f', value: r.f32('float32') };
    case 0x64: // d
      return { type: 'd', value: r.f64('float64') };
    case 0x44: {
      // D
      r.need(5, 'decimal');
      const scale = b[r.pos]!;
      r.pos += 1;
      const value: Decimal = { scale, value: r.u32('decimal') | 0 };
      return { type: 'D', value };
    }
    case 0x53: // S
      return { type: 'S', value: r.longstr('longstr') };
    case 0x41: // A
      return { type: 'A', value: readFieldArray(r, depth + 1) };
    case 0x54: // T
      return { type: 'T', value: r.u64('timestamp') };
    case 0x46: // F
      return { type: 'F', value: readFieldTable(r, depth + 1) };
    case 0x56: // V
      return { type: 'V', value: null };
    case 0x78: {
      // x
      const size = r.u32('byte array length');
      return { type: 'x', value: r.copy(size, 'byte array', at + 1) };
    }
    default:
      throw new PayloadError('unknown-field-type', `unknown field type ${describeOctet(tag)} at offset ${at}`, at);
  }
}

function describeOctet(octet: number): string {
  const hex = `0x${octet.toString(16).padStart(2, '0')}`;
  return octet >= 0x21 && octet < 0x7f ? `'${String.fromCharCode(octet)}' (${hex})` : hex;
}

// --- encoding ------------------------------------------------------------------------------

export function encodeFieldTable(table: FieldTable): Uint8Array {
  const w = new WireWriter(new Uint8Array(fieldTableSize(table)));
  writeFieldTable(w, table);
  return w.bytes;
}

/** Table entries without the length prefix (SASL AMQPLAIN). */
export function encodeFieldTableEntries(table: FieldTable): Uint8Array {
  const w = new WireWriter(new Uint8Array(fieldTableSize(table) - 4));
  writeEntries(w, table);
  return w.bytes;
}

export function encodeFieldArray(values: readonly FieldValue[]): Uint8Array {
  const w = new WireWriter(new Uint8Array(fieldArraySize(values, 0)));
  writeFieldArray(w, values);
  return w.bytes;
}

/** Bytes the table takes on the wire, length prefix included. Checks every value. */
export function fieldTableSize(table: FieldTable, depth = 0): number {
  if (depth >= MAX_FIELD_NESTING) throw new EncodeError('bad-value', `field tables nested more than ${MAX_FIELD_NESTING} levels`);
  let size = 4;
  for (const [key, value] of table.entries) {
    const keySize = keyByteLength(key);
    if (keySize > 255) throw new EncodeError('string-too-long', `field-table key of ${keySize} bytes (max 255)`, { field: key });
    size += 1 + keySize + fieldValueSize(value, depth, key);
  }
  return size;
}

function fieldArraySize(values: readonly FieldValue[], depth: number): number {
  if (depth >= MAX_FIELD_NESTING) throw new EncodeError('bad-value', `field arrays nested more than ${MAX_FIELD_NESTING} levels`);
  let size = 4;
  for (const v of values) size += fieldValueSize(v, depth, '[]');
  return size;
}

function checkInteger(v: unknown, min: number, max: number, tag: string, key: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError('value-out-of-range', `field '${key}' of type '${tag}' must be an integer in [${min}, ${max}], got ${String(v)}`, { field: key });
  }
}

function checkBigInt(v: unknown, min: bigint, max: bigint, tag: string, key: string): void {
  if (typeof v !== 'bigint' || v < min || v > max) {
    throw new EncodeError('value-out-of-range', `field '${key}' of type '${tag}' must be a bigint in [${min}, ${max}], got ${String(v)}`, { field: key });
  }
}

function badValue(tag: string, key: string, v: unknown): EncodeError {
  return new EncodeError('bad-value', `field '${key}' of type '${tag}' cannot hold ${typeof v}`, { field: key });
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Bytes of a value with its type octet; throws EncodeError for values the tag cannot hold. */
function fieldValueSize(f: FieldValue, depth: number, key: string): number {
  const v: unknown = f.value;
  switch (f.type) {
    case 't':
      if (typeof v !== 'boolean') throw badValue(f.type, key, v);
      return 2;
    case 'b':
      checkInteger(v, -128, 127, f.type, key);
      return 2;
    case 'B':
      checkInteger(v, 0, 255, f.type, key);
      return 2;
    case 's':
    case 'U':
      checkInteger(v, -32768, 32767, f.type, key);
      return 3;
    case 'u':
      checkInteger(v, 0, 65535, f.type, key);
      return 3;
    case 'I':
      checkInteger(v, -2147483648, 2147483647, f.type, key);
      return 5;
    case 'i':
      checkInteger(v, 0, 4294967295, f.type, key);
      return 5;
    case 'l':
    case 'L':
      checkBigInt(v, INT64_MIN, INT64_MAX, f.type, key);
      return 9;
    case 'T':
      checkBigInt(v, 0n, UINT64_MAX, f.type, key);
      return 9;
    case 'f':
      if (typeof v !== 'number') throw badValue(f.type, key, v);
      return 5;
    case 'd':
      if (typeof v !== 'number') throw badValue(f.type, key, v);
      return 9;
    case 'D': {
      if (typeof v !== 'object' || v === null) throw badValue(f.type, key, v);
      const d = v as Decimal;
      checkInteger(d.scale, 0, 255, 'D (scale)', key);
      checkInteger(d.value, -2147483648, 2147483647, 'D (value)', key);
      return 6;
    }
    case 'S':
      if (typeof v !== 'string' && !(v instanceof Uint8Array)) throw badValue(f.type, key, v);
      return 5 + amqpStringByteLength(v);
    case 'x':
      if (!(v instanceof Uint8Array)) throw badValue(f.type, key, v);
      return 5 + v.length;
    case 'A':
      if (!Array.isArray(v)) throw badValue(f.type, key, v);
      return 1 + fieldArraySize(v as FieldValue[], depth + 1);
    case 'F':
      if (typeof v !== 'object' || v === null || !Array.isArray((v as FieldTable).entries)) throw badValue(f.type, key, v);
      return 1 + fieldTableSize(v as FieldTable, depth + 1);
    case 'V':
      return 1;
    default:
      throw new EncodeError('bad-value', `field '${key}' has unknown type tag ${JSON.stringify((f as { type: unknown }).type)}`, { field: key });
  }
}

/** Writes a table with its length prefix (sizes must have been checked by fieldTableSize). */
export function writeFieldTable(w: WireWriter, table: FieldTable): void {
  const lengthAt = w.pos;
  w.pos += 4;
  writeEntries(w, table);
  const size = w.pos - lengthAt - 4;
  const b = w.bytes;
  b[lengthAt] = size >>> 24;
  b[lengthAt + 1] = size >>> 16;
  b[lengthAt + 2] = size >>> 8;
  b[lengthAt + 3] = size;
}

function writeEntries(w: WireWriter, table: FieldTable): void {
  const b = w.bytes;
  for (const [key, value] of table.entries) {
    const keyAt = w.pos;
    w.pos = writeKey(key, b, keyAt + 1);
    b[keyAt] = w.pos - keyAt - 1;
    writeFieldValue(w, value);
  }
}

function writeFieldArray(w: WireWriter, values: readonly FieldValue[]): void {
  const lengthAt = w.pos;
  w.pos += 4;
  for (const v of values) writeFieldValue(w, v);
  const size = w.pos - lengthAt - 4;
  const b = w.bytes;
  b[lengthAt] = size >>> 24;
  b[lengthAt + 1] = size >>> 16;
  b[lengthAt + 2] = size >>> 8;
  b[lengthAt + 3] = size;
}

function writeFieldValue(w: WireWriter, f: FieldValue): void {
  w.u8(f.type.charCodeAt(0));
  switch (f.type) {
    case 't':
      w.u8(f.value ? 1 : 0);
      return;
    case 'b':
    case 'B':
      w.u8(f.value & 0xff);
      return;
    case 's':
    case 'U':
    case 'u':
      w.u16(f.value & 0xffff);
      return;
    case 'I':
    case 'i':
      w.u32(f.value >>> 0);
      return;
    case 'l':
    case 'L':
      w.i64(f.value);
      return;
    case 'T':
      w.u64(f.value);
      return;
    case 'f':
      w.f32(f.value);
      return;
    case 'd':
      w.f64(f.value);
      return;
    case 'D':
      w.u8(f.value.scale);
      w.u32(f.value.value >>> 0);
      return;
    case 'S': {
      const at = w.pos;
      w.pos = writeAmqpString(f.value, w.bytes, at + 4);
      const size = w.pos - at - 4;
      w.bytes[at] = size >>> 24;
      w.bytes[at + 1] = size >>> 16;
      w.bytes[at + 2] = size >>> 8;
      w.bytes[at + 3] = size;
      return;
    }
    case 'x':
      w.u32(f.value.length);
      w.bytes.set(f.value, w.pos);
      w.pos += f.value.length;
      return;
    case 'A':
      writeFieldArray(w, f.value);
      return;
    case 'F':
      writeFieldTable(w, f.value);
      return;
    case 'V':
      return;
  }
}

// --- building tables from JS values ----------------------------------------------------------

/** A value with an explicit type tag, for `fieldTable` inputs (see `typed`). */
export class TypedField {
  constructor(readonly field: FieldValue) {}
}

/** The value type a tag carries, e.g. `FieldValueOf<'T'>` is bigint. */
export type FieldValueOf<T extends FieldTypeTag> = FieldValue extends infer V
  ? V extends { readonly type: infer U; readonly value: infer X }
    ? T extends U
      ? X
      : never
    : never
  : never;

/** Forces a type tag: `fieldTable({ ts: typed('T', 1700000000n), n: typed('b', -1) })`. */
export function typed<T extends FieldTypeTag>(type: T, value: FieldValueOf<T>): TypedField {
  return new TypedField({ type, value } as FieldValue);
}

export type FieldInput =
  | string
  | boolean
  | number
  | bigint
  | null
  | Uint8Array
  | Date
  | FieldTable
  | TypedField
  | readonly FieldInput[]
  | { readonly [key: string]: FieldInput };

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Whether an argument or property value is a FieldTable (not a string or bytes). */
export function isFieldTable(v: unknown): v is FieldTable {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && Array.isArray((v as FieldTable).entries);
}

function looksLikeFieldTable(v: object): v is FieldTable {
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === 'entries' && Array.isArray((v as FieldTable).entries);
}

/**
 * Infers a tagged value: string→S, boolean→t, integer→I (int32) or l (other safe integers),
 * other number→d, bigint→l, Uint8Array→x, Date→T (seconds), array→A, FieldTable (an object
 * whose only key is `entries`) or plain object→F, null→V, `typed(...)` as given.
 */
export function fieldValue(input: FieldInput): FieldValue {
  switch (typeof input) {
    case 'string':
      return { type: 'S', value: input };
    case 'boolean':
      return { type: 't', value: input };
    case 'bigint':
      return { type: 'l', value: input };
    case 'number':
      if (Number.isInteger(input) && !Object.is(input, -0)) {
        if (input >= INT32_MIN && input <= INT32_MAX) return { type: 'I', value: input };
        if (Number.isSafeInteger(input)) return { type: 'l', value: BigInt(input) };
      }
      return { type: 'd', value: input };
    case 'object':
      if (input === null) return { type: 'V', value: null };
      if (input instanceof TypedField) return input.field;
      if (input instanceof Uint8Array) return { type: 'x', value: input };
      if (input instanceof Date) return { type: 'T', value: BigInt(Math.floor(input.getTime() / 1000)) };
      if (Array.isArray(input)) return { type: 'A', value: (input as readonly FieldInput[]).map(fieldValue) };
      if (looksLikeFieldTable(input)) return { type: 'F', value: input };
      if (!isPlainObject(input)) {
        throw new EncodeError('bad-value', `cannot put a ${input.constructor?.name ?? 'non-plain object'} in a field table`);
      }
      return { type: 'F', value: fieldTable(input as { readonly [key: string]: FieldInput }) };
    default:
      throw new EncodeError('bad-value', `cannot put a ${typeof input} in a field table`);
  }
}

/** Builds a table from a plain object, inferring tags (see `fieldValue`). Keys keep their order. */
export function fieldTable(object: { readonly [key: string]: FieldInput } = {}): FieldTable {
  const entries: [string, FieldValue][] = [];
  for (const key of Object.keys(object)) entries.push([key, fieldValue(object[key]!)]);
  return { entries };
}

/** The first value under `key`, as brokers read it (RabbitMQ takes the first of duplicates). */
export function tableGet(table: FieldTable, key: string): FieldValue | undefined {
  for (const [k, v] of table.entries) if (k === key) return v;
  return undefined;
}

/** The first value under `key` as text, when it is a string (`S`; bytes that are not UTF-8 are read as UTF-8). */
export function tableString(table: FieldTable, key: string): string | undefined {
  const v = tableGet(table, key);
  if (v?.type !== 'S') return undefined;
  return typeof v.value === 'string' ? v.value : Buffer.from(v.value.buffer, v.value.byteOffset, v.value.length).toString('utf8');
}

/** A copy of the table with `key` set (replacing every entry of that key, in place of the first). */
export function tableSet(table: FieldTable, key: string, value: FieldValue): FieldTable {
  const entries: [string, FieldValue][] = [];
  let placed = false;
  for (const [k, v] of table.entries) {
    if (k !== key) entries.push([k, v]);
    else if (!placed) {
      entries.push([k, value]);
      placed = true;
    }
  }
  if (!placed) entries.push([key, value]);
  return { entries };
}

// --- display -------------------------------------------------------------------------------

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** `{ scale: 2, value: 12345 }` → `"123.45"` */
export function decimalToString(d: Decimal): string {
  const negative = d.value < 0;
  const digits = Math.abs(d.value)
    .toString()
    .padStart(d.scale + 1, '0');
  const cut = digits.length - d.scale;
  const text = d.scale === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${text}` : text;
}

/**
 * JSON-safe form for display: bigints and decimals as strings, non-finite floats as strings,
 * bytes (and longstrs that are not UTF-8) as `{ $bytes: "<hex>" }`, tables as objects (the
 * first of duplicate keys wins, as in `tableGet`).
 */
export function fieldValueToJson(f: FieldValue): JsonValue {
  switch (f.type) {
    case 'l':
    case 'L':
    case 'T':
      return f.value.toString();
    case 'f':
    case 'd':
      return Number.isFinite(f.value) ? f.value : String(f.value);
    case 'D':
      return decimalToString(f.value);
    case 'S':
      return typeof f.value === 'string' ? f.value : { $bytes: hex(f.value) };
    case 'x':
      return { $bytes: hex(f.value) };
    case 'A':
      return f.value.map(fieldValueToJson);
    case 'F':
      return fieldTableToPlain(f.value);
    case 'V':
      return null;
    default:
      return f.value;
  }
}

export function fieldTableToPlain(table: FieldTable): { [key: string]: JsonValue } {
  const out: { [key: string]: JsonValue } = {};
  for (const [k, v] of table.entries) {
    if (Object.hasOwn(out, k)) continue;
    // defineProperty, so a key named `__proto__` is data, not the prototype
    Object.defineProperty(out, k, { value: fieldValueToJson(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
