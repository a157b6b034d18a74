// The fault engine on its own, bytes in and writes out (no sockets, no broker): what it
// forwards is exactly what came when no rule acts, however the reads cut the frames; and its
// rewriting of publisher confirms, frame by frame.
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeContentHeaderFrame, encodeFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { Direction } from '../../src/events.js';
import { FaultEngine } from '../../src/fault/fault-engine.js';
import { parseFaultRule } from '../../src/fault/fault-rule.js';
import type { InterposedSide, RelayControl } from '../../src/proxy/interposer.js';

interface Written {
  readonly forwarded: Record<Direction, Buffer[]>;
  /** every write in order: `dir op` and the frame's method name (or the bytes' length) */
  readonly log: string[];
}

function harness(rules: readonly string[], random?: () => number) {
  const written: Written = { forwarded: { c2s: [], s2c: [] }, log: [] };
  const name = (bytes: Uint8Array): string => {
    const item = new FrameParser({ expectProtocolHeader: false }).push(bytes)[0];
    if (item?.kind !== 'frame') return `${bytes.length} B`;
    const decoded = decodeFrame(item.frame);
    if (decoded.type !== 'method') return decoded.type;
    const args = decoded.method.args;
    return `${decoded.method.name}${args['delivery-tag'] !== undefined ? ` ${args['delivery-tag']}${args['multiple'] ? ' multiple' : ''}` : ''}`;
  };
  const side = (dir: Direction): InterposedSide => ({
    forward: (bytes) => written.forwarded[dir].push(Buffer.from(bytes)),
    inject: (frame) => {
      written.forwarded[dir].push(Buffer.from(frame));
      written.log.push(`${dir} inject ${name(frame)}`);
    },
    suppress: (frame) => written.log.push(`${dir} suppress ${name(frame)}`),
    holdSender: (held) => written.log.push(`${dir} hold ${held}`),
    end: () => written.log.push(`${dir} end`),
  });
  const control: RelayControl = { id: 1, c2s: side('c2s'), s2c: side('s2c'), cut: (how) => written.log.push(`cut ${how}`) };
  const stage = new FaultEngine(
    rules.map((r) => parseFaultRule(r)),
    random ? { random } : {},
  ).open(control);
  const connection = {
    data: (dir: Direction, bytes: Uint8Array) => stage.data(dir, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)),
    ended: (dir: Direction) => stage.ended(dir),
  };
  return { written, connection };
}

const opening = {
  c2s: [
    encodeProtocolHeader(),
    encodeMethodFrame(0, 'connection.start-ok', { 'client-properties': { entries: [] }, mechanism: 'PLAIN', response: '\0guest\0guest', locale: 'en_US' }),
    encodeMethodFrame(0, 'connection.open', { 'virtual-host': '/' }),
    encodeMethodFrame(1, 'channel.open'),
  ],
  s2c: [encodeMethodFrame(0, 'connection.open-ok'), encodeMethodFrame(1, 'channel.open-ok')],
};

