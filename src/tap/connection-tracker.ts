// Every connection of a session and its channels, as the events tell them: peers, client
// library, user, vhost, negotiated limits, blocked time, and per channel its phase, consumers,
// prefetch and what the tap counted unacked and unconfirmed. A plain sink of events (no UI):
// the TUI's connections view draws it, and anything else that wants these facts (metrics) can
// feed one. It reads the tap's insight rather than tracking tags again, and keeps a connection
// after it closes (up to MAX_CLOSED_CONNECTIONS), so it outlives the events that built it.

import type { ArgumentValue } from '../decoder/types.js';
import type { Direction, Endpoint, FrameInsight, PrefetchFull, SpyEvent } from '../events.js';
import { isFieldTable, tableString } from '../decoder/field-table.js';
import { saslCredentials } from '../decoder/sasl.js';

/** Where a channel is in its life, as its methods said. */
export type ChannelPhase = 'opening' | 'open' | 'flow-stopped' | 'closing' | 'closed';
/** Where a connection is in its life: closing from connection.close, closed from its conn.close event. */
export type ConnectionPhase = 'open' | 'closing' | 'closed';

export interface TrackedChannel {
  readonly id: number;
  state: ChannelPhase;
  /** consumer tags confirmed by consume-ok and not cancelled */
  readonly consumers: Set<string>;
  prefetch: number | undefined;
  unacked: number;
  /** a prefetch limit reached on the channel, as the tap last said (FULL 5/5) */
  prefetchFull: PrefetchFull | undefined;
  confirmMode: boolean;
  unconfirmed: number;
  /** the reply code and name of an error close: `404 NOT_FOUND` */
  closeError: string | undefined;
}

export interface TrackedConnection {
  readonly id: number;
  client: Endpoint | undefined;
  server: Endpoint | undefined;
  state: ConnectionPhase;
  closeReason: string | undefined;
  /** what the close left, as its conn.close event counted it (0 while open) */
  leftUnacked: number;
  leftUnconfirmed: number;
  closeError: string | undefined;
  product: string | undefined;
  /** the name the client gave its connection (client property connection_name), which says which service it is */
  connectionName: string | undefined;
  version: string | undefined;
  platform: string | undefined;
  user: string | undefined;
  vhost: string | undefined;
  frameMax: number | undefined;
  heartbeat: number | undefined;
  channelMax: number | undefined;
  /** when the server blocked the connection (connection.blocked, µs), until connection.unblocked */
  blockedSince: number | undefined;
  blockedReason: string | undefined;
  /** how long it was blocked before, in all (µs) */
  blockedMicros: number;
  readonly channels: Map<number, TrackedChannel>;
  frames: number;
  messages: number;
  errors: number;
}

/** Closed connections kept; the oldest leave first. */
export const MAX_CLOSED_CONNECTIONS = 200;

export class ConnectionTracker {
  /** by connection id, in the order they were first seen */
  readonly connections = new Map<number, TrackedConnection>();

