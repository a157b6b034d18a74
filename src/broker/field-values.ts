// Field-table helpers the broker needs: lookup, RabbitMQ's type names, Erlang-style value
// equality (headers matching, argument equivalence) and Erlang-style printing for error texts.
// Private to the broker until the decoder's shared helpers exist.

import type { AmqpString, FieldTable, FieldTypeTag, FieldValue } from '../decoder/types.js';

export const EMPTY_TABLE: FieldTable = { entries: [] };

/** First value stored under `key` (the wire allows duplicates; RabbitMQ's lookup takes the first). */
export function lookup(table: FieldTable | undefined, key: string): FieldValue | undefined {
  if (table === undefined) return undefined;
  for (const [k, v] of table.entries) if (k === key) return v;
  return undefined;
}

/** The atom RabbitMQ uses for each type tag (as printed in its error texts). */
export function erlangTypeName(tag: FieldTypeTag): string {
  switch (tag) {
    case 't':
      return 'bool';
    case 'b':
      return 'byte';
    case 'B':
      return 'unsignedbyte';
    case 's':
      return 'short';
    case 'u':
      return 'unsignedshort';
    case 'U':
      return 'short';
    case 'I':
      return 'signedint';
    case 'i':
      return 'unsignedint';
    case 'l':
      return 'long';
    case 'L':
      return 'long';
    case 'f':
      return 'float';
    case 'd':
      return 'double';
    case 'D':
      return 'decimal';
    case 'S':
      return 'longstr';
    case 'A':
      return 'array';
    case 'T':
      return 'timestamp';
    case 'F':
      return 'table';
    case 'V':
      return 'void';
    case 'x':
      return 'binary';
  }
}

const INTEGER_TAGS: ReadonlySet<FieldTypeTag> = new Set(['b', 'B', 's', 'u', 'U', 'I', 'i', 'l', 'L']);

export function isIntegerValue(v: FieldValue): boolean {
  return INTEGER_TAGS.has(v.type);
}

/** Integer value of an integer-typed field, exact as bigint. */
export function integerOf(v: FieldValue): bigint | undefined {
  switch (v.type) {
    case 'b':
    case 'B':
    case 's':
    case 'u':
    case 'U':
    case 'I':
    case 'i':
      return BigInt(v.value);
    case 'l':
    case 'L':
      return v.value;
    default:
      return undefined;
  }
}

/** RabbitMQ's `type_class`: integer types compare with each other, so do float types. */
export function typeClass(tag: FieldTypeTag): string {
  if (INTEGER_TAGS.has(tag) || tag === 'D') return 'int';
  if (tag === 'f' || tag === 'd') return 'float';
  return erlangTypeName(tag);
}

function bytesOf(s: AmqpString): Uint8Array {
  return typeof s === 'string' ? new TextEncoder().encode(s) : s;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function amqpStringEqual(a: AmqpString, b: AmqpString): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  return bytesEqual(bytesOf(a), bytesOf(b));
}

/** An AMQP string as text (invalid UTF-8 replaced), for names and error messages. */
export function amqpStringText(s: AmqpString): string {
  return typeof s === 'string' ? s : new TextDecoder().decode(s);
}

/** Numeric view used by Erlang's `==` (integers, floats and timestamps are all numbers there). */
function numericOf(v: FieldValue): number | bigint | undefined {
  switch (v.type) {
    case 'b':
    case 'B':
    case 's':
    case 'u':
    case 'U':
    case 'I':
    case 'i':
    case 'f':
    case 'd':
      return v.value;
    case 'l':
    case 'L':
    case 'T':
      return v.value;
    default:
      return undefined;
  }
}

function numbersEqual(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  // mixed: compare exactly when the number is an integer, else they differ
  const n = typeof a === 'number' ? a : (b as number);
  const big = typeof a === 'bigint' ? a : (b as bigint);
  return Number.isInteger(n) && BigInt(n) === big;
}

/**
 * Equality of two values the way RabbitMQ compares the bare Erlang terms (`PV == DV`):
 * numbers by value whatever their width (1 == 1.0), strings and byte arrays by bytes,
 * booleans, and arrays/tables element-wise with their type tags.
 */
