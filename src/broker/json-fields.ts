// Field tables as RabbitMQ's HTTP API and definitions files write them: JSON objects whose
// integers are AMQP longs, fractions doubles, strings longstrs, arrays and objects arrays and
// tables, null void (rabbit_mgmt_format / rabbit_misc:json_to_amqp_table).

import type { FieldTable, FieldValue } from '../decoder/types.js';
import { amqpStringText, sortedEntries } from './field-values.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON value as an AMQP field value; `where` names it in the thrown message. */
export function jsonToField(value: unknown, where: string): FieldValue {
  if (value === null) return { type: 'V', value: null };
  switch (typeof value) {
    case 'boolean':
      return { type: 't', value };
    case 'string':
      return { type: 'S', value };
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${where}: ${value} is not a finite number`);
      return Number.isInteger(value) ? { type: 'l', value: BigInt(value) } : { type: 'd', value };
    case 'object':
      if (Array.isArray(value)) return { type: 'A', value: value.map((v, i) => jsonToField(v, `${where}[${i}]`)) };
      return { type: 'F', value: jsonToTable(value, where) };
    default:
      throw new TypeError(`${where}: a ${typeof value} is not a JSON value`);
  }
}

/** A JSON object as a field table; undefined gives an empty one. */
export function jsonToTable(value: unknown, where: string): FieldTable {
  if (value === undefined) return { entries: [] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError(`${where}: expected an object, got ${jsonTypeName(value)}`);
  return { entries: Object.entries(value).map(([k, v]) => [k, jsonToField(v, `${where}.${k}`)] as const) };
}

export function fieldToJson(v: FieldValue): Json {
  switch (v.type) {
    case 't':
      return v.value;
    case 'S':
      return amqpStringText(v.value);
    case 'x':
      return Buffer.from(v.value).toString('base64');
    case 'l':
    case 'L':
    case 'T':
      return Number(v.value);
    case 'D':
      return v.value.value / 10 ** v.value.scale;
    case 'A':
      return v.value.map(fieldToJson);
    case 'F':
      return tableToJson(v.value);
    case 'V':
      return null;
    default:
      return v.value;
  }
}

export function tableToJson(t: FieldTable | undefined): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of t?.entries ?? []) if (!Object.hasOwn(out, k)) out[k] = fieldToJson(v);
  return out;
}

/** `an array`, `a string`, `null`: for error lines. */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/** Declaration arguments as RabbitMQ shows them: it keeps them sorted by key. */
export function argumentsJson(t: FieldTable | undefined): { [key: string]: Json } {
  return tableToJson(t === undefined ? undefined : { entries: sortedEntries(t) });
}
