// Bad input on the wire, byte by byte: each case gets RabbitMQ's close code and text, and the
// broker keeps serving other connections. The cases RabbitMQ answers the same way also run
// against RabbitMQ (AMQP_SPY_RABBITMQ_URL), proving the expected texts.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeContentHeaderFrame, encodeFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { RawClient } from './raw-client.js';

const AMQP_0_9_1 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** Cases whose answer is the same on RabbitMQ 3.x and on the built-in broker. */
function sharedCases(port: () => number): void {
  const connect = () => RawClient.connect(port());

  it('answers garbage instead of the protocol header with its own header and closes', async () => {
    const c = await connect();
    c.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await c.waitForEnd();
    expect(Buffer.concat(c.raw)).toEqual(AMQP_0_9_1);
  });

  it('answers an unsupported protocol version with AMQP 0-9-1 and closes', async () => {
    const c = await connect();
    c.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 0]));
    await c.waitForEnd();
    expect(Buffer.concat(c.raw)).toEqual(AMQP_0_9_1);
  });

  it('a method on an unopened channel: 504 expected channel.open', async () => {
    const c = await connect();
    await c.open();
    c.send(1, 'queue.declare', { queue: 'x' });
    expect(await c.expectConnectionClose()).toEqual([504, "CHANNEL_ERROR - expected 'channel.open'"]);
    c.destroy();
  });

  it('a body frame without a content header: 505', async () => {
    const c = await connect();
    await c.open();
    await c.openChannel(1);
    c.send(1, 'basic.publish', { exchange: '', 'routing-key': 'q' });
    c.write(encodeFrame(3, 1, Buffer.from('abc')));
    const close = await c.expectMethod('connection.close');
    expect(close.args).toMatchObject({
      'reply-code': 505,
      'reply-text': 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead',
      'class-id': 60,
      'method-id': 40,
    });
    c.destroy();
  });

  it('a content header without a publish: 505 expected method frame', async () => {
    const c = await connect();
    await c.open();
    await c.openChannel(1);
    c.write(encodeContentHeaderFrame(1, { classId: 60, bodySize: 3, properties: {} }));
    expect(await c.expectConnectionClose()).toEqual([505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead']);
    c.destroy();
  });

  it('a frame larger than the negotiated frame-max: 501 frame_too_large', async () => {
    const c = await connect();
    await c.open();
    await c.openChannel(1);
    c.write(encodeFrame(3, 1, Buffer.alloc(200_000)));
    expect(await c.expectConnectionClose()).toEqual([501, 'FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,200000,131064}']);
    c.destroy();
  });

  it('a frame without its end byte: 501 invalid_frame_end_marker', async () => {
    const c = await connect();
    await c.open();
    const f = encodeMethodFrame(1, 'channel.open');
    f[f.length - 1] = 0;
    c.write(f);
    expect(await c.expectConnectionClose()).toEqual([501, 'FRAME_ERROR - type 1, all octets = <<0,20,0,10,0>>: {invalid_frame_end_marker,0}']);
    c.destroy();
  });

  it('an unknown frame type: 501 unknown_frame', async () => {
    const c = await connect();
    await c.open();
    c.write(encodeFrame(9, 1, Buffer.from([1, 2, 3])));
    expect(await c.expectConnectionClose()).toEqual([501, 'FRAME_ERROR - type 9, all octets = <<1,2,3>>: unknown_frame']);
    c.destroy();
  });

  it('a heartbeat on a channel other than 0: 505', async () => {
    const c = await connect();
    await c.open();
    c.write(encodeFrame(8, 1, new Uint8Array(0)));
    expect(await c.expectConnectionClose()).toEqual([505, 'UNEXPECTED_FRAME - type 8, all octets = <<>>']);
    c.destroy();
  });

  it('channel methods on channel 0, a second channel.open, server-only methods and unsupported options', async () => {
    const cases: Array<[(c: RawClient) => void, number, string]> = [
      [(c) => c.send(0, 'channel.open'), 504, 'CHANNEL_ERROR - unexpected method in connection state running'],
      [(c) => c.send(1, 'channel.open'), 504, "CHANNEL_ERROR - second 'channel.open' seen"],
      [(c) => c.send(1, 'basic.get-empty'), 503, 'COMMAND_INVALID - unimplemented method'],
      [(c) => c.send(1, 'channel.flow', { active: false }), 540, 'NOT_IMPLEMENTED - active=false'],
      [(c) => c.send(1, 'basic.qos', { 'prefetch-size': 10 }), 540, 'NOT_IMPLEMENTED - prefetch_size!=0 (10)'],
      [(c) => c.send(1, 'basic.recover', { requeue: false }), 540, 'NOT_IMPLEMENTED - requeue=false'],
      [
        (c) => {
          c.write(encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'q', immediate: true }));
          c.write(encodeContentHeaderFrame(1, { classId: 60, bodySize: 0, properties: {} }));
        },
        540,
        'NOT_IMPLEMENTED - immediate=true',
      ],
    ];
    for (const [act, code, text] of cases) {
      const c = await connect();
      await c.open();
      await c.openChannel(1);
      act(c);
      expect(await c.expectConnectionClose()).toEqual([code, text]);
      c.destroy();
    }
  });

  it('soft errors close only the channel; frames are ignored until close-ok; the number is reusable', async () => {
    const c = await connect();
    await c.open();
    await c.openChannel(1);
    await c.openChannel(2);
    c.send(1, 'basic.get', { queue: '' });
    expect(await c.expectChannelClose()).toEqual([404, 'NOT_FOUND - no previously declared queue', 60, 70]);
    // ignored: the channel is closing
    c.send(1, 'queue.declare', { queue: 'ignored-while-closing', passive: true });
    c.send(1, 'channel.close-ok');
    // py-amqp reopens the same number right after close-ok
    c.send(1, 'channel.open');
    await c.expectMethod('channel.open-ok');
    c.send(2, 'tx.commit');
    expect(await c.expectChannelClose()).toEqual([406, 'PRECONDITION_FAILED - channel is not transactional', 90, 20]);
    c.send(2, 'channel.close-ok');
    c.send(1, 'tx.select');
    await c.expectMethod('tx.select-ok');
    c.send(1, 'confirm.select');
    expect(await c.expectChannelClose()).toEqual([406, 'PRECONDITION_FAILED - cannot switch from tx to confirm mode', 85, 10]);
    c.send(1, 'channel.close-ok');
    c.send(1, 'channel.open');
    await c.expectMethod('channel.open-ok');
    c.publish(1, '', 'q', 'x', { 'user-id': 'bob' });
    expect(await c.expectChannelClose()).toEqual([406, "PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'", 60, 40]);
    c.send(0, 'connection.close', { 'reply-code': 200 });
    await c.expectMethod('connection.close-ok');
    c.destroy();
  });

  it('reusing a consumer tag on a channel: 530', async () => {
    const c = await connect();
    await c.open();
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    await c.expectMethod('queue.declare-ok');
    c.send(1, 'basic.consume', { 'consumer-tag': 't1' });
    await c.expectMethod('basic.consume-ok');
    c.send(1, 'basic.consume', { 'consumer-tag': 't1' });
    expect(await c.expectConnectionClose()).toEqual([530, "NOT_ALLOWED - attempt to reuse consumer tag 't1'"]);
    c.destroy();
  });
}