export function valuesEqual(a: FieldValue, b: FieldValue): boolean {
  const na = numericOf(a);
  const nb = numericOf(b);
  if (na !== undefined || nb !== undefined) return na !== undefined && nb !== undefined && numbersEqual(na, nb);
  const aStr = a.type === 'S' || a.type === 'x';
  const bStr = b.type === 'S' || b.type === 'x';
  if (aStr || bStr) return aStr && bStr && amqpStringEqual(a.value as AmqpString, b.value as AmqpString);
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 't':
      return a.value === (b as typeof a).value;
    case 'V':
      return true;
    case 'D': {
      const d = (b as typeof a).value;
      return a.value.scale === d.scale && a.value.value === d.value;
    }
    case 'A': {
      const other = (b as typeof a).value;
      return a.value.length === other.length && a.value.every((x, i) => taggedEqual(x, other[i]!));
    }
    case 'F':
      return tablesEqual(a.value, (b as typeof a).value);
    default:
      return false;
  }
}

/** Inside arrays and tables RabbitMQ compares `{Type, Value}` tuples: the type names must match too. */
function taggedEqual(a: FieldValue, b: FieldValue): boolean {
  return erlangTypeName(a.type) === erlangTypeName(b.type) && valuesEqual(a, b);
}

/** Tables compare as RabbitMQ's sorted lists of `{Key, Type, Value}`. */
export function tablesEqual(a: FieldTable, b: FieldTable): boolean {
  if (a.entries.length !== b.entries.length) return false;
  const sa = sortedEntries(a);
  const sb = sortedEntries(b);
  return sa.every(([k, v], i) => {
    const [k2, v2] = sb[i]!;
    return k === k2 && taggedEqual(v, v2);
  });
}

/** Byte-wise key order, as Erlang sorts binaries. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return Buffer.compare(ba, bb);
}

export function sortedEntries(t: FieldTable): Array<readonly [string, FieldValue]> {
  return [...t.entries].sort((x, y) => compareKeys(x[0], y[0]));
}

/** A stable text key for a table, so bindings with equal arguments get equal identities. */
export function canonicalTableKey(t: FieldTable): string {
  if (t.entries.length === 0) return '';
  return sortedEntries(t)
    .map(([k, v]) => `${k}=${canonicalValueKey(v)}`)
    .join(';');
}

function canonicalValueKey(v: FieldValue): string {
  switch (v.type) {
    case 'A':
      return `${v.type}[${v.value.map(canonicalValueKey).join(',')}]`;
    case 'F':
      return `${v.type}{${canonicalTableKey(v.value)}}`;
    case 'S':
    case 'x':
      return `${v.type}${JSON.stringify(Array.from(bytesOf(v.value)))}`;
    case 'D':
      return `D${v.value.scale}:${v.value.value}`;
    default:
      return `${v.type}${String(v.value)}`;
  }
}

/** Erlang's shortest-float printing is close to JS's; Erlang always shows a fraction. */
function erlangFloat(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  if (/e/.test(s)) {
    const [m, e] = s.split('e');
    return `${m!.includes('.') ? m : `${m}.0`}e${e!.replace('+', '')}`;
  }
  return s.includes('.') ? s : `${s}.0`;
}

/** A value as Erlang's `~tp` prints the bare term (binaries as `<<"...">>`). */
export function erlangTerm(v: FieldValue): string {
  switch (v.type) {
    case 't':
      return String(v.value);
    case 'f':
    case 'd':
      return erlangFloat(v.value);
    case 'S':
    case 'x':
      return `<<${JSON.stringify(amqpStringText(v.value))}>>`;
    case 'V':
      return 'undefined';
    case 'D':
      return `{${v.value.scale},${v.value.value}}`;
    case 'A':
      return `[${v.value.map((x) => `{${erlangTypeName(x.type)},${erlangTerm(x)}}`).join(',')}]`;
    case 'F':
      return `[${v.value.entries.map(([k, x]) => `{<<${JSON.stringify(k)}>>,${erlangTypeName(x.type)},${erlangTerm(x)}}`).join(',')}]`;
    default:
      return String(v.value);
  }
}

/** A value as RabbitMQ prints it inside quotes: binaries as text (`~ts`), other terms as `~tp`. */
export function erlangDisplay(v: FieldValue): string {
  return v.type === 'S' || v.type === 'x' ? amqpStringText(v.value) : erlangTerm(v);
}

export const longstr = (value: string): FieldValue => ({ type: 'S', value });
