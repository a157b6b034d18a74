// The tap reads like a session: bytes in, events out, with the protocol insight.
import { describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeContentHeaderFrame, encodeFrame, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import {
  EventBus,
  type ConnCloseEvent,
  type Direction,
  type FrameEvent,
  type MessageEvent,
  type SocketEnd,
  type SpyEvent,
  type UndecodedBytesEvent,
} from '../../src/events.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { formatEventLine } from '../../src/view/format.js';

type Step = [Direction, Uint8Array | Uint8Array[]];

function run(steps: Step[], options: { showSecrets?: boolean; chunk?: number } = {}): SpyEvent[] {
  const events: SpyEvent[] = [];
  const bus = new EventBus([(e) => events.push(e)]);
  const tap = new ConnectionTap(1, bus, { showSecrets: options.showSecrets ?? false, keepUndecoded: true });
  let ts = 1_000_000;
  for (const [dir, bytes] of steps) {
    const all = Buffer.concat(Array.isArray(bytes) ? bytes : [bytes]);
    const size = options.chunk ?? all.length;
    for (let at = 0; at < all.length; at += size) tap.feed(dir, all.subarray(at, at + size), (ts += 500));
  }
  tap.close('test over', ts + 1);
  return events;
}

const m = encodeMethodFrame;
const frames = (events: SpyEvent[]) => events.filter((e): e is FrameEvent => e.kind === 'frame');
const method = (events: SpyEvent[], name: string, dir?: Direction) =>
  frames(events).filter((e) => e.frame.type === 'method' && e.frame.method.name === name && (dir === undefined || e.dir === dir));

const handshake: Step[] = [
  ['c2s', encodeProtocolHeader()],
  ['s2c', m(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN AMQPLAIN', locales: 'en_US' })],
  ['c2s', m(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\0alice\0s3cret!', locale: 'en_US' })],
  ['s2c', m(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 })],
  ['c2s', m(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 4096, heartbeat: 60 })],
  ['c2s', m(0, 'connection.open', { 'virtual-host': '/' })],
  ['s2c', m(0, 'connection.open-ok', {})],
  ['c2s', m(1, 'channel.open', {})],
  ['s2c', m(1, 'channel.open-ok', {})],
];

/** A tap past the handshake with one publish in confirm mode not confirmed yet, and its events. */
function withUnconfirmedPublish(): { events: SpyEvent[]; tap: ConnectionTap } {
  const events: SpyEvent[] = [];
  const tap = new ConnectionTap(1, new EventBus([(e) => events.push(e)]), { showSecrets: false, keepUndecoded: true });
  const steps: Step[] = [
    ...handshake,
    ['c2s', m(1, 'confirm.select', {})],
    ['s2c', m(1, 'confirm.select-ok', {})],
    ['c2s', [m(1, 'basic.publish', { exchange: '', 'routing-key': 'q' }), ...encodeContentFrames(1, 60, {}, Buffer.from('hi'), 4096)]],
  ];
  let ts = 1_000_000;
  for (const [dir, bytes] of steps) tap.feed(dir, Buffer.concat(Array.isArray(bytes) ? bytes : [bytes]), (ts += 500));
  return { events, tap };
}

describe('ConnectionTap', () => {
  it('pairs each synchronous request with its reply and its round trip', () => {
    const events = run(handshake);
    expect(events[0]).toMatchObject({ kind: 'protocol-header', dir: 'c2s' });
    const startOk = method(events, 'connection.start-ok')[0]!;
    expect(startOk.insight?.request).toMatchObject({ name: 'connection.start', rttMicros: 500 });
    expect(method(events, 'channel.open-ok')[0]!.insight?.request?.name).toBe('channel.open');
    expect(method(events, 'connection.open-ok')[0]!.insight?.request?.seq).toBe(method(events, 'connection.open')[0]!.seq);
    expect(events.at(-1)).toMatchObject({ kind: 'conn.close', reason: 'test over', unanswered: [] });
  });

  it('masks the SASL password with the same length, keeps the user, and shows it when asked', () => {
    const masked = method(run(handshake), 'connection.start-ok')[0]!;
    const raw = Buffer.from(masked.raw);
    expect(raw.includes(Buffer.from('\0alice\0*******'))).toBe(true);
    expect(raw.includes(Buffer.from('s3cret!'))).toBe(false);
    expect(masked.frame.type === 'method' && masked.frame.method.args['response']).toBe('\0alice\0*******');
    const shown = method(run(handshake, { showSecrets: true }), 'connection.start-ok')[0]!;
    expect(Buffer.from(shown.raw).includes(Buffer.from('s3cret!'))).toBe(true);
  });

  it('decodes a session opened with the AMQP 0-9 header as 0-9-1, masking its password', () => {
    const events = run([['c2s', Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9])], ...handshake.slice(1)]);
    expect(events[0]).toMatchObject({ kind: 'protocol-header', header: { protocol: 'AMQP 0-9', decoded: true } });
    expect(events.filter((e) => e.kind === 'decode.error' || e.kind === 'bytes')).toEqual([]);
    const startOk = method(events, 'connection.start-ok')[0]!;
    expect(Buffer.from(startOk.raw).includes(Buffer.from('s3cret!'))).toBe(false);
    expect(method(events, 'channel.open-ok')).toHaveLength(1);
  });

  it('masks update-secret and AMQPLAIN passwords', () => {
    const events = run([
      ['c2s', encodeProtocolHeader()],
      [
        'c2s',
        m(0, 'connection.start-ok', {
          mechanism: 'AMQPLAIN',
          response: Buffer.from('\x05LOGINS\x00\x00\x00\x03bob\x08PASSWORDS\x00\x00\x00\x06hunter', 'latin1'),
        }),
      ],
      ['c2s', m(0, 'connection.update-secret', { 'new-secret': 'token-123', reason: 'refresh' })],
    ]);
    const text = events
      .filter((e): e is FrameEvent => e.kind === 'frame')
      .map((e) => Buffer.from(e.raw).toString('latin1'))
      .join('|');
    expect(text).not.toContain('hunter');
    expect(text).not.toContain('token-123');
    expect(text).toContain('bob');
    expect(text).toContain('******');
  });

  it('decodes frames up to 8 bytes over frame-max, as RabbitMQ accepts them, and masks what follows', () => {
    // frame-max 4096 was negotiated: a body frame of 4104 bytes is 8 over
    const events = run([
      ...handshake,
      ['c2s', m(1, 'basic.publish', { exchange: '', 'routing-key': 'q' })],
      ...encodeContentFrames(1, 60, {}, Buffer.alloc(4096, 7), 4096 + 8).map((f): Step => ['c2s', f]),
      ['c2s', m(0, 'connection.update-secret', { 'new-secret': 'token-after-big-frame', reason: 'refresh' })],
    ]);
    expect(events.filter((e) => e.kind === 'decode.error' || e.kind === 'bytes')).toEqual([]);
    expect(events.filter((e): e is MessageEvent => e.kind === 'message').map((e) => e.body.length)).toEqual([4096]);
    const update = method(events, 'connection.update-secret')[0]!;
    expect(Buffer.from(update.raw).includes(Buffer.from('token-after-big-frame'))).toBe(false);
    // 9 over is too large, as for RabbitMQ
    const tooLarge = run([
      ...handshake,
      ['c2s', m(1, 'basic.publish', { exchange: '' })],
      ...encodeContentFrames(1, 60, {}, Buffer.alloc(4097), 4096 + 9).map((f): Step => ['c2s', f]),
    ]);
    expect(tooLarge.filter((e) => e.kind === 'decode.error')).toMatchObject([{ dir: 'c2s', stopped: true, error: { code: 'frame-too-large' } }]);
  });

  it('masks every argument of a credential frame whose fields cannot be followed (it fails to decode)', () => {
    const payload = (methodId: number, args: Buffer) => Buffer.concat([Buffer.of(0, 10, 0, methodId), args]);
    const framed = (p: Buffer) => encodeFrame(1, 0, p);
    const longstr = (text: string, claimed?: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(claimed ?? text.length);
      return Buffer.concat([b, Buffer.from(text)]);
    };
    // start-ok whose client-properties claim more bytes than the frame has, password after them
    const startOk = framed(
      payload(
        11,
        Buffer.concat([Buffer.of(0, 0, 0xff, 0xff), Buffer.of(5), Buffer.from('PLAIN'), longstr('\0bob\0pw-broken-table'), Buffer.of(5), Buffer.from('en_US')]),
      ),
    );
    // update-secret whose secret claims more bytes than there are
    const update = framed(payload(70, longstr('token-broken-length', 999)));
    const events = run([...handshake, ['c2s', startOk], ['c2s', update]]);
    const errors = events.filter((e) => e.kind === 'decode.error');
    expect(errors.map((e) => e.kind === 'decode.error' && [e.stopped, e.raw?.length])).toEqual([
      [false, startOk.length],
      [false, update.length],
    ]);
    const text = errors.map((e) => (e.kind === 'decode.error' ? Buffer.from(e.raw!).toString('latin1') : '')).join('|');
    expect(text).not.toContain('pw-broken-table');
    expect(text).not.toContain('token-broken');
    // shown as sent when asked
    const shown = run([...handshake, ['c2s', update]], { showSecrets: true }).filter((e) => e.kind === 'decode.error');
    expect(shown.map((e) => (e.kind === 'decode.error' ? Buffer.from(e.raw!).toString('latin1') : '')).join('')).toContain('token-broken-length');
  });

  it('assembles messages per channel with interleaved channels, and links confirms to publishes', () => {
    const body = Buffer.alloc(10_000, 1);
    // channel 1's header and body frames interleave with channel 2's
    const one = encodeContentFrames(1, 60, { 'content-type': 'application/octet-stream' }, body, 4096);
    const two = encodeContentFrames(2, 60, {}, Buffer.from('two'), 4096);
    const events = run([
      ...handshake,
      ['c2s', m(2, 'channel.open', {})],
      ['s2c', m(2, 'channel.open-ok', {})],
      ['c2s', m(1, 'confirm.select', {})],
      ['s2c', m(1, 'confirm.select-ok', {})],
      ['c2s', m(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'a' })],
      ['c2s', m(2, 'basic.publish', { exchange: 'other', 'routing-key': 'b' })],
      ['c2s', one[0]!],
      ['c2s', two[0]!],
      ['c2s', one[1]!],
      ['c2s', two[1]!],
      ...one.slice(2).map((f): Step => ['c2s', f]),
      ['c2s', m(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'c' })],
      ...encodeContentFrames(1, 60, {}, Buffer.alloc(0), 4096).map((f): Step => ['c2s', f]),
      ['s2c', m(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true })],
    ]);
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
    expect(messages.map((e) => [e.channel, e.body.length])).toEqual([
      [2, 3],
      [1, 10_000],
      [1, 0],
    ]);
    const [second, first, third] = messages as [MessageEvent, MessageEvent, MessageEvent];
    expect(Buffer.from(first.body).equals(body)).toBe(true);
    expect(first.frames).toHaveLength(2 + Math.ceil(10_000 / 4088));
    expect(first.insight?.publishSeqNo).toBe(1);
    expect(second.insight?.publishSeqNo).toBeUndefined(); // channel 2 is not in confirm mode
    expect(third.insight?.publishSeqNo).toBe(2);
    const ack = method(events, 'basic.ack', 's2c')[0]!;
    expect(ack.insight?.confirms).toEqual({ outcome: 'ack', publishSeqs: [first.frames[0], third.frames[0]] });
  });

  it('tracks delivery tags: acks (multiple), nacks with requeue, rejects, unknown tags', () => {
    const deliver = (tag: bigint): Step[] => [
      ['s2c', m(1, 'basic.deliver', { 'consumer-tag': 'ctag', 'delivery-tag': tag, exchange: '', 'routing-key': 'q' })],
      ...encodeContentFrames(1, 60, {}, Buffer.from(`m${tag}`), 4096).map((f): Step => ['s2c', f]),
    ];
    const events = run([
      ...handshake,
      ['c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'ctag' })],
      ['s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag' })],
      ...deliver(1n),
      ...deliver(2n),
      ...deliver(3n),
      ...deliver(4n),
      ['c2s', m(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true })],
      ['c2s', m(1, 'basic.nack', { 'delivery-tag': 3n, multiple: false, requeue: true })],
      ['c2s', m(1, 'basic.reject', { 'delivery-tag': 4n, requeue: false })],
      ['c2s', m(1, 'basic.ack', { 'delivery-tag': 9n })],
    ]);
    const deliveries = method(events, 'basic.deliver');
    expect(deliveries.map((d) => d.insight?.unacked)).toEqual([1, 2, 3, 4]);
    const [ack, nack, reject, unknown] = [
      method(events, 'basic.ack')[0]!,
      method(events, 'basic.nack')[0]!,
      method(events, 'basic.reject')[0]!,
      method(events, 'basic.ack')[1]!,
    ];
    expect(ack.insight?.settles).toEqual({ outcome: 'ack', requeue: false, deliverySeqs: [deliveries[0]!.seq, deliveries[1]!.seq] });
    expect(nack.insight?.settles).toEqual({ outcome: 'nack', requeue: true, deliverySeqs: [deliveries[2]!.seq] });
    expect(reject.insight?.settles).toMatchObject({ outcome: 'reject', requeue: false });
    expect(reject.insight?.unacked).toBe(0);
    expect(unknown.insight?.settles).toMatchObject({ unknownTag: true, deliverySeqs: [] });
  });

  it('names the request that caused a channel error, and reports requests never answered', () => {
    const events = run([
      ...handshake,
      ['c2s', m(1, 'queue.declare', { queue: 'orders', durable: true })],
      ['s2c', m(1, 'channel.close', { 'reply-code': 406, 'reply-text': "PRECONDITION_FAILED - inequivalent arg 'durable'", 'class-id': 50, 'method-id': 10 })],
      ['c2s', m(1, 'channel.close-ok', {})],
      ['c2s', m(2, 'channel.open', {})],
      ['s2c', m(2, 'channel.open-ok', {})],
      ['c2s', m(2, 'exchange.declare', { exchange: 'x', type: 'direct' })],
    ]);
    const close = method(events, 'channel.close')[0]!;
    expect(close.insight?.error).toEqual({
      replyCode: 406,
      replyName: 'PRECONDITION_FAILED',
      replyText: "PRECONDITION_FAILED - inequivalent arg 'durable'",
      causeSeq: method(events, 'queue.declare')[0]!.seq,
      causeName: 'queue.declare',
    });
    expect(method(events, 'channel.close-ok')[0]!.insight?.request?.name).toBe('channel.close');
    expect(events.at(-1)).toMatchObject({ kind: 'conn.close', unanswered: [{ channel: 2, name: 'exchange.declare' }] });
  });

  it('a close with reply code 0 or 200, from either side, is a normal close, not an error', () => {
    // py-amqp and Bunny close with 0
    const events = run([
      ...handshake,
      ['c2s', m(1, 'channel.close', { 'reply-code': 0, 'reply-text': '', 'class-id': 0, 'method-id': 0 })],
      ['s2c', m(1, 'channel.close-ok', {})],
      ['c2s', m(2, 'channel.open', {})],
      ['s2c', m(2, 'channel.open-ok', {})],
      ['s2c', m(2, 'channel.close', { 'reply-code': 0, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 })],
      ['c2s', m(2, 'channel.close-ok', {})],
      ['s2c', m(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'OK', 'class-id': 0, 'method-id': 0 })],
      ['c2s', m(0, 'connection.close', { 'reply-code': 0, 'reply-text': 'Normal shutdown', 'class-id': 0, 'method-id': 0 })],
    ]);
    const closes = [...method(events, 'channel.close'), ...method(events, 'connection.close')];
    expect(closes.map((e) => `${e.dir} ${e.frame.type === 'method' ? String(e.frame.method.args['reply-code']) : ''}`)).toEqual([
      'c2s 0',
      's2c 0',
      's2c 200',
      'c2s 0',
    ]);
    expect(closes.map((e) => e.insight?.error)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a close with a code no spec names is an error from 300 up', () => {
    const events = run([
      ...handshake,
      ['s2c', m(1, 'channel.close', { 'reply-code': 399, 'reply-text': 'custom', 'class-id': 0, 'method-id': 0 })],
      ['c2s', m(1, 'channel.close-ok', {})],
      ['c2s', m(0, 'connection.close', { 'reply-code': 1, 'reply-text': 'odd but not an error', 'class-id': 0, 'method-id': 0 })],
    ]);
    expect(method(events, 'channel.close')[0]!.insight?.error).toMatchObject({ replyCode: 399, replyName: 'UNKNOWN' });
    expect(method(events, 'connection.close')[0]!.insight?.error).toBeUndefined();
  });

  it('a message cut short by an error close comes before the close, incomplete; the rest of it is frames only', () => {
    const body = Buffer.alloc(10_000, 5);
    const [header, ...bodies] = encodeContentFrames(1, 60, { 'content-type': 'text/plain' }, body, 4096);
    const events = run([
      ...handshake,
      ['c2s', m(1, 'confirm.select', {})],
      ['s2c', m(1, 'confirm.select-ok', {})],
      ['c2s', m(1, 'basic.publish', { exchange: 'e' })],
      ['c2s', header!],
      ['c2s', bodies[0]!],
      // the broker refuses it at its header (a size over its limit) while the body still comes
      [
        's2c',
        m(1, 'channel.close', {
          'reply-code': 406,
          'reply-text': 'PRECONDITION_FAILED - message size 10000 is larger than configured max size 5000',
          'class-id': 60,
          'method-id': 40,
        }),
      ],
      ['c2s', bodies[1]!],
      ['c2s', bodies[2]!],
      ['c2s', m(1, 'channel.close-ok', {})],
      ['c2s', m(1, 'channel.open', {})],
      ['s2c', m(1, 'channel.open-ok', {})],
      ['c2s', m(1, 'basic.publish', { exchange: 'e' })],
      ...encodeContentFrames(1, 60, {}, Buffer.from('kept'), 4096).map((f): Step => ['c2s', f]),
      // a normal close (200) cuts nothing: the message is dropped with its channel, as before
      ['c2s', m(1, 'basic.publish', { exchange: 'e' })],
      ['s2c', m(1, 'channel.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 })],
      ['c2s', m(1, 'channel.close-ok', {})],
    ]);
    expect(events.filter((e) => e.kind === 'decode.error')).toEqual([]);
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
    expect(messages.map((e) => [Buffer.from(e.body).toString('latin1').slice(0, 4), e.body.length, e.incomplete])).toEqual([
      ['\x05\x05\x05\x05', 4088, 'cut by channel.close'],
      ['kept', 4, undefined],
    ]);
    const [cut] = messages;
    const close = method(events, 'channel.close')[0]!;
    expect(cut!.seq).toBeLessThan(close.seq);
    expect(cut!.insight?.publishSeqNo).toBe(1);
    expect(cut!.properties).toEqual({ 'content-type': 'text/plain' });
    expect(close.insight?.error?.causeSeq).toBe(method(events, 'basic.publish')[0]!.seq);
    // the body frames after the close are frames, of no message
    const bodyFrames = frames(events).filter((e) => e.frame.type === 'body' && e.dir === 'c2s');
    expect(bodyFrames).toHaveLength(4);
    expect(cut!.frames).toEqual([
      method(events, 'basic.publish')[0]!.seq,
      ...frames(events)
        .filter((e) => e.frame.type === 'header')
        .slice(0, 1)
        .map((e) => e.seq),
      bodyFrames[0]!.seq,
    ]);
  });

  it('a connection.close with an error cuts the messages of every channel, before its content header too', () => {
    const events = run([
      ...handshake,
      ['c2s', m(2, 'channel.open', {})],
      ['s2c', m(2, 'channel.open-ok', {})],
      ['c2s', m(2, 'basic.publish', { exchange: 'a' })],
      ['c2s', m(1, 'basic.publish', { exchange: 'b' })],
      ['s2c', m(0, 'connection.close', { 'reply-code': 541, 'reply-text': 'INTERNAL_ERROR', 'class-id': 0, 'method-id': 0 })],
      ...encodeContentFrames(1, 60, {}, Buffer.from('late'), 4096).map((f): Step => ['c2s', f]),
      ['c2s', m(0, 'connection.close-ok', {})],
    ]);
    expect(events.filter((e) => e.kind === 'decode.error')).toEqual([]);
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
    expect(messages.map((e) => [e.channel, e.method.args['exchange'], e.header, e.body.length, e.incomplete])).toEqual([
      [1, 'b', undefined, 0, 'cut by connection.close'],
      [2, 'a', undefined, 0, 'cut by connection.close'],
    ]);
    expect(formatEventLine(messages[0]!)).toMatch(
      / C→S ch1 basic\.publish exchange=b 0 B \(incomplete: before its content header, cut by connection\.close\)$/,
    );
  });

  it('counts unconfirmed publishes per channel in confirm mode', () => {
    const publish = (): Step[] => [
      ['c2s', m(1, 'basic.publish', { exchange: 'e' })],
      ...encodeContentFrames(1, 60, {}, Buffer.from('x'), 4096).map((f): Step => ['c2s', f]),
    ];
    const events = run([
      ...handshake,
      ['c2s', m(1, 'confirm.select', {})],
      ['s2c', m(1, 'confirm.select-ok', {})],
      ...publish(),
      ...publish(),
      ...publish(),
      ['s2c', m(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true })],
    ]);
    expect(method(events, 'basic.publish').map((e) => e.insight?.unconfirmed)).toEqual([1, 2, 3]);
    expect(method(events, 'basic.ack', 's2c')[0]!.insight?.unconfirmed).toBe(1);
  });

  it('marks the delivery that fills a prefetch: per consumer (qos global=false), per channel (global=true)', () => {
    const deliver = (channel: number, ctag: string, tag: bigint): Step[] => [
      ['s2c', m(channel, 'basic.deliver', { 'consumer-tag': ctag, 'delivery-tag': tag, exchange: '', 'routing-key': 'q' })],
      ...encodeContentFrames(channel, 60, {}, Buffer.from('x'), 4096).map((f): Step => ['s2c', f]),
    ];
    const events = run([
      ...handshake,
      // channel 1: prefetch 2 for each consumer started after it; a's tag comes with consume-ok
      ['c2s', m(1, 'basic.qos', { 'prefetch-count': 2 })],
      ['c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': '' })],
      ['s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'amq.ctag-a' })],
      ['c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'b' })],
      ['s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'b' })],
      ['c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'no-ack', 'no-ack': true })],
      ['s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'no-ack' })],
      ...deliver(1, 'amq.ctag-a', 1n),
      ...deliver(1, 'b', 2n),
      ...deliver(1, 'amq.ctag-a', 3n),
      ...deliver(1, 'no-ack', 4n),
      ...deliver(1, 'no-ack', 5n),
      ['c2s', m(1, 'basic.get', { queue: 'q' })],
      ['s2c', m(1, 'basic.get-ok', { 'delivery-tag': 6n, exchange: '', 'routing-key': 'q', 'message-count': 0 })],
      ...encodeContentFrames(1, 60, {}, Buffer.from('got'), 4096).map((f): Step => ['s2c', f]),
      ...deliver(1, 'b', 7n),
      ['c2s', m(1, 'basic.ack', { 'delivery-tag': 1n })], // a is below its limit again, b is not
      ['c2s', m(1, 'basic.ack', { 'delivery-tag': 7n, multiple: true })],
      // channel 2: one limit of 2 shared by two consumers
      ['c2s', m(2, 'channel.open', {})],
      ['s2c', m(2, 'channel.open-ok', {})],
      ['c2s', m(2, 'basic.qos', { 'prefetch-count': 2, global: true })],
      ['c2s', m(2, 'basic.consume', { queue: 'q', 'consumer-tag': 'x', nowait: true })],
      ['c2s', m(2, 'basic.consume', { queue: 'q', 'consumer-tag': 'y', nowait: true })],
      ...deliver(2, 'x', 1n),
      ...deliver(2, 'y', 2n),
      ['c2s', m(2, 'basic.nack', { 'delivery-tag': 2n, requeue: true })],
    ]);
    const full = (e: FrameEvent) => e.insight?.prefetchFull;
    const deliveries = method(events, 'basic.deliver');
    expect(deliveries.map((d) => [d.channel, d.insight?.unacked, full(d)])).toEqual([
      [1, 1, undefined],
      [1, 2, undefined],
      [1, 3, { unacked: 2, limit: 2, global: false }], // a's second
      [1, 3, undefined], // no-ack deliveries need no ack and fill nothing
      [1, 3, undefined],
      [1, 5, { unacked: 2, limit: 2, global: false }], // b's second (the get-ok is not limited)
      [2, 1, undefined],
      [2, 2, { unacked: 2, limit: 2, global: true }],
    ]);
    // the message rows carry it too
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message' && e.channel === 1 && e.method.name === 'basic.deliver');
    expect(messages.map((e) => e.insight?.prefetchFull?.limit)).toEqual([undefined, undefined, 2, undefined, undefined, 2]);
    const [ackOne, ackAll] = method(events, 'basic.ack', 'c2s');
    expect(full(ackOne!)).toEqual({ unacked: 2, limit: 2, global: false }); // b is still full
    expect(full(ackAll!)).toBeUndefined();
    expect(full(method(events, 'basic.nack')[0]!)).toBeUndefined();
  });

  it('flags publishes the client sends while blocked, and says how long it was blocked', () => {
    const publish = (body: string): Step[] => [
      ['c2s', m(1, 'basic.publish', { exchange: '', 'routing-key': 'q' })],
      ...encodeContentFrames(1, 60, {}, Buffer.from(body), 4096).map((f): Step => ['c2s', f]),
    ];
    const events = run([
      ...handshake,
      ...publish('before'),
      ['s2c', m(0, 'connection.blocked', { reason: 'low on memory' })],
      ...publish('while'),
      ...publish('still'),
      ['s2c', m(0, 'connection.unblocked', {})],
      ...publish('after'),
    ]);
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
    expect(messages.map((e) => [Buffer.from(e.body).toString(), e.insight?.whileBlocked ?? false])).toEqual([
      ['before', false],
      ['while', true],
      ['still', true],
      ['after', false],
    ]);
    const blocked = method(events, 'connection.blocked')[0]!;
    const unblocked = method(events, 'connection.unblocked')[0]!;
    expect(unblocked.insight?.blockedMicros).toBe(unblocked.ts - blocked.ts);
    expect(unblocked.insight?.blockedMicros).toBeGreaterThan(0);
  });

  it('a no-wait request expects no reply', () => {
    const events = run([...handshake, ['c2s', m(1, 'queue.declare', { queue: 'q', nowait: true })]]);
    expect(method(events, 'queue.declare')[0]!.insight?.noWait).toBe(true);
    expect(events.at(-1)).toMatchObject({ kind: 'conn.close', unanswered: [] });
  });

  it('gives the same events for every chunk size', () => {
    const steps: Step[] = [
      ...handshake,
      ['c2s', m(1, 'basic.publish', { exchange: 'e' })],
      ...encodeContentFrames(1, 60, { priority: 1 }, Buffer.alloc(300, 2), 128).map((f): Step => ['c2s', f]),
      ['s2c', encodeHeartbeatFrame()],
    ];
    const shape = (events: SpyEvent[]) =>
      events.map((e) => [
        e.kind,
        'raw' in e && e.raw ? Buffer.from(e.raw).toString('hex') : '',
        e.kind === 'message' ? Buffer.from(e.body).toString('hex') : '',
      ]);
    const whole = shape(run(steps));
    for (const chunk of [1, 2, 3, 7, 13, 64]) expect(shape(run(steps, { chunk }))).toEqual(whole);
  });

  it('reports garbage once, stops decoding, and keeps the undecoded bytes', () => {
    const garbage = Buffer.from('\x16\x03\x01\x02\x00 TLS hello, not AMQP', 'latin1');
    const events = run([
      ['s2c', garbage],
      ['s2c', Buffer.from('more')],
    ]);
    const errors = events.filter((e) => e.kind === 'decode.error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ stopped: true, error: { code: 'not-amqp', offset: 0 } });
    const kept = Buffer.concat(events.filter((e) => e.kind === 'bytes').map((e) => (e.kind === 'bytes' && e.data ? e.data : new Uint8Array())));
    expect(kept.equals(Buffer.concat([garbage, Buffer.from('more')]))).toBe(true);
  });

  it('withholds client bytes it cannot decode (they may hold credentials): only their count', () => {
    const undecoded = (events: SpyEvent[]) => events.filter((e): e is UndecodedBytesEvent => e.kind === 'bytes');
    // a protocol it does not decode (0-8): the start-ok after it is not masked, so not shown
    const zeroEight: Step[] = [
      ['c2s', Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0])],
      ['c2s', m(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\0alice\0s3cret!', locale: 'en_US' })],
    ];
    const masked = undecoded(run(zeroEight));
    expect(masked.map((e) => [e.dir, e.data, e.withheld])).toEqual([['c2s', undefined, zeroEight[1]![1].length as number]]);
    const shown = undecoded(run(zeroEight, { showSecrets: true }));
    expect(Buffer.from(shown[0]!.data!).includes(Buffer.from('s3cret!'))).toBe(true);
    // after open-ok: garbage stops decoding, and an update-secret may follow in what is left
    const update = (token: string) => m(0, 'connection.update-secret', { 'new-secret': token, reason: 'r' });
    const later = run([
      ...handshake,
      ['c2s', Buffer.concat([Buffer.of(0x09, 0, 0), update('token-9')])],
      ['c2s', update('token-10')],
      ['s2c', Buffer.of(0x07, 1, 2, 3)],
    ]);
    expect(later.filter((e) => e.kind === 'decode.error').map((e) => e.kind === 'decode.error' && [e.dir, e.error.code, e.stopped])).toEqual([
      ['c2s', 'unknown-frame-type', true],
      ['s2c', 'unknown-frame-type', true],
    ]);
    const spans = undecoded(later);
    expect(spans.map((e) => [e.dir, e.withheld ?? e.data?.length])).toEqual([
      ['c2s', 3 + update('token-9').length],
      ['c2s', update('token-10').length],
      ['s2c', 4],
    ]);
    expect(spans.filter((e) => e.dir === 'c2s').every((e) => e.data === undefined && e.secretData === undefined)).toBe(true);
    expect(Buffer.from(spans[2]!.data!)).toEqual(Buffer.of(0x07, 1, 2, 3)); // the server's bytes hold no credentials
  });

  it('with keepSecrets, withheld bytes travel as secretData for the recorder alone', () => {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    const tap = new ConnectionTap(1, bus, { keepUndecoded: true, keepSecrets: true });
    const startOk = m(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\0alice\0s3cret!', locale: 'en_US' });
    tap.feed('c2s', Buffer.concat([Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0]), startOk]));
    const span = events.find((e): e is UndecodedBytesEvent => e.kind === 'bytes')!;
    expect(span).toMatchObject({ offset: 8, withheld: startOk.length });
    expect(span.data).toBeUndefined();
    expect(Buffer.from(span.secretData!)).toEqual(Buffer.from(startOk));
  });

  it('a header without its method is an unexpected-frame error, and decoding goes on', () => {
    const events = run([
      ...handshake,
      ...encodeContentFrames(1, 60, {}, Buffer.from('x'), 4096).map((f): Step => ['c2s', f]),
      ['c2s', m(1, 'basic.qos', { 'prefetch-count': 5 })],
    ]);
    const errors = events.filter((e) => e.kind === 'decode.error');
    expect(errors[0]).toMatchObject({ error: { code: 'unexpected-frame', channel: 1 }, stopped: false });
    expect(method(events, 'basic.qos')).toHaveLength(1);
  });
});

describe('ConnectionTap words the close from the handshake it saw and how the sockets ended', () => {
  const closeOf = (steps: Step[], end: SocketEnd | string): ConnCloseEvent => {
    const events: SpyEvent[] = [];
    const tap = new ConnectionTap(1, new EventBus([(e) => events.push(e)]), { keepUndecoded: true });
    for (const [dir, bytes] of steps) tap.feed(dir, Buffer.concat(Array.isArray(bytes) ? bytes : [bytes]));
    tap.close(end);
    return events.at(-1) as ConnCloseEvent;
  };
  const clientClose: Step = ['c2s', m(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'Goodbye', 'class-id': 0, 'method-id': 0 })];
  const serverCloseOk: Step = ['s2c', m(0, 'connection.close-ok', {})];
  const forced: Step = [
    's2c',
    m(0, 'connection.close', {
      'reply-code': 320,
      'reply-text': "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
      'class-id': 0,
      'method-id': 0,
    }),
  ];

  it.each<[string, Step[], SocketEnd | string, string]>([
    // RabbitMQ resets its socket after close-ok: still a clean close
    ['a close answered, then a reset', [...handshake, clientClose, serverCloseOk], { by: 'server', how: 'reset' }, 'client closed the connection'],
    [
      'the server closing with an error',
      [...handshake, forced, ['c2s', m(0, 'connection.close-ok', {})]],
      { by: 'server', how: 'closed' },
      'server closed the connection with 320 CONNECTION_FORCED',
    ],
    [
      'a close unanswered, the closer ends the socket',
      [...handshake, clientClose],
      { by: 'client', how: 'closed' },
      'client sent connection.close and closed the socket before close-ok',
    ],
    [
      'a close unanswered, the other side resets',
      [...handshake, forced],
      { by: 'client', how: 'reset' },
      'server sent connection.close with 320 CONNECTION_FORCED; client reset the socket before close-ok',
    ],
    ['no close: a killed client', handshake, { by: 'client', how: 'closed' }, 'client closed the socket without connection.close'],
    ['no close: the server resets', handshake, { by: 'server', how: 'reset' }, 'server reset the socket'],
    [
      'no close: the broker drops a silent client',
      handshake,
      { by: 'server', how: 'closed', detail: 'missed heartbeats from client, timeout: 60s' },
      'server closed the socket without connection.close (missed heartbeats from client, timeout: 60s)',
    ],
    ['the proxy stopping', handshake, { by: 'proxy', how: 'stopped' }, 'proxy stopped'],
    ['an unreachable upstream', [], { by: 'server', how: 'unreachable', detail: 'connection refused' }, 'upstream unreachable: connection refused'],
    // reasons recorded before the vocabulary was one
    ['an old recording\'s "client closed"', handshake, 'client closed', 'client closed the socket without connection.close'],
    [
      'an old recording\'s "upstream reset (ECONNRESET)" after a clean close',
      [...handshake, clientClose, serverCloseOk],
      'upstream reset (ECONNRESET)',
      'client closed the connection',
    ],
    ['words it does not know', handshake, 'reopened in the recording', 'reopened in the recording'],
  ])('%s', (_name, steps, end, reason) => {
    expect(closeOf(steps, end).reason).toBe(reason);
  });

  it('says what the close left: deliveries unacked, publishes unconfirmed', () => {
    const close = closeOf(
      [
        ...handshake,
        ['c2s', m(1, 'confirm.select', {})],
        ['s2c', m(1, 'confirm.select-ok', {})],
        ['c2s', m(1, 'basic.publish', { exchange: '' })],
        ...encodeContentFrames(1, 60, {}, Buffer.from('a'), 4096).map((f): Step => ['c2s', f]),
        ['c2s', m(1, 'basic.publish', { exchange: '' })],
        ...encodeContentFrames(1, 60, {}, Buffer.from('b'), 4096).map((f): Step => ['c2s', f]),
        ['s2c', m(1, 'basic.ack', { 'delivery-tag': 1n })],
        ['c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'c' })],
        ...[1n, 2n, 3n].flatMap((tag): Step[] => [
          ['s2c', m(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': tag, exchange: '', 'routing-key': 'q' })],
          ...encodeContentFrames(1, 60, {}, Buffer.from('x'), 4096).map((f): Step => ['s2c', f]),
        ]),
        ['c2s', m(1, 'basic.ack', { 'delivery-tag': 1n })],
      ],
      { by: 'client', how: 'reset' },
    );
    expect(close).toMatchObject({ reason: 'client reset the socket', socket: { by: 'client', how: 'reset' }, unacked: 2, unconfirmed: 1 });
  });
});

describe('ConnectionTap at close', () => {
  it('reports a frame cut short by the close, and keeps its bytes', () => {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
    const frame = encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 10 });
    tap.feed('s2c', frame.subarray(0, 5));
    tap.feed('s2c', frame.subarray(5, 9));
    tap.close('upstream closed');
    expect(events.map((e) => e.kind)).toEqual(['decode.error', 'bytes', 'conn.close']);
    expect(events[0]).toMatchObject({ dir: 's2c', stopped: true, error: { code: 'truncated', offset: 0 } });
    expect(Buffer.from((events[1] as { data: Uint8Array }).data).equals(Buffer.from(frame.subarray(0, 9)))).toBe(true);
  });

  it("withholds a client frame cut short by the close when it may be a credential's", () => {
    const tail = (frame: Uint8Array) => {
      const events: SpyEvent[] = [];
      const bus = new EventBus([(e) => events.push(e)]);
      const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
      tap.feed('c2s', frame.subarray(0, frame.length - 3));
      tap.close('client closed');
      return events.find((e): e is UndecodedBytesEvent => e.kind === 'bytes')!;
    };
    const update = encodeMethodFrame(0, 'connection.update-secret', { 'new-secret': 'token-cut', reason: 'r' });
    expect(tail(update)).toMatchObject({ withheld: update.length - 3 });
    expect(tail(update).data).toBeUndefined();
    const body = encodeContentFrames(1, 60, {}, Buffer.from('a body'), 4096)[1]!;
    expect(Buffer.from(tail(body).data!)).toEqual(Buffer.from(body.subarray(0, body.length - 3)));
  });
});

describe('ConnectionTap settling at scale', () => {
  it('40k deliveries acked one at a time with multiple=true: each ack settles exactly its delivery', () => {
    const acks: FrameEvent[] = [];
    const deliveries: number[] = [];
    const bus = new EventBus([
      (e) => {
        if (e.kind !== 'frame' || e.frame.type !== 'method') return;
        if (e.frame.method.name === 'basic.deliver') deliveries.push(e.seq);
        else if (e.frame.method.name === 'basic.ack') acks.push(e);
      },
    ]);
    const tap = new ConnectionTap(1, bus, {});
    for (const [dir, bytes] of handshake) tap.feed(dir, Buffer.concat(Array.isArray(bytes) ? bytes : [bytes]));
    tap.feed('c2s', m(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'c' }));
    const n = 40_000;
    const content = Buffer.concat(encodeContentFrames(1, 60, {}, Buffer.from('x'), 4096));
    const frames: Uint8Array[] = [];
    for (let tag = 1; tag <= n; tag++)
      frames.push(m(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': BigInt(tag), exchange: '', 'routing-key': 'q' }), content);
    tap.feed('s2c', Buffer.concat(frames));
    frames.length = 0;
    for (let tag = 1; tag <= n; tag++) frames.push(m(1, 'basic.ack', { 'delivery-tag': BigInt(tag), multiple: true }));
    tap.feed('c2s', Buffer.concat(frames));
    expect(deliveries).toHaveLength(n);
    expect(acks).toHaveLength(n);
    const wrong = acks.findIndex(
      (ack, i) => ack.insight?.settles?.deliverySeqs.length !== 1 || ack.insight.settles.deliverySeqs[0] !== deliveries[i] || ack.insight.unacked !== n - i - 1,
    );
    expect(wrong).toBe(-1);
  });
});

describe('ConnectionTap bounds what it buffers', () => {
  const open = (options: { frameMaxUntilTuneOk?: number } = {}) => {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    return { tap: new ConnectionTap(1, bus, { keepUndecoded: true, ...options }), events };
  };
  /** a frame header declaring `size` payload bytes, without the payload */
  const frameHead = (type: number, channel: number, size: number) => {
    const head = Buffer.alloc(7);
    head[0] = type;
    head.writeUInt16BE(channel, 1);
    head.writeUInt32BE(size, 3);
    return head;
  };
  const stops = (events: SpyEvent[]) => events.filter((e) => e.kind === 'decode.error' && e.stopped);

  it('before tune-ok, a frame declaring 4 GiB stops decoding at once (RabbitMQ: 4096 until tune-ok)', () => {
    const { tap, events } = open();
    tap.feed('c2s', encodeProtocolHeader());
    tap.feed('c2s', frameHead(1, 0, 0xfffffff0));
    for (let i = 0; i < 16; i++) tap.feed('c2s', Buffer.alloc(1024 * 1024, i));
    expect(tap.buffered).toBe(0);
    expect(stops(events)).toMatchObject([{ dir: 'c2s', error: { code: 'frame-too-large', offset: 8 } }]);
    // a start-ok of 4096 + 8 bytes is still read, as RabbitMQ reads it
    const fits = open();
    fits.tap.feed('c2s', encodeProtocolHeader());
    fits.tap.feed('c2s', Buffer.concat([frameHead(1, 0, 4096), Buffer.alloc(4096), Buffer.of(0xce)]));
    expect(fits.events.filter((e) => e.kind === 'decode.error').map((e) => e.kind === 'decode.error' && e.error.code)).not.toContain('frame-too-large');
  });

  it('after tune-ok, the bound is frame-max + 8; with frame-max 0 ("no limit") a 128 MiB cap', () => {
    const tuned = (frameMax: number) => {
      const t = open();
      t.tap.feed('c2s', Buffer.concat([encodeProtocolHeader(), m(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': frameMax, heartbeat: 0 })]));
      return t;
    };
    const small = tuned(8192);
    small.tap.feed('c2s', frameHead(3, 1, 8192 + 1));
    expect(stops(small.events)).toMatchObject([{ error: { code: 'frame-too-large' } }]);
    expect(small.tap.buffered).toBe(0);
    const none = tuned(0);
    none.tap.feed(
      'c2s',
      Buffer.concat([
        m(1, 'basic.publish', {}),
        encodeContentHeaderFrame(1, { classId: 60, bodySize: 5_000_000 }),
        frameHead(3, 1, 5_000_000),
        Buffer.alloc(5_000_000),
        Buffer.of(0xce),
      ]),
    );
    expect(none.events.filter((e) => e.kind === 'message').length).toBe(1);
    none.tap.feed('c2s', frameHead(3, 1, 0xfffffff0));
    none.tap.feed('c2s', Buffer.alloc(1024 * 1024));
    expect(stops(none.events)).toMatchObject([{ error: { code: 'frame-too-large' } }]);
    expect(none.tap.buffered).toBe(0);
  });

  it('tune-ok applies to the frames after it in the same chunk', () => {
    const { tap, events } = open();
    const body = Buffer.alloc(100_000, 3);
    tap.feed(
      'c2s',
      Buffer.concat([
        encodeProtocolHeader(),
        m(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': 131072, heartbeat: 0 }),
        m(0, 'connection.open', { 'virtual-host': '/' }),
        m(1, 'channel.open', {}),
        m(1, 'basic.publish', { exchange: '', 'routing-key': 'q' }),
        ...encodeContentFrames(1, 60, {}, body, 131072),
      ]),
    );
    expect(events.filter((e) => e.kind === 'decode.error')).toEqual([]);
    expect(events.filter((e): e is MessageEvent => e.kind === 'message').map((e) => e.body.length)).toEqual([100_000]);
  });

  it('a file decoded from mid-stream has no handshake bound (frameMaxUntilTuneOk 0)', () => {
    const { tap, events } = open({ frameMaxUntilTuneOk: 0 });
    tap.feed(
      's2c',
      Buffer.concat([
        m(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': 1n, exchange: '', 'routing-key': 'q' }),
        ...encodeContentFrames(1, 60, {}, Buffer.alloc(200_000), 0),
      ]),
    );
    expect(events.filter((e) => e.kind === 'decode.error')).toEqual([]);
    expect(events.filter((e) => e.kind === 'message')).toHaveLength(1);
  });

  it('at a close after frames it was not given, claims neither a missing connection.close nor what was left open', () => {
    const { events, tap } = withUnconfirmedPublish();
    let ts = 2_000_000;
    // the ack, connection.close and close-ok went by while the UI was behind
    const close = m(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 });
    tap.skip('c2s', close.length, (ts += 500));
    tap.skip('s2c', 21 + 12, (ts += 500));
    tap.close({ by: 'server', how: 'closed' }, (ts += 500));
    const closed = events.at(-1) as ConnCloseEvent;
    expect(closed.kind).toBe('conn.close');
    expect(closed.reason).not.toContain('without connection.close');
    expect(closed.reason).toBe('server closed the socket; some of its frames were not shown (the screen fell behind), so what it left open is not known');
    expect(closed).toMatchObject({ unanswered: [], unacked: 0, unconfirmed: 0 });
    expect(formatEventLine(closed)).not.toContain('unconfirmed');
  });

  it('with every frame seen, a close without the handshake still says so, with what was left open', () => {
    const { events, tap } = withUnconfirmedPublish();
    let ts = 2_000_000;
    tap.close({ by: 'server', how: 'closed' }, (ts += 500));
    expect(events.at(-1)).toMatchObject({ kind: 'conn.close', reason: 'server closed the socket without connection.close', unconfirmed: 1 });
  });
});