describe('bad input against the built-in broker', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
  });
  afterAll(async () => {
    await broker.close();
  });

  sharedCases(() => broker.address.port);

  // RabbitMQ closes these silently after 3 s; the built-in broker says why, for the spy's user.
  it('frames before the handshake is done get connection.close, not silence', async () => {
    const c = await RawClient.connect(broker.address.port);
    c.write(AMQP_0_9_1);
    await c.expectMethod('connection.start');
    c.send(1, 'channel.open');
    expect(await c.expectConnectionClose()).toEqual([505, 'UNEXPECTED_FRAME - type 1, all octets = <<0,20,0,10,0>>']);
    await c.waitForEnd();
    const d = await RawClient.connect(broker.address.port);
    d.write(AMQP_0_9_1);
    await d.expectMethod('connection.start');
    d.send(0, 'connection.open', {});
    expect(await d.expectConnectionClose()).toEqual([504, 'CHANNEL_ERROR - unexpected method in connection state starting']);
    d.destroy();
  });

  it('an unknown method id: 540 (RabbitMQ drops the socket without a word)', async () => {
    const c = await RawClient.connect(broker.address.port);
    await c.open();
    await c.openChannel(1);
    c.write(encodeFrame(1, 1, Buffer.from([0, 60, 3, 231])));
    expect(await c.expectConnectionClose()).toEqual([540, 'NOT_IMPLEMENTED - unknown method 60.999 (class 60, method 999)']);
    c.destroy();
  });

  it('keeps serving other connections through every kind of bad input', async () => {
    const good = await RawClient.connect(broker.address.port);
    await good.open();
    await good.openChannel(1);
    good.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await good.expectMethod('queue.declare-ok')).args['queue']);
    const garbage = [
      Buffer.from('\x16\x03\x01\x00\xa5\x01\x00\x00'),
      Buffer.concat([AMQP_0_9_1, Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9])]),
      Buffer.concat([AMQP_0_9_1, encodeFrame(1, 0, Buffer.from([0, 10, 0, 11, 255]))]),
    ];
    for (const bytes of garbage) {
      const bad = await RawClient.connect(broker.address.port);
      bad.write(bytes);
      await bad.waitForEnd();
    }
    good.publish(1, '', q, 'still here');
    good.send(1, 'basic.get', { queue: q, 'no-ack': true });
    await good.expectMethod('basic.get-ok');
    const body = await good.next();
    expect(body.type).toBe('header');
    expect(await good.next()).toMatchObject({ type: 'body' });
    expect(broker.connectionCount).toBe(1);
    good.destroy();
  });
});

describeWithRabbitMQ('bad input', () => {
  sharedCases(() => rabbitAddress().port);
});
