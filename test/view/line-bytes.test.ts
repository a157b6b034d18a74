// The headless printer's byte-level lines must be exactly formatEventLine's text, UTF-8.
import { describe, expect, it } from 'vitest';
import { fieldTable, typed } from '../../src/decoder/field-table.js';
import { encodeContentHeaderFrame, encodeFrame, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { EventBus, type SpyEvent } from '../../src/events.js';
import { LineBuffers } from '../../src/output/line-buffers.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { formatEventLine, type LineOptions } from '../../src/view/format.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';
import { writeEventLine } from '../../src/view/line-bytes.js';
import { capturedSession } from '../support/fixtures.js';

type Feed = Uint8Array | { s2c: Uint8Array };

/** Every event a tap makes of the given frames (c2s unless marked s2c), on connection `conn`. */
function events(feeds: readonly Feed[], conn = 7): SpyEvent[] {
  const out: SpyEvent[] = [];
  const bus = new EventBus([(e) => out.push(e)], (f) => {
    throw f.error;
  });
  bus.emit({
    kind: 'conn.open',
    seq: bus.nextSeq(),
    ts: 1_700_000_000_000_000,
    conn,
    client: { address: '127.0.0.1', port: 40001 },
    server: { address: '::1', port: 5672 },
  });
  const tap = new ConnectionTap(conn, bus, { keepUndecoded: true });
  let t = 1_700_000_000_000_000;
  for (const f of feeds) {
    if (f instanceof Uint8Array) tap.feed('c2s', f, (t += 1234));
    else tap.feed('s2c', f.s2c, (t += 987));
  }
  tap.close('client closed', t + 5);
  return out;
}

function asBytes(list: readonly SpyEvent[], options: LineOptions, batchBytes = 64 * 1024): string[] {
  const out = new LineBuffers(batchBytes);
  for (const e of list) {
    out.beginLine();
    writeEventLine(out, e, options);
    out.endLine();
  }
  out.seal();
  return Buffer.concat(out.takeSealed().buffers).toString('utf8').split('\n').slice(0, -1);
}

const publish = (channel: number, exchange: string, routingKey: string, body: Uint8Array, properties: Record<string, unknown> = {}) => [
  encodeMethodFrame(channel, 'basic.publish', { exchange, 'routing-key': routingKey, mandatory: true }),
  encodeContentHeaderFrame(channel, { classId: 60, bodySize: body.length, properties: properties as never }),
  ...(body.length > 0 ? [encodeFrame(3, channel, body)] : []),
];

const deliver = (channel: number, tag: bigint, routingKey: string, body: Uint8Array) => [
  {
    s2c: encodeMethodFrame(channel, 'basic.deliver', {
      'consumer-tag': 'amq.ctag-xyz',
      'delivery-tag': tag,
      redelivered: tag % 2n === 0n,
      exchange: 'orders',
      'routing-key': routingKey,
    }),
  },
  { s2c: encodeContentHeaderFrame(channel, { classId: 60, bodySize: body.length, properties: {} }) },
  ...(body.length > 0 ? [{ s2c: encodeFrame(3, channel, body) }] : []),
];

// values that need quotes, cuts or escapes; sizes around the unit steps; every insight kind
const tricky: Feed[] = [
  encodeMethodFrame(1, 'channel.open', {}),
  { s2c: encodeMethodFrame(1, 'channel.open-ok', {}) },
  encodeMethodFrame(1, 'confirm.select', {}),
  { s2c: encodeMethodFrame(1, 'confirm.select-ok', {}) },
  encodeMethodFrame(1, 'queue.declare', {
    queue: 'naïve "quoted" = {x} [y], ✓ 😀',
    durable: true,
    arguments: fieldTable({
      'x-message-ttl': typed('l', 2n ** 60n),
      'x-bytes': typed('x', new Uint8Array([0, 255])),
      'x-nested': fieldTable({ a: [1, 'two'] }),
    }),
  }),
  { s2c: encodeMethodFrame(1, 'queue.declare-ok', { queue: 'naïve "quoted" = {x} [y], ✓ 😀', 'message-count': 4_000_000_000, 'consumer-count': 0 }) },
  ...publish(1, '', 'plain.key', new Uint8Array(16), { 'content-type': 'application/json' }),
  ...publish(1, 'orders', 'with space', new Uint8Array(1023), { 'content-type': 'text/plain; charset=utf-8' }),
  ...publish(1, 'orders', 'k'.repeat(119), new Uint8Array(1024)),
  ...publish(1, 'orders', 'k'.repeat(120), new Uint8Array(0)),
  ...publish(1, 'orders', 'k'.repeat(121), new Uint8Array(3 * 1024 * 1024 + 5)),
  ...publish(1, 'ex=change', 'é', new Uint8Array(1)),
  { s2c: encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true }) },
  { s2c: encodeMethodFrame(1, 'basic.nack', { 'delivery-tag': 3n, multiple: false, requeue: true }) },
  encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': 2 }),
  encodeMethodFrame(1, 'basic.consume', { queue: 'q', 'consumer-tag': '', 'no-ack': false }),
  { s2c: encodeMethodFrame(1, 'basic.consume-ok', { 'consumer-tag': 'amq.ctag-xyz' }) },
  ...deliver(1, 1n, 'plain.key', new Uint8Array(16)),
  ...deliver(1, 2n ** 53n + 1n, 'a,b', new Uint8Array(2048)),
  ...deliver(1, 18_446_744_073_709_551_615n, '', new Uint8Array(0)),
  encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 1n, multiple: false }),
  encodeMethodFrame(1, 'basic.reject', { 'delivery-tag': 99n, requeue: false }),
  { s2c: encodeMethodFrame(1, 'basic.return', { 'reply-code': 312, 'reply-text': 'NO_ROUTE', exchange: 'orders', 'routing-key': 'nowhere' }) },
  { s2c: encodeContentHeaderFrame(1, { classId: 60, bodySize: 2, properties: { 'content-type': '' } }) },
  { s2c: encodeFrame(3, 1, new Uint8Array(2)) },
  encodeMethodFrame(65535, 'queue.bind', { queue: 'q', exchange: 'e', 'routing-key': 'r', nowait: true }),
  encodeMethodFrame(2, 'exchange.declare', { exchange: 'bad', type: 'direct', durable: true }),
  {
    s2c: encodeMethodFrame(2, 'channel.close', {
      'reply-code': 406,
      'reply-text': 'PRECONDITION_FAILED - inequivalent arg ‘durable’',
      'class-id': 40,
      'method-id': 10,
    }),
  },
  encodeHeartbeatFrame(),
  encodeFrame(3, 9, new Uint8Array(3)), // a body with no header: a decode error
  // a publish cut short by its channel's error close
  encodeMethodFrame(4, 'basic.publish', { exchange: 'big', 'routing-key': 'r' }),
  encodeContentHeaderFrame(4, { classId: 60, bodySize: 4096, properties: { 'content-type': 'application/json' } }),
  encodeFrame(3, 4, new Uint8Array(100)),
  {
    s2c: encodeMethodFrame(4, 'channel.close', {
      'reply-code': 406,
      'reply-text': 'PRECONDITION_FAILED - message size 4096 is larger than configured max size 100',
      'class-id': 60,
      'method-id': 40,
    }),
  },
  encodeFrame(3, 4, new Uint8Array(3996)),
  // a channel-wide prefetch limit reached; a blocked connection and what it publishes meanwhile
  encodeMethodFrame(3, 'channel.open', {}),
  encodeMethodFrame(3, 'basic.qos', { 'prefetch-count': 1, global: true }),
  encodeMethodFrame(3, 'basic.consume', { queue: 'q', 'consumer-tag': 'c3' }),
  { s2c: encodeMethodFrame(3, 'basic.deliver', { 'consumer-tag': 'c3', 'delivery-tag': 1n, exchange: '', 'routing-key': 'full' }) },
  { s2c: encodeContentHeaderFrame(3, { classId: 60, bodySize: 0, properties: {} }) },
  { s2c: encodeMethodFrame(0, 'connection.blocked', { reason: 'low on memory' }) },
  ...publish(1, 'orders', 'while.blocked', new Uint8Array(5)),
  { s2c: encodeMethodFrame(0, 'connection.unblocked', {}) },
];

