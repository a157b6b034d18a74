// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.
// A sink that falls behind (the recorder) holds the source's reading until it drains.

import { nowMicros, type EventBus } from '../events.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { ConnectionTap, type ConnectionTapOptions } from './connection-tap.js';

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

/**
 * `notice` hears of an upstream failure that lost something: told at the connection's close,
 * when the tap knows whether the close handshake completed. RabbitMQ resets its socket after
 * every close-ok; a notice for each clean close would be a false alarm.
 */
export function createTapObserver(bus: EventBus, options: ConnectionTapOptions, backpressure?: TapBackpressure, notice?: (line: string) => void): Required<ByteObserver> {
  const taps = new Map<number, ConnectionTap>();
  const upstreamErrors = new Map<number, { message: string; unforwarded: number }>();
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
      const tap = taps.get(connId);
      const failure = upstreamErrors.get(connId);
      // the handshake completed (with bytes the client sent after the failure too): nothing lost
      if (failure !== undefined && (tap === undefined || !tap.closedCleanly || failure.unforwarded > 0)) {
        notice?.(`${failure.message}${failure.unforwarded > 0 ? `; ${failure.unforwarded} bytes from the client were not forwarded` : ''}`);
      }
      upstreamErrors.delete(connId);
      tap?.close(end);
      taps.delete(connId);
    },
    onUpstreamError(connId, message, unforwarded) {
      // the first failure says what went wrong
      if (!upstreamErrors.has(connId)) upstreamErrors.set(connId, { message, unforwarded });
    },
  };
}
