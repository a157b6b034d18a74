// A broker connection's output path: everything sent during one turn goes out in one socket
// write. Output goes into a slab: encoders reserve space and write in place; a flush hands the
// slab's new region to the socket and later output continues after it (never overwriting
// what was written, so the socket and observers may keep those bytes). Above a high water
// mark consumers are held back until the socket drains.

import type net from 'node:net';
import { encodeMethodFrame } from '../decoder/frame-codec.js';
import type { MethodArgsInput, MethodName } from '../decoder/spec.js';
import type { Direction, FaultMark } from '../events.js';
import { FRAME_MIN_SIZE } from './broker.js';
import type { FrameSink } from './broker-wire.js';

/** Pending output above which consumers stop receiving until the socket drains. */
const WRITE_HIGH_WATER = 4 * 1024 * 1024;
/** Output slab size: one turn's small frames usually fit in one. */
const SLAB_SIZE = 128 * 1024;
/** Frames up to this size are copied into the slab; larger ones are written as they are. */
const COPY_LIMIT = 16384;

/** The observer callback the output reports written bytes to (a ByteObserver is one). */
export interface OutputObserver {
  onData?(connId: number, dir: Direction, chunk: Buffer): void;
  onFrameMarked?(connId: number, dir: Direction, frame: Uint8Array, mark: FaultMark): void;
}

/**
 * Where a turn's output goes instead of the socket while fault rules watch the connection
 * (src/broker/broker-faults.ts): it may hold, drop or cut, and writes through `write`.
 */
export interface OutputStage {
  /** a turn's output, whole frames; `marked`: parts a rule made (one frame each) */
  take(parts: readonly Uint8Array[], marked: ReadonlySet<Uint8Array> | undefined): void;
  /** bytes held back (counted against the high water mark) */
  readonly heldBytes: number;
}

/** What the output asks of its connection (kept narrow: no import of the connection). */
export interface OutputOwner {
  /** 'closed' drops output once the socket ended; only 'running' resumes deliveries */
  readonly state: string;
  /** the socket has room again: every channel delivers what its consumers may take */
  resumeDeliveries(): void;
}

/** A channel with publisher confirms collected this turn, sent just before the flush. */
export interface ConfirmSource {
  flushConfirms(): void;
}

export class FrameOutput implements FrameSink {
  /** negotiated in tune-ok; RabbitMQ's minimum until then (body frames are split by it) */
  frameMax = FRAME_MIN_SIZE;
  /** when output last went to the socket (heartbeats are sent only when idle) */
  lastSent = Date.now();

  private out: Uint8Array[] = [];
  private outBytes = 0;
  private slabBuffer: Buffer = Buffer.allocUnsafeSlow(0);
  private slabStart = 0;
  private slabUsed = 0;
  private flushScheduled = false;
  private resumeWanted = false;
  private resumeScheduled = false;
  private readonly confirmSources: ConfirmSource[] = [];
  /** sends made inside `injecting` are a fault rule's: marked, never copied into the slab */
  private injectDepth = 0;
  private marked: Set<Uint8Array> | undefined;
  /** set while fault rules watch this connection: the turn's output goes through it */
  stage: OutputStage | undefined;

  constructor(
    private readonly id: number,
    private readonly socket: net.Socket,
    private readonly observer: OutputObserver | undefined,
    private readonly owner: OutputOwner,
  ) {}

  /** The buffer `reserve` offsets point into (FrameSink). */
  get slab(): Buffer {
    return this.slabBuffer;
  }

