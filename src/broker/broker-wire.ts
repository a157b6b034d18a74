// Hot-path frame encoding for the broker: a content message (basic.deliver / get-ok / return)
// becomes ONE buffer holding its method, header and body frames, written without going
// through the generic codec. The content header a publisher sent is reused as-is.

import { encodeContentHeader } from '../decoder/content-header.js';
import { decodeFieldTable, EMPTY_FIELD_TABLE } from '../decoder/field-table.js';
import type { AmqpString, ContentProperties, FieldTable } from '../decoder/types.js';

const FRAME_END = 0xce;
const CLASS_BASIC = 60;

/**
 * Properties decoded from a publisher's content header, remembering that header's payload so
 * a delivery re-sends the same bytes. The payload is a private field: a copy made with
 * `{...properties}` (BCC removal, reply-to) does not inherit it and is held again (see
 * `heldProperties`).
 */
export class PublishedProperties {
  readonly #header: Uint8Array;
  constructor(header: Uint8Array) {
    this.#header = header;
  }

  static headerOf(properties: object): Uint8Array | undefined {
    return #header in properties ? (properties as PublishedProperties).#header : undefined;
  }
}

/**
 * A held message's `headers`: the table's bytes as published, decoded again on each read of
 * `entries` and never kept decoded. Decoded, a table costs far more than its bytes (an
 * object per value: a 128 KiB header of one-byte void values took 6.3 MB of heap per queued
 * message), so holding decoded headers let a few hundred messages exhaust the heap. Readers
 * that need the entries more than once read them once into a table of their own.
 */
export class RawFieldTable implements FieldTable {
  readonly #bytes: Uint8Array;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get entries(): FieldTable['entries'] {
    return decodeFieldTable(this.#bytes).entries;
  }

  /** the table's bytes, length prefix included */
  get byteLength(): number {
    return this.#bytes.length;
  }
}

/**
 * The properties of every message published without any (flags word 0), shared: such a
 * message keeps no header bytes and none are decoded; its header is written from scratch.
 */
export const NO_PROPERTIES: ContentProperties = Object.freeze({});

/** The size of a content header without properties: class, weight, body-size, one flags word. */
const EMPTY_HEADER_SIZE = 14;

/** True when a header payload has no properties (one flags word, zero). */
export function isEmptyHeader(payload: Uint8Array): boolean {
  return payload.length === EMPTY_HEADER_SIZE && payload[12] === 0 && payload[13] === 0;
}

/** basic's first flag word: content-type, content-encoding, then headers. */
const FLAG_CONTENT_TYPE = 0x8000;
const FLAG_CONTENT_ENCODING = 0x4000;

/** The `headers` table of a well-formed basic header payload that has one, held as its bytes. */
function rawHeaders(payload: Uint8Array): FieldTable {
  const first = (payload[12]! << 8) | payload[13]!;
  let at = 14;
  // continuation words (bit 0) come before any property
  for (let word = first; (word & 1) === 1; at += 2) word = (payload[at]! << 8) | payload[at + 1]!;
  if ((first & FLAG_CONTENT_TYPE) !== 0) at += 1 + payload[at]!;
  if ((first & FLAG_CONTENT_ENCODING) !== 0) at += 1 + payload[at]!;
  const size = ((payload[at]! << 24) | (payload[at + 1]! << 16) | (payload[at + 2]! << 8) | payload[at + 3]!) >>> 0;
  return size === 0 ? EMPTY_FIELD_TABLE : new RawFieldTable(payload.subarray(at, at + 4 + size));
}

/**
 * Properties as a queue holds them, from the header payload they were decoded from: the
 * payload, to be re-sent as is, and the properties, `headers` kept as bytes (RawFieldTable;
 * an empty table shared). Other properties are short strings and numbers, kept decoded.
 */
export function withRawHeader(properties: ContentProperties, payload: Uint8Array): ContentProperties {
  const carrier = new PublishedProperties(payload) as unknown as Record<string, unknown>;
  for (const key in properties) carrier[key] = properties[key];
  if (properties['headers'] !== undefined) carrier['headers'] = rawHeaders(payload);
  return carrier as ContentProperties;
}

/**
 * Properties made or changed by the broker (dead-lettering, BCC removal, direct reply-to)
 * in the form a queue holds: encoded once, then as `withRawHeader`. Properties already held
 * are returned as they are.
 */