describe('the fault engine', () => {
  it('forwards every byte as it came when no rule acts, however reads cut the frames', () => {
    const c2s = Buffer.concat([
      ...opening.c2s,
      encodeMethodFrame(1, 'basic.publish', { exchange: 'x', 'routing-key': 'k' }),
      encodeContentHeaderFrame(1, { classId: 60, bodySize: 3000, properties: {} }),
      encodeFrame(3, 1, Buffer.alloc(3000, 7)),
    ]);
    for (const step of [1, 7, 100, 4096]) {
      const { written, connection } = harness(['close-channel=404 when method:queue.delete', 'delay=1s when method:basic.get']);
      for (let at = 0; at < c2s.length; at += step) connection.data('c2s', c2s.subarray(at, at + step));
      expect(Buffer.concat(written.forwarded.c2s).equals(c2s)).toBe(true);
      expect(written.log).toEqual([]);
    }
  });

  it('forwards bytes that are not AMQP frames unchanged, and acts no more on that connection', () => {
    const { written, connection } = harness(['close-channel=404']);
    const garbage = Buffer.concat([encodeProtocolHeader(), Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9])]);
    connection.data('c2s', garbage);
    connection.data('c2s', Buffer.from('more'));
    connection.data('s2c', encodeMethodFrame(1, 'channel.open-ok'));
    expect(Buffer.concat(written.forwarded.c2s).equals(Buffer.concat([garbage, Buffer.from('more')]))).toBe(true);
    expect(written.log).toEqual([]);
  });

  it.each([
    ['2 and 4 of 5, one multiple ack', [2, 4], [[5, true]], ['basic.ack 1', 'basic.nack 2', 'basic.ack 3', 'basic.nack 4', 'basic.ack 5']],
    ['2 and 3 of 5, one multiple ack', [2, 3], [[5, true]], ['basic.ack 1', 'basic.nack 3 multiple', 'basic.ack 5 multiple']],
    // the multiple ack after it settles 1, 2, 4, 5, none chosen: it goes through as it is
    [
      '3 of 5, single acks out of order',
      [3],
      [
        [3, false],
        [5, true],
      ],
      ['basic.nack 3'],
    ],
  ])('splits the broker’s confirms: %s', (_what, chosen, acks, expected) => {
    const rules = chosen.map((n) => `nack when method:basic.publish after=${n - 1} times=1`);
    const { written, connection } = harness(rules);
    for (const frame of opening.c2s) connection.data('c2s', frame);
    for (const frame of opening.s2c) connection.data('s2c', frame);
    connection.data('c2s', encodeMethodFrame(1, 'confirm.select'));
    connection.data('s2c', encodeMethodFrame(1, 'confirm.select-ok'));
    for (let i = 0; i < 5; i++) connection.data('c2s', encodeMethodFrame(1, 'basic.publish', { 'routing-key': 'k' }));
    for (const [tag, multiple] of acks as [number, boolean][]) connection.data('s2c', encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': tag, multiple }));
    const injected = written.log.filter((l) => l.startsWith('s2c inject')).map((l) => l.slice('s2c inject '.length));
    expect(injected).toEqual(expected);
    expect(written.log.filter((l) => l.startsWith('s2c suppress'))).toEqual([`s2c suppress basic.ack ${acks[0]![0]}${acks[0]![1] ? ' multiple' : ''}`]);
  });

  /** A connection past its handshake with channel 1 open, through `rules`. */
  function opened(rules: readonly string[]) {
    const h = harness(rules);
    for (const frame of opening.c2s) h.connection.data('c2s', frame);
    for (const frame of opening.s2c) h.connection.data('s2c', frame);
    return h;
  }

  it('close-channel on a publish: answers once its body has come, swallows the channel until both close-oks', () => {
    const { written, connection } = opened(['close-channel=404 when method:basic.publish exchange:orders']);
    connection.data('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders' }));
    connection.data('c2s', encodeContentHeaderFrame(1, { classId: 60, bodySize: 10, properties: {} }));
    expect(written.log.some((l) => l.includes('inject'))).toBe(false); // not before the body
    connection.data('c2s', encodeFrame(3, 1, Buffer.alloc(6)));
    connection.data('c2s', encodeFrame(3, 1, Buffer.alloc(4)));
    connection.data('s2c', encodeMethodFrame(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': 1 }));
    connection.data('c2s', encodeMethodFrame(1, 'channel.close-ok'));
    // the client opens channel 1 again before the broker has closed the old one: held till then
    connection.data('c2s', encodeMethodFrame(1, 'channel.open'));
    expect(written.log.at(-1)).toBe('c2s suppress channel.close-ok');
    connection.data('s2c', encodeMethodFrame(1, 'channel.close-ok'));
    expect(written.log).toEqual([
      'c2s suppress basic.publish',
      'c2s suppress header',
      'c2s suppress body',
      'c2s suppress body',
      's2c inject channel.close',
      'c2s inject channel.close',
      's2c suppress basic.deliver 1',
      'c2s suppress channel.close-ok',
      's2c suppress channel.close-ok',
    ]);
    const c2sAfter = Buffer.concat(written.forwarded.c2s);
    expect(c2sAfter.subarray(c2sAfter.length - encodeMethodFrame(1, 'channel.open').length).equals(Buffer.from(encodeMethodFrame(1, 'channel.open')))).toBe(
      true,
    );
  });

  it('close-channel crossed by the client’s own channel.close: answered with close-ok, as RabbitMQ does', () => {
    const { written, connection } = opened(['close-channel=406 when method:basic.qos']);
    connection.data('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 5 }));
    connection.data('c2s', encodeMethodFrame(1, 'channel.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 }));
    expect(written.log.slice(-2)).toEqual(['c2s suppress channel.close', 's2c inject channel.close-ok']);
  });

  it('close-connection: each side’s FIN waits for its close-ok', () => {
    const h = opened(['close-connection=320 when dir:s2c method:basic.deliver']);
    h.connection.data('s2c', encodeMethodFrame(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': 1 }));
    expect(h.written.log).toEqual(['s2c suppress basic.deliver 1', 's2c inject connection.close', 'c2s inject connection.close']);
    // the client answers and ends at once; the broker ends after its close-ok
    h.connection.data('c2s', encodeMethodFrame(0, 'connection.close-ok'));
    h.connection.ended('c2s');
    expect(h.written.log.slice(3)).toEqual(['c2s suppress connection.close-ok']); // no FIN to the broker yet
    h.connection.data('s2c', encodeMethodFrame(0, 'connection.close-ok'));
    h.connection.ended('s2c');
    expect(h.written.log.slice(4)).toEqual(['s2c suppress connection.close-ok', 'c2s end', 's2c end']);
  });

  it('cut=mid-frame forwards half the matching frame, then cuts; nothing after it passes', () => {
    const { written, connection } = opened(['cut=mid-frame when method:basic.publish']);
    const before = Buffer.concat(written.forwarded.c2s).length;
    const publish = encodeMethodFrame(1, 'basic.publish', { exchange: 'x', 'routing-key': 'k' });
    connection.data('c2s', Buffer.concat([publish, encodeContentHeaderFrame(1, { classId: 60, bodySize: 0, properties: {} })]));
    connection.data('s2c', encodeMethodFrame(1, 'channel.flow', { active: true }));
    const all = Buffer.concat(written.forwarded.c2s);
    expect(all.length - before).toBe(publish.length >> 1);
    expect(all.subarray(before).equals(Buffer.from(publish).subarray(0, publish.length >> 1))).toBe(true);
    expect(written.log).toEqual(['cut fin']);
    expect(Buffer.concat(written.forwarded.s2c).length).toBe(Buffer.concat(opening.s2c).length);
  });

  it('reset after-bytes=N cuts N bytes after the start of the matching frame, inside the body it falls in', () => {
    const { written, connection } = opened(['reset after-bytes=40 when method:basic.publish']);
    const before = Buffer.concat(written.forwarded.c2s).length;
    const message = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'k' }),
      encodeContentHeaderFrame(1, { classId: 60, bodySize: 100, properties: {} }),
      encodeFrame(3, 1, Buffer.alloc(100, 9)),
    ]);
    connection.data('c2s', message);
    expect(Buffer.concat(written.forwarded.c2s).subarray(before).equals(message.subarray(0, 40))).toBe(true);
    expect(written.log).toEqual(['cut reset']);
  });

  it('delay holds the matching frame and what follows it in its direction, in order; the other direction goes on', async () => {
    const { written, connection } = opened(['delay=60ms when method:basic.qos']);
    const start = Date.now();
    const c2sBefore = Buffer.concat(written.forwarded.c2s).length;
    const s2cBefore = Buffer.concat(written.forwarded.s2c).length;
    const qos = encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 1 });
    const after = encodeMethodFrame(1, 'basic.recover', { requeue: true });
    connection.data('c2s', qos);
    connection.data('c2s', after);
    connection.data('s2c', encodeMethodFrame(1, 'channel.flow', { active: true }));
    expect(Buffer.concat(written.forwarded.c2s).length).toBe(c2sBefore);
    expect(Buffer.concat(written.forwarded.s2c).length).toBeGreaterThan(s2cBefore);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(
      Buffer.concat(written.forwarded.c2s)
        .subarray(c2sBefore)
        .equals(Buffer.concat([qos, after])),
    ).toBe(true);
    expect(Date.now() - start).toBeGreaterThanOrEqual(60);
  });

  it('counts matches for after=, draws for probability=, disarms after times= and duration=', async () => {
    const draws = [0.9, 0.1, 0.1, 0.1];
    const { written, connection } = harness(['drop-heartbeats when dir:s2c after=1 times=2 probability=0.5'], () => draws.shift() ?? 0);
    for (let i = 0; i < 6; i++) connection.data('s2c', encodeFrame(8, 0, new Uint8Array(0)));
    // 1: let through (after=1); 2: drawn 0.9, not fired; 3 and 4: fired; then disarmed
    expect(written.log).toEqual(['s2c suppress heartbeat', 's2c suppress heartbeat']);
    expect(Buffer.concat(written.forwarded.s2c).length).toBe(4 * 8);
    const timed = harness(['drop-heartbeats duration=30ms']);
    timed.connection.data('c2s', encodeFrame(8, 0, new Uint8Array(0)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    timed.connection.data('c2s', encodeFrame(8, 0, new Uint8Array(0)));
    expect(timed.written.log).toEqual(['c2s suppress heartbeat']);
  });
});
