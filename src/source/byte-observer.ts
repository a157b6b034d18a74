// What a byte source (the proxy, the built-in broker) reports about its connections: one
// interface, so the taps, the tests and any other watcher fit every source alike.

import type { ConnectionInfo, Direction, FaultMark, SocketEnd } from '../events.js';

/** Bytes of a direction a capture did not have: lost, or before the capture started. */
export interface StreamGap {
  /** bytes never captured (the sequence numbers say how many) */
  readonly lost: number;
  /** captured bytes then dropped to reach the next frame boundary (the next onData starts there) */
  readonly skipped: number;
  /** the capture started in the middle of this direction (there is no `lost` count) */
  readonly midStream: boolean;
}

/**
 * Plain callbacks, all optional. A source calls them beside its own work (the proxy after the
 * bytes were handed to the other socket), so they cannot delay or alter it; exceptions they
 * throw are caught by the source.
 */
export interface ByteObserver {
  // `ts` (µs since the epoch): when it happened, for a call read back later on another
  // thread (the terminal UI's); sources leave it out (now)
  /** a client was accepted (for the proxy: the upstream connection is being opened) */
  onOpen?(conn: ConnectionInfo, ts?: number): void;
  /**
   * Bytes forwarded or written, in order per direction; after one side failed, also what the
   * other still sends, which cannot be forwarded. `chunk` is the Buffer that was written to
   * the other side: read it, never modify it (it may still be queued for writing). Sources
   * never reuse its memory, so it may be kept without copying; but it can be a slice of a
   * read buffer of up to 1 MiB, so copy small pieces that are kept for long.
   */
  onData?(connId: number, dir: Direction, chunk: Buffer, ts?: number): void;
  /**
   * A whole frame a fault rule injected into `dir` (written to that direction's peer) or
   * suppressed (read from that direction's sender, not forwarded). It comes in its place among
   * the onData chunks of `dir`, always at a frame boundary, so one parser reads both.
   */
  onFrameMarked?(connId: number, dir: Direction, frame: Uint8Array, mark: FaultMark, ts?: number): void;
  /** both sockets are closed; called exactly once per onOpen, with who ended them and how */
  onClose?(connId: number, end: SocketEnd, ts?: number): void;
  /** a capture source: bytes of `dir` missing before the next onData, which starts at a frame boundary */
  onGap?(connId: number, dir: Direction, gap: StreamGap, ts?: number): void;
  /**
   * The proxy's upstream failed, e.g. `upstream 127.0.0.1:5672: connection refused` (followed
   * by onClose); `unforwarded`: client bytes still queued for the upstream, which it never got
   */
  onUpstreamError?(connId: number, message: string, unforwarded: number): void;
}
