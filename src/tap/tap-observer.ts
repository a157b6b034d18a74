// The bridge from a byte source (the proxy, the built-in broker) to events: one
// ConnectionTap per connection, fed with the chunks as they are forwarded or written.
// A sink that falls behind (the recorder) holds the source's reading until it drains.

import { nowMicros, type Direction, type EventBus } from '../events.js';
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
/** The taps' observer; `onSkip` tells a tap that whole frames were not given to it (see ConnectionTap.skip). */
export interface TapObserver extends Required<ByteObserver> {
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
    onFrameMarked(connId, dir, frame, mark, ts) {
      taps.get(connId)?.feed(dir, frame, ts, mark);
    },
    onSkip(connId, dir, length, ts) {
      taps.get(connId)?.skip(dir, length, ts);
    },
    onGap(connId, dir, gap, ts) {
      taps.get(connId)?.resync(dir, gap, ts);
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
  const list = [...observers];
  // one loop per callback, no closure per call: onData is on the forwarding path
  return {
    onOpen(conn, ts) {
      let failure: { error: unknown } | undefined;
      for (const o of list) {
        try {
          o.onOpen?.(conn, ts);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
    onData(connId, dir, chunk, ts) {
      let failure: { error: unknown } | undefined;
      for (let i = 0; i < list.length; i++) {
        try {
          list[i]!.onData?.(connId, dir, chunk, ts);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
    onFrameMarked(connId, dir, frame, mark, ts) {
      let failure: { error: unknown } | undefined;
      for (const o of list) {
        try {
          o.onFrameMarked?.(connId, dir, frame, mark, ts);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
    onClose(connId, end, ts) {
      let failure: { error: unknown } | undefined;
      for (const o of list) {
        try {
          o.onClose?.(connId, end, ts);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
    onGap(connId, dir, gap, ts) {
      let failure: { error: unknown } | undefined;
      for (const o of list) {
        try {
          o.onGap?.(connId, dir, gap, ts);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
    onUpstreamError(connId, message, unforwarded) {
      let failure: { error: unknown } | undefined;
      for (const o of list) {
        try {
          o.onUpstreamError?.(connId, message, unforwarded);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure !== undefined) throw failure.error;
    },
  };
}