  /** Connections not closed yet. */
  get openCount(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.state !== 'closed') n++;
    return n;
  }

  observe(event: SpyEvent): void {
    switch (event.kind) {
      case 'frame': {
        const conn = this.connection(event.conn);
        conn.frames++;
        if (event.frame.type === 'method')
          this.observeMethod(conn, event.dir, event.channel, event.frame.method.name, event.frame.method.args, event.insight, event.ts);
        return;
      }
      case 'message':
        this.connection(event.conn).messages++;
        return;
      case 'conn.open': {
        const conn = this.connection(event.conn);
        conn.client = event.client;
        conn.server = event.server;
        return;
      }
      case 'conn.close': {
        const conn = this.connection(event.conn);
        conn.state = 'closed';
        conn.closeReason = event.reason;
        conn.leftUnacked = event.unacked;
        conn.leftUnconfirmed = event.unconfirmed;
        if (conn.blockedSince !== undefined) {
          // blocked until the end
          conn.blockedMicros += Math.max(0, event.ts - conn.blockedSince);
          conn.blockedSince = undefined;
        }
        for (const ch of conn.channels.values()) ch.state = 'closed';
        this.forgetOldClosed();
        return;
      }
      case 'decode.error':
        this.connection(event.conn).errors++;
        return;
      default:
        return;
    }
  }

  private connection(id: number): TrackedConnection {
    let conn = this.connections.get(id);
    if (!conn) {
      conn = {
        id,
        client: undefined,
        server: undefined,
        state: 'open',
        closeReason: undefined,
        leftUnacked: 0,
        leftUnconfirmed: 0,
        closeError: undefined,
        product: undefined,
        connectionName: undefined,
        version: undefined,
        platform: undefined,
        user: undefined,
        vhost: undefined,
        frameMax: undefined,
        heartbeat: undefined,
        channelMax: undefined,
        blockedSince: undefined,
        blockedReason: undefined,
        blockedMicros: 0,
        channels: new Map(),
        frames: 0,
        messages: 0,
        errors: 0,
      };
      this.connections.set(id, conn);
    }
    return conn;
  }

  private channel(conn: TrackedConnection, id: number): TrackedChannel {
    let ch = conn.channels.get(id);
    if (!ch) {
      ch = {
        id,
        state: 'open',
        consumers: new Set(),
        prefetch: undefined,
        unacked: 0,
        prefetchFull: undefined,
        confirmMode: false,
        unconfirmed: 0,
        closeError: undefined,
      };
      conn.channels.set(id, ch);
    }
    return ch;
  }

  private observeMethod(
    conn: TrackedConnection,
    dir: Direction,
    channelId: number,
    name: string,
    args: Readonly<Record<string, ArgumentValue>>,
    insight: FrameInsight | undefined,
    ts: number,
  ): void {
    if (insight?.error) {
      conn.errors++;
      const text = `${insight.error.replyCode} ${insight.error.replyName}`;
      if (channelId === 0) conn.closeError = text;
      else this.channel(conn, channelId).closeError = text;
    }
    switch (name) {
      case 'connection.start-ok': {
        const props = args['client-properties'];
        if (isFieldTable(props)) {
          conn.product = tableString(props, 'product');
          conn.connectionName = tableString(props, 'connection_name');
          conn.version = tableString(props, 'version');
          conn.platform = tableString(props, 'platform');
        }
        conn.user = saslCredentials(args['mechanism'], args['response'])?.user;
        return;
      }
      case 'connection.tune-ok':
        conn.frameMax = Number(args['frame-max']);
        conn.heartbeat = Number(args['heartbeat']);
        conn.channelMax = Number(args['channel-max']);
        return;
      case 'connection.open':
        conn.vhost = typeof args['virtual-host'] === 'string' ? args['virtual-host'] : undefined;
        return;
      case 'connection.close':
        conn.state = 'closing';
        return;
      case 'connection.blocked':
        conn.blockedSince ??= ts;
        conn.blockedReason = typeof args['reason'] === 'string' ? args['reason'] : undefined;
        return;
      case 'connection.unblocked':
        if (conn.blockedSince !== undefined) conn.blockedMicros += insight?.blockedMicros ?? Math.max(0, ts - conn.blockedSince);
        conn.blockedSince = undefined;
        return;
      case 'channel.open':
        this.channel(conn, channelId).state = 'opening';
        return;
      case 'channel.open-ok':
        this.channel(conn, channelId).state = 'open';
        return;
      case 'channel.flow':
        if (dir === 's2c') this.channel(conn, channelId).state = args['active'] === false ? 'flow-stopped' : 'open';
        return;
      case 'channel.close':
        this.channel(conn, channelId).state = 'closing';
        return;
      case 'channel.close-ok': {
        const ch = this.channel(conn, channelId);
        ch.state = 'closed';
        ch.consumers.clear();
        ch.unacked = 0;
        ch.prefetchFull = undefined;
        ch.unconfirmed = 0;
        return;
      }
      case 'basic.qos':
        this.channel(conn, channelId).prefetch = Number(args['prefetch-count']);
        return;
      case 'basic.consume-ok':
        if (typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.add(args['consumer-tag']);
        return;
      case 'basic.cancel-ok':
        if (typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.delete(args['consumer-tag']);
        return;
      case 'basic.cancel':
        // a broker-initiated cancel (queue deleted) ends the consumer without a cancel-ok
        if (dir === 's2c' && typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.delete(args['consumer-tag']);
        return;
      case 'confirm.select':
        this.channel(conn, channelId).confirmMode = true;
        return;
      default:
        break;
    }
    // the counts are the tap's (protocol insight), not worked out again here
    if (insight?.unacked !== undefined) {
      const ch = this.channel(conn, channelId);
      ch.unacked = insight.unacked;
      // a delivery only adds to what is full; a settle (or recover) says what still is
      if (insight.prefetchFull !== undefined || insight.settles !== undefined || name.startsWith('basic.recover')) ch.prefetchFull = insight.prefetchFull;
    }
    if (insight?.unconfirmed !== undefined) this.channel(conn, channelId).unconfirmed = insight.unconfirmed;
  }

  private forgetOldClosed(): void {
    let closed = 0;
    for (const c of this.connections.values()) if (c.state === 'closed') closed++;
    for (const [id, c] of this.connections) {
      if (closed <= MAX_CLOSED_CONNECTIONS) break;
      if (c.state === 'closed') {
        this.connections.delete(id);
        closed--;
      }
    }
  }
}
