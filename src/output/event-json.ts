// Events as JSON objects: the recording schema, also printed by `--json`. Raw bytes are
// base64 and are the source of truth; the decoded form is for people and jq. 64-bit integers
// beyond 2^53 are strings, never rounded.

import { isFieldTable } from '../decoder/field-table.js';
import type { ArgumentValue, DecodedFrame, DecodedMethod, FieldValue } from '../decoder/types.js';
import type { SpyEvent } from '../events.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

export function bigintToJson(value: bigint): number | string {
  return value <= MAX_SAFE && value >= MIN_SAFE ? Number(value) : value.toString();
}

export function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A decoded value for people: tables as objects, bytes as `{ "base64": ... }`. */
export function valueToJson(value: ArgumentValue | FieldValue['value']): Json {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return bigintToJson(value);
  if (value instanceof Uint8Array) return { base64: base64(value) };
  if (Array.isArray(value)) return (value as readonly FieldValue[]).map((v) => valueToJson(v.value));
  if (isFieldTable(value)) {
    const out: { [key: string]: Json } = {};
    for (const [key, v] of value.entries) out[key] = valueToJson(v.value);
    return out;
  }
  const decimal = value as { scale: number; value: number };
  return { scale: decimal.scale, value: decimal.value };
}

function recordToJson(values: Readonly<Record<string, ArgumentValue>>): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(values)) out[key] = valueToJson(values[key]!);
  return out;
}

export function methodToJson(method: DecodedMethod): { [key: string]: Json } {
  return { name: method.name, classId: method.classId, methodId: method.methodId, args: recordToJson(method.args) };
}

export function frameToJson(frame: DecodedFrame): { [key: string]: Json } {
  switch (frame.type) {
    case 'method':
      return { type: 'method', method: methodToJson(frame.method) };
    case 'header':
      return {
        type: 'header',
        classId: frame.header.classId,
        weight: frame.header.weight,
        bodySize: bigintToJson(frame.header.bodySize),
        properties: recordToJson(frame.header.properties),
      };
    case 'body':
      return { type: 'body', size: frame.body.length };
    case 'heartbeat':
      return { type: 'heartbeat' };
  }
}

/** One event as a JSON object in the recording schema. */
export function eventToJson(event: SpyEvent): { [key: string]: Json } {
  const base = { seq: event.seq, ts: event.ts, conn: event.conn, kind: event.kind };
  switch (event.kind) {
    case 'conn.open':
      return { ...base, client: { ...event.client }, server: { ...event.server } };
    case 'conn.close':
      return {
        ...base,
        reason: event.reason,
        ...(event.socket ? { socket: { ...event.socket } } : {}),
        unanswered: event.unanswered.map((u) => ({ ...u })),
        unacked: event.unacked,
        unconfirmed: event.unconfirmed,
      };
    case 'protocol-header':
      return { ...base, dir: event.dir, offset: event.offset, protocol: event.header.protocol, version: [...event.header.version], raw: base64(event.raw) };
    case 'frame':
      return {
        ...base,
        dir: event.dir,
        channel: event.channel,
        offset: event.offset,
        raw: base64(event.raw),
        frame: frameToJson(event.frame),
        ...(event.insight ? { insight: event.insight as unknown as Json } : {}),
        ...(event.fault !== undefined ? { fault: event.fault } : {}),
        ...(event.bodyOmitted !== undefined ? { bodyOmitted: event.bodyOmitted } : {}),
      };
    case 'message':
      return {
        ...base,
        dir: event.dir,
        channel: event.channel,
        method: methodToJson(event.method),
        properties: recordToJson(event.properties),
        bodySize: event.body.length,
        body: base64(event.body),
        frames: [...event.frames],
        ...(event.insight ? { insight: event.insight as unknown as Json } : {}),
        ...(event.incomplete !== undefined ? { incomplete: event.incomplete } : {}),
        ...(event.fault !== undefined ? { fault: event.fault } : {}),
        ...(event.bodyOmitted !== undefined ? { bodyOmitted: event.bodyOmitted } : {}),
      };
    case 'decode.error':
      return { ...base, dir: event.dir, error: { ...event.error }, stopped: event.stopped, ...(event.raw ? { raw: base64(event.raw) } : {}) };
    case 'bytes':
      return event.data !== undefined
        ? { ...base, dir: event.dir, offset: event.offset, data: base64(event.data) }
        : { ...base, dir: event.dir, offset: event.offset, withheld: event.withheld ?? 0 };
  }
}

/** JSON.stringify with bigint (e.g. inside insight) as numbers or strings. */
export function stringifyEvent(event: SpyEvent): string {
  return JSON.stringify(eventToJson(event), (_key, value: unknown) => (typeof value === 'bigint' ? bigintToJson(value) : value));
}