export function heldProperties(properties: ContentProperties, bodySize: number): ContentProperties {
  if (properties === NO_PROPERTIES || PublishedProperties.headerOf(properties) !== undefined) return properties;
  return withRawHeader(properties, encodeContentHeader({ classId: CLASS_BASIC, bodySize, properties }));
}

/** The content header payload for a message: the publisher's own bytes when unchanged. */
export function contentHeaderPayload(properties: ContentProperties, bodySize: number): Uint8Array | null {
  if (properties === NO_PROPERTIES) return null;
  const raw = PublishedProperties.headerOf(properties);
  if (raw !== undefined) return raw;
  return encodeContentHeader({ classId: CLASS_BASIC, bodySize, properties });
}

export function amqpStringLength(s: AmqpString): number {
  if (typeof s !== 'string') return s.length;
  // ASCII fast path: byte length equals string length
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** Writes a shortstr of `len` bytes; returns the next offset. */
export function writeShortString(buf: Buffer, at: number, s: AmqpString, len: number): number {
  buf[at++] = len;
  if (typeof s === 'string') {
    if (len === s.length) {
      for (let i = 0; i < len; i++) buf[at + i] = s.charCodeAt(i);
    } else buf.write(s, at, len, 'utf8');
  } else buf.set(s, at);
  return at + len;
}

/** Reads a short string; ASCII without a TextDecoder. */
export function readShortString(b: Uint8Array, at: number, len: number): string {
  let ascii = true;
  for (let i = 0; i < len; i++) {
    if (b[at + i]! > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    if (len === 0) return '';
    return String.fromCharCode.apply(null, b.subarray(at, at + len) as unknown as number[]);
  }
  return Buffer.from(b.buffer, b.byteOffset + at, len).toString('utf8');
}

function writeFrameHeader(buf: Buffer, at: number, type: number, channel: number, size: number): void {
  buf[at] = type;
  buf[at + 1] = channel >>> 8;
  buf[at + 2] = channel & 0xff;
  buf.writeUInt32BE(size, at + 3);
}

/** Size of the header and body frames of a content message. */
function contentSize(header: Uint8Array | null, bodyLength: number, frameMax: number): number {
  const chunk = frameMax === 0 ? 0xffffffff - 8 : frameMax - 8;
  const frames = bodyLength === 0 ? 0 : Math.ceil(bodyLength / chunk);
  return 8 + (header === null ? EMPTY_HEADER_SIZE : header.length) + frames * 8 + bodyLength;
}

/** Writes the header frame and body frames at `at`; the buffer is exactly large enough. */
function writeContent(buf: Buffer, at: number, channel: number, header: Uint8Array | null, body: Uint8Array, frameMax: number): void {
  if (header === null) {
    writeFrameHeader(buf, at, 2, channel, EMPTY_HEADER_SIZE);
    buf[at + 7] = 0;
    buf[at + 8] = CLASS_BASIC;
    buf[at + 9] = 0;
    buf[at + 10] = 0;
    buf.writeUInt32BE(Math.floor(body.length / 0x100000000), at + 11);
    buf.writeUInt32BE(body.length >>> 0, at + 15);
    buf[at + 19] = 0;
    buf[at + 20] = 0;
    at += 7 + EMPTY_HEADER_SIZE;
  } else {
    writeFrameHeader(buf, at, 2, channel, header.length);
    buf.set(header, at + 7);
    at += 7 + header.length;
  }
  buf[at++] = FRAME_END;
  const chunk = frameMax === 0 ? 0xffffffff - 8 : frameMax - 8;
  for (let from = 0; from < body.length; from += chunk) {
    const n = Math.min(chunk, body.length - from);
    writeFrameHeader(buf, at, 3, channel, n);
    buf.set(n === body.length ? body : body.subarray(from, from + n), at + 7);
    at += 7 + n;
    buf[at++] = FRAME_END;
  }
}

export interface ContentMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: ContentProperties;
  readonly body: Uint8Array;
}

/**
 * Where encoders write: `reserve(n)` makes room for n bytes of this turn's output and returns
 * their offset in `slab` (read `slab` after reserving: it may be a new buffer).
 */
export interface FrameSink {
  reserve(n: number): number;
  readonly slab: Buffer;
  readonly frameMax: number;
}

/** basic.deliver + header + body, written straight into the connection's output. */
export function writeDeliver(
  sink: FrameSink,
  channel: number,
  consumerTag: string,
  consumerTagLength: number,
  deliveryTag: bigint,
  redelivered: boolean,
  m: ContentMessage,
): void {
  const header = contentHeaderPayload(m.properties, m.body.length);
  const exLen = amqpStringLength(m.exchange);
  const rkLen = amqpStringLength(m.routingKey);
  const payload = 4 + 1 + consumerTagLength + 8 + 1 + 1 + exLen + 1 + rkLen;
  const frameMax = sink.frameMax;
  let at = sink.reserve(8 + payload + contentSize(header, m.body.length, frameMax));
  const buf = sink.slab;
  writeFrameHeader(buf, at, 1, channel, payload);
  buf[at + 7] = 0;
  buf[at + 8] = 60;
  buf[at + 9] = 0;
  buf[at + 10] = 60;
  at = writeShortString(buf, at + 11, consumerTag, consumerTagLength);
  buf.writeBigUInt64BE(deliveryTag, at);
  at += 8;
  buf[at++] = redelivered ? 1 : 0;
  at = writeShortString(buf, at, m.exchange, exLen);
  at = writeShortString(buf, at, m.routingKey, rkLen);
  buf[at++] = FRAME_END;
  writeContent(buf, at, channel, header, m.body, frameMax);
}

/** basic.get-ok + header + body. */
export function writeGetOk(sink: FrameSink, channel: number, deliveryTag: bigint, redelivered: boolean, messageCount: number, m: ContentMessage): void {
  const header = contentHeaderPayload(m.properties, m.body.length);
  const exLen = amqpStringLength(m.exchange);
  const rkLen = amqpStringLength(m.routingKey);
  const payload = 4 + 8 + 1 + 1 + exLen + 1 + rkLen + 4;
  const frameMax = sink.frameMax;
  let at = sink.reserve(8 + payload + contentSize(header, m.body.length, frameMax));
  const buf = sink.slab;
  writeFrameHeader(buf, at, 1, channel, payload);
  buf.writeUInt16BE(60, at + 7);
  buf.writeUInt16BE(71, at + 9);
  buf.writeBigUInt64BE(deliveryTag, at + 11);
  at += 19;
  buf[at++] = redelivered ? 1 : 0;
  at = writeShortString(buf, at, m.exchange, exLen);
  at = writeShortString(buf, at, m.routingKey, rkLen);
  buf.writeUInt32BE(messageCount, at);
  at += 4;
  buf[at++] = FRAME_END;
  writeContent(buf, at, channel, header, m.body, frameMax);
}

/** basic.return + header + body. */
export function writeReturn(sink: FrameSink, channel: number, replyCode: number, replyText: string, m: ContentMessage): void {
  const header = contentHeaderPayload(m.properties, m.body.length);
  const textLen = amqpStringLength(replyText);
  const exLen = amqpStringLength(m.exchange);
  const rkLen = amqpStringLength(m.routingKey);
  const payload = 4 + 2 + 1 + textLen + 1 + exLen + 1 + rkLen;
  const frameMax = sink.frameMax;
  let at = sink.reserve(8 + payload + contentSize(header, m.body.length, frameMax));
  const buf = sink.slab;
  writeFrameHeader(buf, at, 1, channel, payload);
  buf.writeUInt16BE(60, at + 7);
  buf.writeUInt16BE(50, at + 9);
  buf.writeUInt16BE(replyCode, at + 11);
  at = writeShortString(buf, at + 13, replyText, textLen);
  at = writeShortString(buf, at, m.exchange, exLen);
  at = writeShortString(buf, at, m.routingKey, rkLen);
  buf[at++] = FRAME_END;
  writeContent(buf, at, channel, header, m.body, frameMax);
}

/** basic.ack / basic.nack from the server (publisher confirms). */
export function writeConfirm(sink: FrameSink, channel: number, ack: boolean, deliveryTag: number, multiple: boolean): void {
  const at = sink.reserve(21);
  const buf = sink.slab;
  writeFrameHeader(buf, at, 1, channel, 13);
  buf.writeUInt16BE(60, at + 7);
  buf.writeUInt16BE(ack ? 80 : 120, at + 9);
  buf.writeUInt32BE(Math.floor(deliveryTag / 0x100000000), at + 11);
  buf.writeUInt32BE(deliveryTag >>> 0, at + 15);
  // multiple is bit 0 for both; nack's requeue (bit 1) stays false
  buf[at + 19] = multiple ? 1 : 0;
  buf[at + 20] = FRAME_END;
}
