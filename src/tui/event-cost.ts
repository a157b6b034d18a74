// What an event costs to keep: an estimate of the heap its decoded form takes plus the bytes
// it holds, so a store bounded by it is bounded in memory whatever the traffic. Counting raw
// bytes alone was off by ~50x for decoded field tables (an object per value: a 128 KiB header
// of one-byte void values took 6.3 MB), which let a few hundred such messages exhaust the heap.
// The figures are upper bounds measured on Node 20 (64-bit, no pointer compression), per
// object including the array slot that points to it; test/tui/event-store-memory.test.ts
// checks them against the heap a store really holds.

import type { FrameEvent, FrameInsight, SpyEvent } from '../events.js';
import type { ArgumentValue, FieldTable, FieldValue } from '../decoder/types.js';

/**
 * An event object with its fields (kind, seq, ts, conn, dir, ...) and its frame object, and
 * the store's slots for it (ring, cost, view).
 */
const EVENT = 256;
/** A Uint8Array object (on the heap; its bytes are counted apart). */
const BYTES_OBJECT = 120;
/** A decoded method or content header: its object and its arguments/properties object. */
const DECODED = 160;
/** One argument or property slot in a decoded object. */
const SLOT = 16;
/** A field value object ({type, value}) and the slot that points to it (measured 46-49). */
const FIELD_VALUE = 56;
/** A boxed number (float, uint32 past the small-integer range) or a bigint. */
const BOXED = 32;
/** A table entry: the [key, value] array and its slot (measured 64-70). */
const ENTRY = 72;
/** A nested array or table object, with its backing store header. */
const CONTAINER = 80;
/** A string's header. */
const STRING = 24;

/** Estimated bytes of memory an event holds: decoded objects plus the bytes it refers to. */
export function eventCost(event: SpyEvent): number {
  switch (event.kind) {
    case 'frame': {
      let cost = EVENT + bytesCost(event.raw) + insightCost(event.insight) + decodedCost(event);
      if (event.secretRaw) cost += bytesCost(event.secretRaw);
      if (event.frame.type === 'body') cost += BYTES_OBJECT; // a view into `raw`
      return cost;
    }
    case 'message':
      // its method and header are its frame events' objects (see decodedCost)
      return (
        EVENT +
        bytesCost(event.body) +
        DECODED +
        recordCost(event.method.args) +
        DECODED +
        recordCost(event.properties) +
        8 * event.frames.length +
        insightCost(event.insight)
      );
    case 'protocol-header':
      return EVENT + 2 * bytesCost(event.raw);
    case 'decode.error':
      return EVENT + stringCost(event.error.text) + (event.raw ? bytesCost(event.raw) : 0);
    case 'bytes': {
      // withheld bytes are held only as secretData, for --record-secrets
      const held = event.data ?? event.secretData;
      return EVENT + (held ? bytesCost(held) : 0);
    }
    case 'conn.open':
      return EVENT + 2 * (CONTAINER + STRING + 40);
    case 'conn.close': {
      let cost = EVENT + stringCost(event.reason) + CONTAINER;
      for (const u of event.unanswered) cost += CONTAINER + stringCost(u.name);
      return cost;
    }
  }
}

/**
 * The part of a frame event's cost that is its decoded method or content header. A message
 * event holds the same objects as its method and header frames: a store that keeps both
 * counts them once, on the message, which outlives its frames.
 */
export function decodedCost(event: FrameEvent): number {
  const frame = event.frame;
  if (frame.type === 'method') return DECODED + recordCost(frame.method.args);
  if (frame.type === 'header') return DECODED + recordCost(frame.header.properties);
  return 0;
}

function bytesCost(bytes: Uint8Array): number {
  return BYTES_OBJECT + bytes.length;
}

/** A JS string: two bytes a character at worst (one-byte strings take one). */
function stringCost(s: string): number {
  return STRING + 2 * s.length;
}

function recordCost(record: Readonly<Record<string, ArgumentValue>>): number {
  let cost = 0;
  for (const key in record) cost += SLOT + argumentCost(record[key]!);
  return cost;
}

function argumentCost(value: ArgumentValue): number {
  switch (typeof value) {
    case 'string':
      return stringCost(value);
    case 'bigint':
      return BOXED;
    case 'number':
      return Number.isInteger(value) && value >= -0x4000_0000 && value < 0x4000_0000 ? 0 : BOXED;
    case 'boolean':
      return 0;
    default:
      return value instanceof Uint8Array ? bytesCost(value) : tableCost(value);
  }
}

function tableCost(table: FieldTable): number {
  const entries = table.entries;
  let cost = CONTAINER + 8 * entries.length;
  for (const [key, value] of entries) cost += ENTRY + stringCost(key) + fieldValueCost(value);
  return cost;
}

function fieldValueCost(field: FieldValue): number {
  switch (field.type) {
    case 't':
    case 'b':
    case 'B':
    case 's':
    case 'u':
    case 'U':
    case 'I':
    case 'V':
      return FIELD_VALUE;
    case 'i':
    case 'f':
    case 'd':
    case 'l':
    case 'L':
    case 'T':
      return FIELD_VALUE + BOXED;
    case 'D':
      return FIELD_VALUE + CONTAINER;
    case 'S':
      return FIELD_VALUE + (typeof field.value === 'string' ? stringCost(field.value) : bytesCost(field.value));
    case 'x':
      return FIELD_VALUE + bytesCost(field.value) + CONTAINER; // a copy: its own ArrayBuffer
    case 'A': {
      let cost = FIELD_VALUE + CONTAINER + 8 * field.value.length;
      for (const v of field.value) cost += fieldValueCost(v);
      return cost;
    }
    case 'F':
      return FIELD_VALUE + tableCost(field.value);
  }
}

function insightCost(insight: FrameInsight | undefined): number {
  if (insight === undefined) return 0;
  let cost = CONTAINER;
  if (insight.request) cost += CONTAINER + stringCost(insight.request.name);
  if (insight.error) cost += CONTAINER + stringCost(insight.error.replyText) + stringCost(insight.error.replyName) + stringCost(insight.error.causeName ?? '');
  if (insight.settles) cost += CONTAINER + 8 * insight.settles.deliverySeqs.length;
  if (insight.confirms) cost += CONTAINER + 8 * insight.confirms.publishSeqs.length;
  return cost;
}
