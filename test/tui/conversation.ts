// A scripted AMQP conversation fed byte by byte through the real ConnectionTap, so the TUI's
// tests see the events (with protocol insight) that a proxy session would give them.

import { encodeContentFrames, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type Direction, type SpyEvent } from '../../src/events.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';

export const JSON_BODY = '{"id":42,"item":"book","tags":["a","b"]}';
export const TEXT_BODY = 'hello plain text';
export const BINARY_BODY = new Uint8Array([0, 1, 2, 3, 0xff, 0xfe, 0, 9, 0x80, 0x81]);

export class Conversation {
  readonly events: SpyEvent[] = [];
  private readonly bus = new EventBus([(e) => this.events.push(e)], (failure) => {
    throw failure.error;
  });
  private readonly tap: ConnectionTap;
  private clock = 1_700_000_000_000_000;

  constructor(readonly conn = 1) {
    this.bus.emit({
      kind: 'conn.open',
      seq: this.bus.nextSeq(),
      ts: this.clock,
      conn,
      client: { address: '127.0.0.1', port: 40000 + conn },
      server: { address: '127.0.0.1', port: 5672 },
    });
    this.tap = new ConnectionTap(conn, this.bus);
  }

  send(dir: Direction, ...frames: Uint8Array[]): this {
    for (const frame of frames) {
      this.clock += 1500;
      this.tap.feed(dir, frame, this.clock);
    }
    return this;
  }

  close(reason = 'client closed'): this {
    this.tap.close(reason);
    return this;
  }
}

/** Handshake, a confirm channel, a declare with nested arguments, three publishes (JSON, text, binary), a consumer, acks, heartbeats, and a 404 close. */
export function sampleConversation(conn = 1): Conversation {
  const c = new Conversation(conn);
  const m = encodeMethodFrame;
  c.send('c2s', encodeProtocolHeader());
  c.send(
    's2c',
    m(0, 'connection.start', {
      'version-major': 0,
      'version-minor': 9,
      'server-properties': fieldTable({ product: 'RabbitMQ' }),
      mechanisms: 'PLAIN',
      locales: 'en_US',
    }),
  );
  c.send(
    'c2s',
    m(0, 'connection.start-ok', {
      'client-properties': fieldTable({ product: 'amqplib', version: '0.10.3', platform: 'Node.JS v20' }),
      mechanism: 'PLAIN',
      response: '\u0000guest\u0000guest',
      locale: 'en_US',
    }),
  );
  c.send('s2c', m(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 }));
  c.send('c2s', m(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 30 }));
  c.send('c2s', m(0, 'connection.open', { 'virtual-host': '/prod' }));
  c.send('s2c', m(0, 'connection.open-ok', {}));
  c.send('c2s', m(1, 'channel.open', {}));
  c.send('s2c', m(1, 'channel.open-ok', {}));
  c.send('c2s', m(1, 'confirm.select', {}));
  c.send('s2c', m(1, 'confirm.select-ok', {}));
  c.send('c2s', m(1, 'basic.qos', { 'prefetch-count': 10 }));
  c.send('s2c', m(1, 'basic.qos-ok', {}));
  c.send(
    'c2s',
    m(1, 'queue.declare', {
      queue: 'jobs',
      durable: true,
      arguments: fieldTable({ 'x-max-length': 100, 'x-policy': fieldTable({ mode: 'lazy', limits: [1, 'two'] }) }),
    }),
  );
  c.send('s2c', m(1, 'queue.declare-ok', { queue: 'jobs', 'message-count': 0, 'consumer-count': 0 }));
  const publish = (rk: string, body: Uint8Array, properties: Record<string, unknown>) =>
    c.send('c2s', m(1, 'basic.publish', { exchange: 'orders', 'routing-key': rk }), ...encodeContentFrames(1, 60, properties, body, 131072));
  publish('order.created', new TextEncoder().encode(JSON_BODY), { 'content-type': 'application/json', headers: fieldTable({ 'x-trace': 'abc' }) });
  publish('order.note', new TextEncoder().encode(TEXT_BODY), { 'content-type': 'text/plain' });
  publish('order.blob', BINARY_BODY, {});
  c.send('s2c', m(1, 'basic.ack', { 'delivery-tag': 3n, multiple: true }));
  c.send('c2s', m(1, 'basic.consume', { queue: 'jobs', 'consumer-tag': '' }));
  c.send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag-1' }));
  c.send(
    's2c',
    m(1, 'basic.deliver', { 'consumer-tag': 'ctag-1', 'delivery-tag': 1n, exchange: 'orders', 'routing-key': 'order.created' }),
    ...encodeContentFrames(1, 60, { 'content-type': 'application/json' }, new TextEncoder().encode(JSON_BODY), 131072),
  );
  c.send(
    's2c',
    m(1, 'basic.deliver', { 'consumer-tag': 'ctag-1', 'delivery-tag': 2n, exchange: 'orders', 'routing-key': 'order.note' }),
    ...encodeContentFrames(1, 60, {}, new TextEncoder().encode(TEXT_BODY), 131072),
  );
  c.send('c2s', m(1, 'basic.ack', { 'delivery-tag': 1n }));
  c.send('c2s', encodeHeartbeatFrame());
  c.send('s2c', encodeHeartbeatFrame());
  c.send('c2s', m(1, 'basic.publish', { exchange: 'missing', 'routing-key': 'x' }), ...encodeContentFrames(1, 60, {}, new TextEncoder().encode('x'), 131072));
  c.send(
    's2c',
    m(1, 'channel.close', { 'reply-code': 404, 'reply-text': "NOT_FOUND - no exchange 'missing' in vhost '/prod'", 'class-id': 60, 'method-id': 40 }),
  );
  c.send('c2s', m(1, 'channel.close-ok', {}));
  return c;
}

/** The first event that satisfies a predicate (throws so a test fails clearly). */
export function findEvent<T extends SpyEvent>(events: readonly SpyEvent[], predicate: (e: SpyEvent) => e is T): T;
export function findEvent(events: readonly SpyEvent[], predicate: (e: SpyEvent) => boolean): SpyEvent;
export function findEvent(events: readonly SpyEvent[], predicate: (e: SpyEvent) => boolean): SpyEvent {
  const found = events.find(predicate);
  if (!found) throw new Error('no such event in the conversation');
  return found;
}

export function methodNameOf(e: SpyEvent): string | undefined {
  if (e.kind === 'message') return e.method.name;
  if (e.kind === 'frame' && e.frame.type === 'method') return e.frame.method.name;
  return undefined;
}
