// The forwarding thread's side of the terminal UI: byte-source observer calls copied into
// batches for the UI's thread, which decodes and draws them. Forwarding never waits for the
// UI: when the UI falls behind by more than a budget of bytes, whole frames are dropped for
// it (never for the client, the broker or the recording) and the UI is told how many bytes
// it did not get, at their place in the stream.

import { FrameBoundaryTracker } from '../../decoder/frame-boundary.js';
import type { ConnectionInfo, Direction, FaultMark, SocketEnd } from '../../events.js';
import { nowMicros } from '../../events.js';
import { ObserverBatchWriter } from '../../tap/observer-batch.js';
import type { ByteObserver, StreamGap } from '../../source/byte-observer.js';

/**
 * A batch grows to this before it is sent without waiting for the timer: small enough that the
 * UI's thread, which decodes whole batches between its keys and draws, is never long inside one.
 */
const BATCH_BYTES = 64 * 1024;
/** How long observer calls may wait to be sent in one batch (a screen refresh is ~16 ms). */
const FLUSH_DELAY_MS = 5;

interface StreamState {
  frames: FrameBoundaryTracker;
  /** bytes dropped since the last frame boundary given to the UI; -1 while not dropping */
  dropped: number;
}

export interface UiFeedOptions {
  /** sends one batch to the UI's thread (which must `ack` its length once it has read it) */
  readonly post: (batch: Uint8Array) => void;
  /** bytes sent and not yet acked past which whole frames are dropped for the UI */
  readonly budget: number;
}

export class UiFeed implements ByteObserver {
  private readonly writer = new ObserverBatchWriter();
  private readonly streams = new Map<number, StreamState>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private acked = 0;
  private stopped = false;
  /** bytes of whole frames the UI did not get, over the session */
  notShown = 0;

  constructor(private readonly options: UiFeedOptions) {}

  /** Bytes sent to the UI and not yet read by it. */
  get inFlight(): number {
    return this.sent - this.acked;
  }

  /** The UI has read a batch of `length` bytes. */
  ack(length: number): void {
    this.acked += length;
  }

  /** The UI is gone: nothing more is batched. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.streams.clear();
  }

  onOpen(conn: ConnectionInfo): void {
    if (this.stopped) return;
    this.writer.open(conn, nowMicros());
    this.written();
  }

  onData(connId: number, dir: Direction, chunk: Uint8Array): void {
    this.feed(connId, dir, chunk, undefined);
  }

  /** A fault rule's frame: in the same stream as the data of `dir` (always a whole frame). */
  onFrameMarked(connId: number, dir: Direction, frame: Uint8Array, mark: FaultMark): void {
    this.feed(connId, dir, frame, mark);
  }

  private write(connId: number, dir: Direction, bytes: Uint8Array, mark: FaultMark | undefined): void {
    if (mark === undefined) this.writer.data(connId, dir, bytes, nowMicros());
    else this.writer.marked(connId, dir, bytes, mark, nowMicros());
  }

  private feed(connId: number, dir: Direction, chunk: Uint8Array, mark: FaultMark | undefined): void {
    if (this.stopped) return;
    const key = connId * 2 + (dir === 'c2s' ? 0 : 1);
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = { frames: new FrameBoundaryTracker(), dropped: -1 };
      this.streams.set(key, stream);
    }
    const boundary = stream.frames.feed(chunk);
    const behind = this.inFlight + this.writer.size > this.options.budget;
    if (stream.dropped < 0) {
      if (!behind || boundary < 0) {
        // a frame is only dropped whole: one that began before the UI fell behind is sent
        this.write(connId, dir, chunk, mark);
      } else {
        if (boundary > 0) this.write(connId, dir, chunk.subarray(0, boundary), mark);
        stream.dropped = chunk.length - boundary;
        this.notShown += stream.dropped;
      }
    } else if (this.inFlight + this.writer.size > this.options.budget / 2 || boundary < 0) {
      // caught up to half the budget before taking frames again, so it does not flap
      stream.dropped += chunk.length;
      this.notShown += chunk.length;
    } else {
      this.notShown += boundary;
      this.endDrop(connId, dir, stream, boundary);
      this.write(connId, dir, chunk.subarray(boundary), mark);
    }
    this.written();
  }

  /**
   * A capture lost bytes of `dir`: its next data starts on a frame boundary, so the boundary
   * count starts again there (and a drop in progress ends at the gap).
   */
  onGap(connId: number, dir: Direction, gap: StreamGap): void {
    if (this.stopped) return;
    const stream = this.streams.get(connId * 2 + (dir === 'c2s' ? 0 : 1));
    if (stream !== undefined) {
      if (stream.dropped >= 0) this.endDrop(connId, dir, stream, 0);
      stream.frames = new FrameBoundaryTracker();
    }
    this.writer.gap(connId, dir, gap, nowMicros());
    this.written();
  }

  onClose(connId: number, end: SocketEnd): void {
    if (this.stopped) return;
    for (const dir of ['c2s', 's2c'] as const) {
      const key = connId * 2 + (dir === 'c2s' ? 0 : 1);
      const stream = this.streams.get(key);
      if (stream !== undefined && stream.dropped >= 0) this.endDrop(connId, dir, stream, 0);
      this.streams.delete(key);
    }
    this.writer.close(connId, end, nowMicros());
    this.written();
  }

  onUpstreamError(connId: number, message: string, unforwarded: number): void {
    if (this.stopped) return;
    this.writer.upstreamError(connId, message, unforwarded);
    this.written();
  }

  /** Sends what is batched now (before a quit's answer, so the UI has every close first). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.writer.take();
    if (batch === undefined) return;
    this.sent += batch.length;
    this.options.post(batch);
  }

  private endDrop(connId: number, dir: Direction, stream: StreamState, boundary: number): void {
    const length = stream.dropped + boundary;
    stream.dropped = -1;
    this.writer.skip(connId, dir, length, nowMicros());
  }

  private written(): void {
    if (this.writer.size >= BATCH_BYTES) this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }
}
