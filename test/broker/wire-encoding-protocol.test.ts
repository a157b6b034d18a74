// The broker's hot-path encoders (one buffer per delivered message) give exactly the bytes
// the generic codec gives for the same frames, whatever the strings, tags, bodies, properties
// and frame-max.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeContentHeader, encodeContentHeader } from '../../src/decoder/content-header.js';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import type { BasicPropertiesInput } from '../../src/decoder/spec.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import type { ContentProperties, FieldTable } from '../../src/decoder/types.js';
import {
  NO_PROPERTIES,
  withRawHeader,
  writeConfirm,
  writeDeliver,
  writeGetOk,
  writeReturn,
  amqpStringLength,
  type FrameSink,
} from '../../src/broker/broker-wire.js';

/** A sink like the connection's: one slab that grows by reservation. */
class TestSink implements FrameSink {
  slab = Buffer.alloc(0);
  private used = 0;
  constructor(readonly frameMax: number) {}
  reserve(n: number): number {
    const next = Buffer.alloc(this.used + n);
    this.slab.copy(next, 0, 0, this.used);
    this.slab = next;
    const at = this.used;
    this.used += n;
    return at;
  }
  bytes(): Buffer {
    return this.slab.subarray(0, this.used);
  }
}

const shortString = fc.string({ maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
const body = fc.uint8Array({ maxLength: 20_000 });
const frameMax = fc.constantFrom(4096, 8192, 131072, 0);
const headers = fc
  .dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.constant(null), fc.integer(), shortString, fc.array(fc.constant(null), { maxLength: 5 })), {
    maxKeys: 4,
  })
  .map((o) => fieldTable(o));
const properties = fc.record(
  {
    'content-type': shortString,
    'content-encoding': shortString,
    headers,
    'correlation-id': shortString,
    priority: fc.integer({ min: 0, max: 9 }),
    'delivery-mode': fc.constantFrom(1, 2),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<BasicPropertiesInput>;

/** Properties as a delivered message holds them: shared empty, publisher-decoded, or plain (re-encoded). */
function asHeld(p: BasicPropertiesInput, size: number, kind: number): ContentProperties {
  if (Object.keys(p).length === 0 && kind === 0) return NO_PROPERTIES;
  const payload = encodeContentHeader({ classId: 60, bodySize: size, properties: p });
  const decoded = decodeContentHeader(payload).properties;
  if (kind !== 1) return decoded;
  const held = withRawHeader(decoded, payload);
  // the headers are held as their bytes and read back whole
  expect((held['headers'] as FieldTable | undefined)?.entries).toEqual((decoded['headers'] as FieldTable | undefined)?.entries);
  return held;
}

function expected(method: Uint8Array, channel: number, p: BasicPropertiesInput, b: Uint8Array, max: number): Buffer {
  return Buffer.concat([method, ...encodeContentFrames(channel, 60, p, b, max)]);
}

describe('broker hot-path encoders', () => {
  it('basic.deliver, get-ok and return match the generic codec byte for byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        shortString,
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        fc.boolean(),
        shortString,
        shortString,
        properties,
        body,
        frameMax,
        fc.integer({ min: 0, max: 2 }),
        (channel, tag, deliveryTag, redelivered, exchange, routingKey, p, b, max, kind) => {
          const m = { exchange, routingKey, properties: asHeld(p, b.length, kind), body: b };
          const deliver = new TestSink(max);
          writeDeliver(deliver, channel, tag, amqpStringLength(tag), deliveryTag, redelivered, m);
          const method = encodeMethodFrame(channel, 'basic.deliver', {
            'consumer-tag': tag,
            'delivery-tag': deliveryTag,
            redelivered,
            exchange,
            'routing-key': routingKey,
          });
          expect(deliver.bytes()).toEqual(expected(method, channel, p, b, max));

          const getOk = new TestSink(max);
          writeGetOk(getOk, channel, deliveryTag, redelivered, 42, m);
          const getMethod = encodeMethodFrame(channel, 'basic.get-ok', {
            'delivery-tag': deliveryTag,
            redelivered,
            exchange,
            'routing-key': routingKey,
            'message-count': 42,
          });
          expect(getOk.bytes()).toEqual(expected(getMethod, channel, p, b, max));

          const ret = new TestSink(max);
          writeReturn(ret, channel, 312, 'NO_ROUTE', m);
          const retMethod = encodeMethodFrame(channel, 'basic.return', { 'reply-code': 312, 'reply-text': 'NO_ROUTE', exchange, 'routing-key': routingKey });
          expect(ret.bytes()).toEqual(expected(retMethod, channel, p, b, max));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('confirms match basic.ack / basic.nack', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.boolean(),
        fc.boolean(),
        (channel, tag, multiple, ack) => {
          const sink = new TestSink(0);
          writeConfirm(sink, channel, ack, tag, multiple);
          const method = ack
            ? encodeMethodFrame(channel, 'basic.ack', { 'delivery-tag': BigInt(tag), multiple })
            : encodeMethodFrame(channel, 'basic.nack', { 'delivery-tag': BigInt(tag), multiple, requeue: false });
          expect(sink.bytes()).toEqual(Buffer.from(method));
        },
      ),
    );
  });
});
