// A byte source's observer calls (open, data, close, upstream error, skipped frames) written
// into one binary batch, to be read back in order on another thread: the terminal UI decodes
// and draws on its own thread, and the forwarding thread only copies bytes into a batch.
// Also a capture's gaps. Record: type u8, dir u8, conn u32, ts f64 (µs), length u32, then `length` bytes.

import type { ConnectionInfo, Direction, FaultMark, SocketEnd } from '../events.js';
import type { StreamGap } from '../source/byte-observer.js';

const RECORD_HEADER = 18;
const TYPE_OPEN = 1;
const TYPE_DATA = 2;
const TYPE_CLOSE = 3;
const TYPE_UPSTREAM_ERROR = 4;
const TYPE_SKIP = 5;
/** a whole frame a fault rule injected / suppressed (ByteObserver.onFrameMarked) */
const TYPE_INJECTED = 6;
const TYPE_SUPPRESSED = 7;
/** bytes a capture lost (ByteObserver.onGap); the next data of that direction starts on a frame */
const TYPE_GAP = 8;

/** What a batch is read back into: the byte observer's calls, with their time, and skips. */
export interface ObserverBatchTarget {
  onOpen(conn: ConnectionInfo, ts: number): void;
  onData(connId: number, dir: Direction, chunk: Buffer, ts: number): void;
  onFrameMarked(connId: number, dir: Direction, frame: Uint8Array, mark: FaultMark, ts: number): void;
  onClose(connId: number, end: SocketEnd, ts: number): void;
  onUpstreamError(connId: number, message: string, unforwarded: number): void;
  /** `length` bytes of whole frames of `dir` were not given (the reader fell behind) */
  onSkip(connId: number, dir: Direction, length: number, ts: number): void;
  onGap(connId: number, dir: Direction, gap: StreamGap, ts: number): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ObserverBatchWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private used = 0;

  constructor(private readonly initialSize = 64 * 1024) {
    this.buffer = new Uint8Array(initialSize);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Bytes written since the last `take`. */
  get size(): number {
    return this.used;
  }

  open(conn: ConnectionInfo, ts: number): void {
    this.json(TYPE_OPEN, conn.id, ts, conn);
  }

  data(connId: number, dir: Direction, chunk: Uint8Array, ts: number): void {
    const at = this.header(TYPE_DATA, dir, connId, ts, chunk.length);
    this.buffer.set(chunk, at);
  }

  marked(connId: number, dir: Direction, frame: Uint8Array, mark: FaultMark, ts: number): void {
    const at = this.header(mark === 'injected' ? TYPE_INJECTED : TYPE_SUPPRESSED, dir, connId, ts, frame.length);
    this.buffer.set(frame, at);
  }

  close(connId: number, end: SocketEnd, ts: number): void {
    this.json(TYPE_CLOSE, connId, ts, end);
  }

  upstreamError(connId: number, message: string, unforwarded: number): void {
    this.json(TYPE_UPSTREAM_ERROR, connId, 0, { message, unforwarded });
  }

  gap(connId: number, dir: Direction, gap: StreamGap, ts: number): void {
    this.json(TYPE_GAP, connId, ts, gap, dir);
  }

  skip(connId: number, dir: Direction, length: number, ts: number): void {
    const at = this.header(TYPE_SKIP, dir, connId, ts, 8);
    this.view.setFloat64(at, length);
  }

  /** The batch written so far (its own memory, to transfer), and a fresh one begun; undefined when empty. */
  take(): Uint8Array | undefined {
    if (this.used === 0) return undefined;
    const batch = this.buffer.subarray(0, this.used);
    this.buffer = new Uint8Array(this.initialSize);
    this.view = new DataView(this.buffer.buffer);
    this.used = 0;
    return batch;
  }

  private json(type: number, connId: number, ts: number, value: unknown, dir: Direction = 'c2s'): void {
    const bytes = encoder.encode(JSON.stringify(value));
    const at = this.header(type, dir, connId, ts, bytes.length);
    this.buffer.set(bytes, at);
  }

  /** Writes a record header, making room for its `length` bytes; returns where they go. */
  private header(type: number, dir: Direction, connId: number, ts: number, length: number): number {
    const needed = this.used + RECORD_HEADER + length;
    if (needed > this.buffer.length) {
      // The first growth past the initial size is to what the record needs: the owner sends a
      // batch once it is that big, and doubling left up to half of each sent batch unused (memory
      // the UI's thread held while the batch waited). Later growths double, so a writer nobody
      // empties still costs linear time.
      const grown = new Uint8Array(this.used < this.initialSize ? needed : Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.used));
      this.buffer = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.used;
    const view = this.view;
    view.setUint8(at, type);
    view.setUint8(at + 1, dir === 'c2s' ? 0 : 1);
    view.setUint32(at + 2, connId);
    view.setFloat64(at + 6, ts);
    view.setUint32(at + 14, length);
    this.used = needed;
    return at + RECORD_HEADER;
  }
}

/** Reads a batch back into `target`, in the order it was written. Data chunks are copies (the batch is not kept). */
export function readObserverBatch(batch: Uint8Array, target: ObserverBatchTarget): void {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  let at = 0;
  while (at + RECORD_HEADER <= batch.length) {
    const type = view.getUint8(at);
    const dir: Direction = view.getUint8(at + 1) === 0 ? 'c2s' : 's2c';
    const connId = view.getUint32(at + 2);
    const ts = view.getFloat64(at + 6);
    const length = view.getUint32(at + 14);
    const start = at + RECORD_HEADER;
    at = start + length;
    switch (type) {
      case TYPE_DATA:
        target.onData(connId, dir, Buffer.from(batch.subarray(start, at)), ts);
        break;
      case TYPE_INJECTED:
      case TYPE_SUPPRESSED:
        target.onFrameMarked(connId, dir, Buffer.from(batch.subarray(start, at)), type === TYPE_INJECTED ? 'injected' : 'suppressed', ts);
        break;
      case TYPE_SKIP:
        target.onSkip(connId, dir, view.getFloat64(start), ts);
        break;
      case TYPE_GAP:
        target.onGap(connId, dir, JSON.parse(decoder.decode(batch.subarray(start, at))) as StreamGap, ts);
        break;
      case TYPE_OPEN:
        target.onOpen(JSON.parse(decoder.decode(batch.subarray(start, at))) as ConnectionInfo, ts);
        break;
      case TYPE_CLOSE:
        target.onClose(connId, JSON.parse(decoder.decode(batch.subarray(start, at))) as SocketEnd, ts);
        break;
      case TYPE_UPSTREAM_ERROR: {
        const { message, unforwarded } = JSON.parse(decoder.decode(batch.subarray(start, at))) as { message: string; unforwarded: number };
        target.onUpstreamError(connId, message, unforwarded);
        break;
      }
    }
  }
}