  /** Room for `n` bytes of this turn's output; returns their offset in `slab`. */
  reserve(n: number): number {
    if (this.slabUsed + n > this.slabBuffer.length) {
      this.retireSlab();
      this.slabBuffer = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, n));
      this.slabStart = 0;
      this.slabUsed = 0;
    }
    const at = this.slabUsed;
    this.slabUsed = at + n;
    this.outBytes += n;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushTick);
    }
    return at;
  }

  /** Moves the slab's unflushed region to the output list. */
  private retireSlab(): void {
    if (this.slabUsed > this.slabStart) {
      this.out.push(this.slabBuffer.subarray(this.slabStart, this.slabUsed));
      this.slabStart = this.slabUsed;
    }
  }

  /** Queues bytes for this turn's write (copied into the slab unless large). */
  send(bytes: Uint8Array): void {
    if (this.owner.state === 'closed' && this.socket.writableEnded) return;
    if (this.injectDepth > 0) {
      this.sendMarked(bytes);
      return;
    }
    if (bytes.length <= COPY_LIMIT) {
      const at = this.reserve(bytes.length);
      this.slabBuffer.set(bytes, at);
      return;
    }
    this.retireSlab();
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushTick);
    }
  }

  /** Runs `fn`; what it sends is a fault rule's doing, marked `injected` for the observer. */
  injecting(fn: () => void): void {
    this.injectDepth++;
    try {
      fn();
    } finally {
      this.injectDepth--;
    }
  }

  /** Queues one frame a fault rule made (marked `injected`). */
  sendMarked(frame: Uint8Array): void {
    if (this.owner.state === 'closed' && this.socket.writableEnded) return;
    this.retireSlab();
    this.out.push(frame);
    (this.marked ??= new Set()).add(frame);
    this.outBytes += frame.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushTick);
    }
  }

  sendMethod<N extends MethodName>(channel: number, name: N, args: MethodArgsInput<N>): void {
    this.send(encodeMethodFrame(channel, name, args));
  }

  /** A channel has publisher confirms to send at the end of this turn. */
  wantConfirmFlush(source: ConfirmSource): void {
    this.confirmSources.push(source);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushTick);
    }
  }

  /** Whether consumers may be handed more deliveries now (socket backpressure). */
  get writable(): boolean {
    if (this.outBytes + this.socket.writableLength + (this.stage === undefined ? 0 : this.stage.heldBytes) < WRITE_HIGH_WATER) return true;
    this.resumeWanted = true;
    return false;
  }

  private readonly flushTick = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  flush(): void {
    if (this.confirmSources.length > 0) {
      const sources = this.confirmSources.splice(0);
      for (const s of sources) s.flushConfirms();
    }
    this.retireSlab();
    const out = this.out;
    if (out.length === 0) return;
    this.out = [];
    this.outBytes = 0;
    const marked = this.marked;
    this.marked = undefined;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (this.stage !== undefined) {
      this.stage.take(out, marked);
      return;
    }
    this.lastSent = Date.now();
    if (marked !== undefined) {
      for (const part of out) this.write(toBuffer(part), marked.has(part) ? 'injected' : undefined);
    } else if (out.length === 1) {
      const data = toBuffer(out[0]!);
      this.report(data);
      this.socket.write(data);
    } else {
      this.socket.cork();
      for (const part of out) {
        const data = toBuffer(part);
        this.report(data);
        this.socket.write(data);
      }
      this.socket.uncork();
    }
    if (this.resumeWanted) this.maybeResume();
  }

  /** Writes to the socket and tells the observer (a stage's way out); `mark`: a fault rule's frame. */
  write(data: Buffer, mark: FaultMark | undefined): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (mark === undefined) this.report(data);
    else this.reportMarked(data, mark);
    if (mark === 'suppressed') return;
    this.lastSent = Date.now();
    this.socket.write(data);
  }

  /** Tells the observer of a frame a rule made or dropped (never written when `suppressed`). */
  reportMarked(frame: Uint8Array, mark: FaultMark): void {
    if (this.observer?.onFrameMarked === undefined) return;
    try {
      this.observer.onFrameMarked(this.id, 's2c', frame, mark);
    } catch {
      // ignore observer faults
    }
  }

  private report(data: Buffer): void {
    if (this.observer?.onData === undefined) return;
    try {
      this.observer.onData(this.id, 's2c', data);
    } catch {
      // ignore observer faults
    }
  }

  /** The socket has room again: consumers held back by backpressure get their messages. */
  maybeResume(): void {
    if (!this.resumeWanted || this.resumeScheduled) return;
    if (this.outBytes + this.socket.writableLength + (this.stage === undefined ? 0 : this.stage.heldBytes) >= WRITE_HIGH_WATER) return;
    this.resumeScheduled = true;
    setImmediate(() => {
      this.resumeScheduled = false;
      if (this.owner.state !== 'running') return;
      if (this.outBytes + this.socket.writableLength >= WRITE_HIGH_WATER) return;
      this.resumeWanted = false;
      this.owner.resumeDeliveries();
    });
  }
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}
