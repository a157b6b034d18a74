// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.
// A sink that falls behind (the recorder) holds the source's reading until it drains.

import { nowMicros, type ConnectionInfo, type Direction, type EventBus } from '../events.js';
import { ConnectionTap, type ConnectionTapOptions } from './connection-tap.js';

/** The observer shape both the proxy and the broker report to. */
export interface ByteObserver {
  onOpen(conn: ConnectionInfo): void;
  onData(connId: number, dir: Direction, chunk: Uint8Array): void;
  onClose(connId: number, reason: string): void;
}

/** A sink that may fall behind: while `overloaded`, its source should stop reading. */
export interface OverloadableSink {
  readonly overloaded: boolean;
  onDrain(callback: () => void): void;
}

/** Overloaded while any of them is; drained once all of them are. */
export function anyOverloaded(sinks: readonly OverloadableSink[]): OverloadableSink {
  return {
    get overloaded() {
      return sinks.some((s) => s.overloaded);
    },
    onDrain(callback) {
      const next = (): void => {
        const behind = sinks.find((s) => s.overloaded);
        if (behind) behind.onDrain(next);
        else callback();
      };
      next();
    },
  };
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
    onClose(connId, reason) {
      taps.get(connId)?.close(reason);
      taps.delete(connId);
    },
  };
}