describe('headless lines written as bytes', () => {
  const { c2s, s2c } = capturedSession();
  const captured = events([c2s, { s2c }], 3);
  const unusual = events(tricky, 123_456);

  it('equal formatEventLine for a captured amqplib session and for unusual values', () => {
    for (const list of [captured, unusual]) {
      const expected = list.map((e) => formatEventLine(e, {}));
      expect(asBytes(list, {})).toEqual(expected);
    }
    // the fast paths were taken: message and method lines are most of the captured session
    expect(captured.filter((e) => e.kind === 'message').length).toBeGreaterThan(5);
  });

  it('equal formatEventLine with colour and with stream offsets (the general path)', () => {
    for (const options of [{ color: true }, { position: 'offset' as const }]) {
      expect(asBytes(unusual, options)).toEqual(unusual.map((e) => formatEventLine(e, options)));
    }
  });

  it('are the same when buffers fill up inside any line', () => {
    const expected = unusual.map((e) => formatEventLine(e, {}));
    for (const batch of [1, 7, 64, 333]) expect(asBytes(unusual, {}, batch)).toEqual(expected);
  });

  it("reach the printer's output unchanged", () => {
    let text = '';
    const printer = createHeadlessPrinter({
      write: (chunk) => {
        text += Buffer.from(chunk).toString('utf8');
      },
      mode: 'frames',
    });
    for (const e of unusual) printer(e);
    printer.flush();
    const shown = unusual.filter((e) => e.kind !== 'message');
    expect(text).toBe(shown.map((e) => `${formatEventLine(e, {})}\n`).join(''));
  });
});
