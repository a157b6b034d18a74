// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.
// A sink that falls behind (the recorder) holds the source's reading until it drains.

import { nowMicros, type ConnectionInfo, type Direction, type EventBus, type SocketEnd } from '../events.js';
import { ConnectionTap, type ConnectionTapOptions } from './connection-tap.js';

/** The observer shape both the proxy and the broker report to. */
export interface ByteObserver {
  /** `ts` (µs): when it happened, if not now (a call read back on another thread) */
  onOpen(conn: ConnectionInfo, ts?: number): void;
  onData(connId: number, dir: Direction, chunk: Uint8Array, ts?: number): void;
  onClose(connId: number, end: SocketEnd, ts?: number): void;
  /** the upstream failed (`message`: one line); `unforwarded`: client bytes it never got */
  onUpstreamError(connId: number, message: string, unforwarded: number): void;
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

/**
 * `notice` hears of an upstream failure that lost something: told at the connection's close,
 * when the tap knows whether the close handshake completed. RabbitMQ resets its socket after
 * every close-ok; a notice for each clean close would be a false alarm.
 */
/** The taps' observer; `onSkip` tells a tap that whole frames were not given to it (see ConnectionTap.skip). */
export interface TapObserver extends ByteObserver {
  onSkip(connId: number, dir: Direction, length: number, ts: number): void;
}

export function createTapObserver(bus: EventBus, options: ConnectionTapOptions, backpressure?: TapBackpressure, notice?: (line: string) => void): TapObserver {
  const taps = new Map<number, ConnectionTap>();
  const upstreamErrors = new Map<number, { message: string; unforwarded: number }>();
  let holding = false;
  return {
    onOpen(conn, ts = nowMicros()) {
      taps.set(conn.id, new ConnectionTap(conn.id, bus, options));
      bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts, conn: conn.id, client: conn.client, server: conn.server });
    },
    onData(connId, dir, chunk, ts) {
      taps.get(connId)?.feed(dir, chunk, ts);
      if (backpressure && !holding && backpressure.sink.overloaded) {
        holding = true;
        backpressure.hold(true);
        backpressure.sink.onDrain(() => {
          holding = false;
          backpressure.hold(false);
        });
      }
    },
    onClose(connId, end, ts) {
      const tap = taps.get(connId);
      const failure = upstreamErrors.get(connId);
      // the handshake completed (with bytes the client sent after the failure too): nothing lost
      if (failure !== undefined && (tap === undefined || !tap.closedCleanly || failure.unforwarded > 0)) {
        notice?.(`${failure.message}${failure.unforwarded > 0 ? `; ${failure.unforwarded} bytes from the client were not forwarded` : ''}`);
      }
      upstreamErrors.delete(connId);
      tap?.close(end, ts);
      taps.delete(connId);
    },
    onSkip(connId, dir, length, ts) {
      taps.get(connId)?.skip(dir, length, ts);
    },
    onUpstreamError(connId, message, unforwarded) {
      // the first failure says what went wrong
      if (!upstreamErrors.has(connId)) upstreamErrors.set(connId, { message, unforwarded });
    },
  };
}

/**
 * One observer that calls each of `observers` in order (the session's taps, then the UI's
 * thread): one that throws does not keep the others from the call; the first error is
 * rethrown after all were called, for the source to report.
 */
export function teeObservers(observers: readonly ByteObserver[]): ByteObserver {
  if (observers.length === 1) return observers[0]!;
  const each = (call: (observer: ByteObserver) => void): void => {
    let failure: { error: unknown } | undefined;
    for (const observer of observers) {
      try {
        call(observer);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  };
  return {
    onOpen: (conn, ts) => each((o) => o.onOpen(conn, ts)),
    onData: (connId, dir, chunk, ts) => each((o) => o.onData(connId, dir, chunk, ts)),
    onClose: (connId, end, ts) => each((o) => o.onClose(connId, end, ts)),
    onUpstreamError: (connId, message, unforwarded) => each((o) => o.onUpstreamError(connId, message, unforwarded)),
  };
}
