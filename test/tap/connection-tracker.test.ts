// The connection tracker reads a session's events as the tap gives them: bytes are encoded
// with the codec, cut by the real ConnectionTap, and fed to the tracker through the bus.
import { describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type Direction, type SpyEvent } from '../../src/events.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { ConnectionTracker, MAX_CLOSED_CONNECTIONS } from '../../src/tap/connection-tracker.js';

const m = encodeMethodFrame;

/** A session: one bus feeding the tracker, connections opened on it with their own taps. */
class Session {
  readonly tracker = new ConnectionTracker();
  readonly events: SpyEvent[] = [];
  readonly bus = new EventBus([(e) => this.events.push(e), (e) => this.tracker.observe(e)], (failure) => {
    throw failure.error;
  });
  clock = 1_700_000_000_000_000;

  open(conn: number): Client {
    this.bus.emit({
      kind: 'conn.open',
      seq: this.bus.nextSeq(),
      ts: this.clock,
      conn,
      client: { address: '10.0.0.1', port: 50000 + conn },
      server: { address: '10.0.0.2', port: 5672 },
    });
    return new Client(this, new ConnectionTap(conn, this.bus));
  }
}

class Client {
  constructor(
    private readonly session: Session,
    private readonly tap: ConnectionTap,
  ) {}

  send(dir: Direction, ...frames: Uint8Array[]): this {
    for (const frame of frames) this.tap.feed(dir, frame, (this.session.clock += 1000));
    return this;
  }

