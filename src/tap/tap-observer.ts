// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.

import { nowMicros, type Direction, type EventBus, type Endpoint } from '../events.js';
import { ConnectionTap, type ConnectionTapOptions } from './connection-tap.js';

export interface ConnectionInfo {
  readonly id: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
}

/** The observer shape both the proxy and the broker report to. */
export interface ByteObserver {
  onOpen(conn: ConnectionInfo): void;
  onData(connId: number, dir: Direction, chunk: Uint8Array): void;
  onClose(connId: number, reason: string): void;
}

export function createTapObserver(bus: EventBus, options: ConnectionTapOptions): ByteObserver & { readonly openConnections: number } {
  const taps = new Map<number, ConnectionTap>();
  return {
    get openConnections() {
      return taps.size;
    },
    onOpen(conn) {
      taps.set(conn.id, new ConnectionTap(conn.id, bus, options));
      bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: nowMicros(), conn: conn.id, client: conn.client, server: conn.server });
    },
    onData(connId, dir, chunk) {
      taps.get(connId)?.feed(dir, chunk);
    },
    onClose(connId, reason) {
      taps.get(connId)?.close(reason);
      taps.delete(connId);
    },
  };
}
