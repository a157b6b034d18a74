// A real session (amqplib against RabbitMQ 3.10, captured by scripts/capture-session.mjs)
// decodes with no error, to the method sequence Wireshark's dissector also reads from it.
import { describe, expect, it } from 'vitest';
import { encodeDecodedFrame } from '../../src/decoder/frame-codec.js';
import { capturedSession } from '../support/fixtures.js';
import { decodeStream, frameName } from '../support/decode-stream.js';

const EXPECTED = {
  c2s: [
    'connection.start-ok',
    'connection.tune-ok',
    'connection.open',
    'channel.open',
    'confirm.select',
    'basic.qos',
    'exchange.declare',
    'queue.declare',
    'queue.bind',
    'basic.consume',
    'basic.publish',
    'header',
    'body',
    'basic.publish',
    'header',
    'body',
    'body',
    'body',
    'basic.publish',
    'header',
    'basic.publish',
    'header',
    'body',
    'basic.nack',
    'basic.ack',
    'channel.open',
    'basic.ack',
    'basic.ack',
    'queue.declare',
    'basic.publish',
    'header',
    'body',
    'basic.get',
    'basic.ack',
    'basic.get',
    'queue.delete',
    'heartbeat',
    'heartbeat',
    'channel.open',
    'queue.declare',
    'channel.close-ok',
    'channel.close',
    'channel.close',
    'connection.close',
  ],
  s2c: [
    'connection.start',
    'connection.tune',
    'connection.open-ok',
    'channel.open-ok',
    'confirm.select-ok',
    'basic.qos-ok',
    'exchange.declare-ok',
    'queue.declare-ok',
    'queue.bind-ok',
    'basic.consume-ok',
    'basic.deliver',
    'header',
    'body',
    'basic.ack',
    'basic.return',
    'header',
    'body',
    'basic.ack',
    'basic.deliver',
    'header',
    'body',
    'body',
    'body',
    'basic.deliver',
    'header',
    'basic.ack',
    'basic.deliver',
    'header',
    'body',
    'channel.open-ok',
    'queue.declare-ok',
    'basic.get-ok',
    'header',
    'body',
    'basic.get-empty',
    'queue.delete-ok',
    'heartbeat',
    'heartbeat',
    'heartbeat',
    'heartbeat',
    'heartbeat',
    'channel.open-ok',
    'channel.close',
    'channel.close-ok',
    'channel.close-ok',
    'connection.close-ok',
  ],
};

describe('golden session: amqplib ⇄ RabbitMQ 3.10', () => {
  const session = capturedSession();

  for (const dir of ['c2s', 's2c'] as const) {
    it(`${dir} decodes with no error to the expected method sequence`, () => {
      const bytes = dir === 'c2s' ? session.c2s.subarray(8) : session.s2c;
      const frames = decodeStream(bytes);
      expect(frames.map((f) => frameName(f.decoded))).toEqual(EXPECTED[dir]);
    });

    it(`${dir} re-encodes every frame to its exact bytes`, () => {
      const bytes = dir === 'c2s' ? session.c2s.subarray(8) : session.s2c;
      for (const { raw, decoded } of decodeStream(bytes)) {
        expect(Buffer.from(encodeDecodedFrame(decoded)).equals(Buffer.from(raw.raw))).toBe(true);
      }
    });
  }

  it('reads the published message as amqplib sent it', () => {
    const frames = decodeStream(session.c2s.subarray(8)).map((f) => f.decoded);
    const publishAt = frames.findIndex((f) => f.type === 'method' && f.method.name === 'basic.publish');
    const publish = frames[publishAt]!;
    const header = frames[publishAt + 1]!;
    const body = frames[publishAt + 2]!;
    expect(publish.type === 'method' && publish.method.args).toMatchObject({ exchange: 'spy.orders', 'routing-key': 'order.created', mandatory: false });
    if (header.type !== 'header' || body.type !== 'body') throw new Error('expected header and body frames');
    expect(header.header.properties).toMatchObject({
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      'delivery-mode': 2,
      priority: 3,
      'correlation-id': 'c-1',
      'reply-to': 'replies',
      expiration: '60000',
      'message-id': 'm-1',
      timestamp: 1700000000n,
      type: 'order',
      'app-id': 'capture',
      'user-id': 'guest',
    });
    const headers = header.header.properties['headers'];
    if (typeof headers !== 'object' || headers instanceof Uint8Array) throw new Error('headers should be a table');
    expect(Object.fromEntries(headers.entries.map(([k, v]) => [k, v.type]))).toMatchObject({
      'x-int': expect.any(String),
      'x-str': 'S',
      'x-bool': 't',
      'x-list': 'A',
      'x-nested': 'F',
      'x-null': 'V',
    });
    expect(new TextDecoder().decode(body.body)).toBe('{"id":1,"item":"book"}');
    expect(header.header.bodySize).toBe(BigInt(body.body.length));
  });

  it('reads the 404 channel close RabbitMQ sent for the missing queue', () => {
    const frames = decodeStream(session.s2c).map((f) => f.decoded);
    const close = frames.find((f) => f.type === 'method' && f.method.name === 'channel.close');
    expect(close?.type === 'method' && close.method.args).toMatchObject({
      'reply-code': 404,
      'reply-text': "NOT_FOUND - no queue 'spy.does-not-exist' in vhost '/'",
      'class-id': 50,
      'method-id': 10,
    });
  });
});