  /** Protocol header, start/start-ok, tune/tune-ok, open/open-ok. */
  handshake(): this {
    return this.send('c2s', encodeProtocolHeader())
      .send('s2c', m(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN', locales: 'en_US' }))
      .send(
        'c2s',
        m(0, 'connection.start-ok', {
          'client-properties': fieldTable({ product: 'pika', version: '1.3.2', platform: 'Python 3.12' }),
          mechanism: 'PLAIN',
          response: '\0alice\0secret',
          locale: 'en_US',
        }),
      )
      .send('s2c', m(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 }))
      .send('c2s', m(0, 'connection.tune-ok', { 'channel-max': 100, 'frame-max': 65536, heartbeat: 0 }))
      .send('c2s', m(0, 'connection.open', { 'virtual-host': 'orders' }))
      .send('s2c', m(0, 'connection.open-ok', {}));
  }

  openChannel(channel: number): this {
    return this.send('c2s', m(channel, 'channel.open', {})).send('s2c', m(channel, 'channel.open-ok', {}));
  }

  publish(channel: number, body = 'x'): this {
    return this.send(
      'c2s',
      m(channel, 'basic.publish', { exchange: '', 'routing-key': 'jobs' }),
      ...encodeContentFrames(channel, 60, {}, new TextEncoder().encode(body), 65536),
    );
  }

  deliver(channel: number, tag: string, deliveryTag: bigint): this {
    return this.send(
      's2c',
      m(channel, 'basic.deliver', { 'consumer-tag': tag, 'delivery-tag': deliveryTag, exchange: '', 'routing-key': 'jobs' }),
      ...encodeContentFrames(channel, 60, {}, new TextEncoder().encode('job'), 65536),
    );
  }

  close(reason = 'client closed'): void {
    this.tap.close(reason, (this.session.clock += 1000));
  }
}

describe('ConnectionTracker', () => {
  it('takes the peers, the client, the user, the vhost and the negotiated limits from the handshake', () => {
    const s = new Session();
    s.open(3).handshake();
    const conn = s.tracker.connections.get(3)!;
    expect(conn).toMatchObject({
      id: 3,
      state: 'open',
      client: { address: '10.0.0.1', port: 50003 },
      server: { address: '10.0.0.2', port: 5672 },
      product: 'pika',
      version: '1.3.2',
      platform: 'Python 3.12',
      user: 'alice',
      vhost: 'orders',
      frameMax: 65536,
      heartbeat: 0,
      channelMax: 100,
      errors: 0,
      closeError: undefined,
    });
    // the protocol header is no frame; start, start-ok, tune, tune-ok, open, open-ok are
    expect(conn.frames).toBe(6);
    expect(conn.channels.size).toBe(0);
    expect(s.tracker.openCount).toBe(1);
  });

  it('follows a channel through opening, open, flow stopped by the server, closing and closed', () => {
    const s = new Session();
    const c = s.open(1).handshake();
    const phase = () => s.tracker.connections.get(1)!.channels.get(2)?.state;
    c.send('c2s', m(2, 'channel.open', {}));
    expect(phase()).toBe('opening');
    c.send('s2c', m(2, 'channel.open-ok', {}));
    expect(phase()).toBe('open');
    c.send('s2c', m(2, 'channel.flow', { active: false }));
    expect(phase()).toBe('flow-stopped');
    // the client's own flow asks the server; it does not stop the channel's deliveries to it
    c.send('s2c', m(2, 'channel.flow-ok', { active: false })).send('c2s', m(2, 'channel.flow', { active: true }));
    expect(phase()).toBe('flow-stopped');
    c.send('s2c', m(2, 'channel.flow', { active: true }));
    expect(phase()).toBe('open');
    c.send('c2s', m(2, 'channel.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 }));
    expect(phase()).toBe('closing');
    c.send('s2c', m(2, 'channel.close-ok', {}));
    expect(phase()).toBe('closed');
    expect(s.tracker.connections.get(1)!.channels.get(2)!.closeError).toBeUndefined();
  });

  it("keeps the consumers, the prefetch, and the tap's unacked count with FULL at the limit", () => {
    const s = new Session();
    const c = s.open(1).handshake().openChannel(1);
    const ch = () => s.tracker.connections.get(1)!.channels.get(1)!;
    c.send('c2s', m(1, 'basic.qos', { 'prefetch-count': 2 })).send('s2c', m(1, 'basic.qos-ok', {}));
    c.send('c2s', m(1, 'basic.consume', { queue: 'jobs', 'consumer-tag': '' })).send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag-a' }));
    c.send('c2s', m(1, 'basic.consume', { queue: 'more', 'consumer-tag': 'ctag-b' })).send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag-b' }));
    expect(ch().prefetch).toBe(2);
    expect([...ch().consumers]).toEqual(['ctag-a', 'ctag-b']);
    c.deliver(1, 'ctag-a', 1n);
    expect(ch()).toMatchObject({ unacked: 1, prefetchFull: undefined });
    c.deliver(1, 'ctag-a', 2n);
    expect(ch()).toMatchObject({ unacked: 2, prefetchFull: { unacked: 2, limit: 2 } });
    c.send('c2s', m(1, 'basic.ack', { 'delivery-tag': 1n }));
    expect(ch()).toMatchObject({ unacked: 1, prefetchFull: undefined });
    // the broker cancels a consumer (its queue went away); the client cancels the other
    c.send('s2c', m(1, 'basic.cancel', { 'consumer-tag': 'ctag-b' }));
    expect([...ch().consumers]).toEqual(['ctag-a']);
    c.send('c2s', m(1, 'basic.cancel', { 'consumer-tag': 'ctag-a' }));
    expect([...ch().consumers]).toEqual(['ctag-a']);
    c.send('s2c', m(1, 'basic.cancel-ok', { 'consumer-tag': 'ctag-a' }));
    expect(ch().consumers.size).toBe(0);
    expect(s.tracker.connections.get(1)!.messages).toBe(2);
  });

  it('counts publishes unconfirmed in confirm mode until the server confirms them', () => {
    const s = new Session();
    const c = s.open(1).handshake().openChannel(1);
    const ch = () => s.tracker.connections.get(1)!.channels.get(1)!;
    c.publish(1);
    expect(ch()).toMatchObject({ confirmMode: false, unconfirmed: 0 });
    c.send('c2s', m(1, 'confirm.select', {})).send('s2c', m(1, 'confirm.select-ok', {}));
    c.publish(1).publish(1).publish(1);
    expect(ch()).toMatchObject({ confirmMode: true, unconfirmed: 3 });
    c.send('s2c', m(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true }));
    expect(ch().unconfirmed).toBe(1);
  });

  it('names an error close on its channel or connection, counts it, and clears the closed channel', () => {
    const s = new Session();
    const c = s.open(1).handshake().openChannel(1);
    c.send('c2s', m(1, 'basic.qos', { 'prefetch-count': 5 })).send('s2c', m(1, 'basic.qos-ok', {}));
    c.send('c2s', m(1, 'basic.consume', { queue: 'jobs', 'consumer-tag': 'ctag' })).send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag' }));
    c.deliver(1, 'ctag', 1n);
    c.send('s2c', m(1, 'channel.close', { 'reply-code': 406, 'reply-text': 'PRECONDITION_FAILED - unknown delivery tag 9', 'class-id': 60, 'method-id': 80 }));
    const conn = s.tracker.connections.get(1)!;
    expect(conn.channels.get(1)).toMatchObject({ state: 'closing', closeError: '406 PRECONDITION_FAILED', unacked: 1 });
    c.send('c2s', m(1, 'channel.close-ok', {}));
    expect(conn.channels.get(1)).toMatchObject({ state: 'closed', unacked: 0, unconfirmed: 0, prefetchFull: undefined, closeError: '406 PRECONDITION_FAILED' });
    expect(conn.channels.get(1)!.consumers.size).toBe(0);
    expect(conn.errors).toBe(1);
    c.send('s2c', m(0, 'connection.close', { 'reply-code': 320, 'reply-text': 'CONNECTION_FORCED', 'class-id': 0, 'method-id': 0 }));
    expect(conn).toMatchObject({ state: 'closing', closeError: '320 CONNECTION_FORCED', errors: 2 });
  });

  it('counts a decode error against its connection', () => {
    const s = new Session();
    s.open(1)
      .handshake()
      .send('s2c', Uint8Array.of(0x07, 1, 2, 3));
    expect(s.events.some((e) => e.kind === 'decode.error')).toBe(true);
    expect(s.tracker.connections.get(1)!.errors).toBe(1);
  });

  it('adds up how long the server blocked the connection, until unblocked or closed', () => {
    const s = new Session();
    const c = s.open(1).handshake();
    const conn = s.tracker.connections.get(1)!;
    c.send('s2c', m(0, 'connection.blocked', { reason: 'low on memory' }));
    const blockedAt = s.clock;
    expect(conn).toMatchObject({ blockedSince: blockedAt, blockedReason: 'low on memory', blockedMicros: 0 });
    c.send('s2c', m(0, 'connection.unblocked', {}));
    expect(conn).toMatchObject({ blockedSince: undefined, blockedMicros: s.clock - blockedAt });
    c.send('s2c', m(0, 'connection.blocked', { reason: 'low on disk' }));
    const again = s.clock;
    c.close('server reset the socket');
    expect(conn).toMatchObject({ blockedSince: undefined, blockedReason: 'low on disk', blockedMicros: 1000 + (s.clock - again) });
  });

  it('closes a connection with its channels, and keeps what the close left', () => {
    const s = new Session();
    const c = s.open(1).handshake().openChannel(1).openChannel(2);
    c.send('c2s', m(1, 'basic.consume', { queue: 'jobs', 'consumer-tag': 'ctag' })).send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag' }));
    c.deliver(1, 'ctag', 1n).deliver(1, 'ctag', 2n);
    c.send('c2s', m(2, 'confirm.select', {}))
      .send('s2c', m(2, 'confirm.select-ok', {}))
      .publish(2);
    s.open(2).handshake();
    expect(s.tracker.openCount).toBe(2);
    c.close('client closed the socket without connection.close');
    const conn = s.tracker.connections.get(1)!;
    expect(conn).toMatchObject({ state: 'closed', closeReason: 'client closed the socket without connection.close', leftUnacked: 2, leftUnconfirmed: 1 });
    expect([...conn.channels.values()].map((ch) => ch.state)).toEqual(['closed', 'closed']);
    expect(s.tracker.openCount).toBe(1);
    expect(s.tracker.connections.get(2)).toMatchObject({ state: 'open', leftUnacked: 0, leftUnconfirmed: 0 });
  });

  it(`keeps the last ${MAX_CLOSED_CONNECTIONS} closed connections and every open one`, () => {
    const s = new Session();
    const open = s.open(1).handshake();
    for (let id = 2; id <= MAX_CLOSED_CONNECTIONS + 6; id++) s.open(id).close();
    const ids = [...s.tracker.connections.keys()];
    expect(ids).toHaveLength(MAX_CLOSED_CONNECTIONS + 1);
    // the oldest closed went first; the open one stays however old
    expect(ids.slice(0, 2)).toEqual([1, 7]);
    expect(ids.at(-1)).toBe(MAX_CLOSED_CONNECTIONS + 6);
    expect(s.tracker.openCount).toBe(1);
    open.close();
    expect(s.tracker.connections.has(1)).toBe(false);
    expect(s.tracker.connections.size).toBe(MAX_CLOSED_CONNECTIONS);
  });
});
