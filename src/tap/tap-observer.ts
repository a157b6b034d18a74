// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.
// A sink that falls behind (the recorder) holds the source's reading until it drains.

import { nowMicros, type ConnectionInfo, type Direction, type EventBus, type SocketEnd } from '../events.js';
import { ConnectionTap, type ConnectionTapOptions } from './connection-tap.js';

/** The observer shape both the proxy and the broker report to. */
export interface ByteObserver {
  onOpen(conn: ConnectionInfo): void;
  onData(connId: number, dir: Direction, chunk: Uint8Array): void;
  onClose(connId: number, end: SocketEnd): void;
}

/** A sink that may fall behind: while `overloaded`, its source should stop reading. */
export interface OverloadableSink {
  readonly overloaded: boolean;
  onDrain(callback: () => void): void;
}

export interface TapBackpressure {
  readonly sink: OverloadableSink;
  /** holds (true) or releases (false) the source's reading */
  readonly hold: (held: boolean) => void;
}

export function createTapObserver(bus: EventBus, options: ConnectionTapOptions, backpressure?: TapBackpressure): ByteObserver {
  const taps = new Map<number, ConnectionTap>();
  let holding = false;
  return {
    onOpen(conn) {
      taps.set(conn.id, new ConnectionTap(conn.id, bus, options));
      bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: nowMicros(), conn: conn.id, client: conn.client, server: conn.server });
    },
    onData(connId, dir, chunk) {
      taps.get(connId)?.feed(dir, chunk);
      if (backpressure && !holding && backpressure.sink.overloaded) {
        holding = true;
        backpressure.hold(true);
        backpressure.sink.onDrain(() => {
          holding = false;
          backpressure.hold(false);
        });
      }
    },
    onClose(connId, end) {
      taps.get(connId)?.close(end);
      taps.delete(connId);
    },
  };
}
