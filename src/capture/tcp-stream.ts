// One direction of a TCP connection put back in order from captured segments: in-order bytes
// pass at once (views of the packet), segments ahead of the next expected byte wait (copied,
// within a budget), retransmissions and overlaps are trimmed, and bytes the capture never had
// become a gap of known size. Bytes are never invented: a gap is reported, not filled.
//
// When is a byte lost rather than late? When the peer acknowledges it (the receiver had it, the
// capture did not), when the connection ends, when a snaplen cut it, or when waiting for it
// would take more than the budget.

/** Sequence-space difference a - b, modulo 2^32 (positive: a is after b). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Bytes held by every stream for out-of-order segments (and resync), shared across a capture. */
export class BufferBudget {
  used = 0;
  /** times a stream was refused bytes and had to give up waiting */
  refusals = 0;
  constructor(readonly limit: number) {}
  take(n: number): boolean {
    if (this.used + n > this.limit) {
      this.refusals++;
      return false;
    }
    this.used += n;
    return true;
  }
  give(n: number): void {
    this.used -= n;
  }
}

export interface TcpStreamSink {
  /** bytes in stream order; `data` may be a view of the captured packet */
  data(bytes: Uint8Array, ts: number): void;
  /** `length` bytes the capture does not have come here */
  gap(length: number, ts: number): void;
}

interface WaitingSegment {
  readonly seq: number;
  readonly data: Uint8Array;
  /** bytes on the wire (more than data.length when the snaplen cut it) */
  readonly length: number;
}

/** Segments one stream keeps waiting at most (one insertion costs up to this many moves). */
const MAX_WAITING_SEGMENTS = 1024;
/** Packets after which bytes the peer acknowledged, but the capture lacks, are given up. */
const REORDER_TOLERANCE = 64;
/** Bytes one stream keeps waiting at most, within the shared budget. */
const MAX_WAITING_BYTES = 4 * 1024 * 1024;

export interface TcpStreamCounters {
  retransmitted: number;
  overlapping: number;
  outOfOrder: number;
  gaps: number;
  lostBytes: number;
}

export class TcpStream {
  /** the sequence number of the next byte to deliver; undefined until the stream's start is known */
  private next: number | undefined;
  private readonly waiting: WaitingSegment[] = [];
  private waitingBytes = 0;
  /** sequence number of the FIN, once seen */
  private finSeq: number | undefined;
  /** the FIN's place was reached: everything before it was delivered or reported lost */
  finished = false;
  /** the furthest the peer acknowledged beyond `next`, while the capture lacks those bytes */
  private ackedAhead: number | undefined;
  private ackedAheadTick = 0;
  /** packets of the connection seen by this stream (its own segments and the peer's ACKs) */
  private ticks = 0;

  constructor(
    private readonly sink: TcpStreamSink,
    private readonly budget: BufferBudget,
    private readonly counters: TcpStreamCounters,
  ) {}

  get started(): boolean {
    return this.next !== undefined;
  }

  /** The SYN: the first data byte is the one after it. */
  syn(seq: number): void {
    if (this.next === undefined) this.next = (seq + 1) >>> 0;
  }

  /** A segment's bytes (or none) at `seq`; `fin`: it ends the stream after them. */
  segment(seq: number, data: Uint8Array, length: number, fin: boolean, ts: number): void {
    this.tick(ts);
    // a capture that starts mid-stream: this segment is where the stream starts for us
    this.next ??= seq;
    if (fin) this.finSeq = (seq + length) >>> 0;
    if (length > 0) {
      const ahead = seqDiff(seq, this.next);
      if (ahead <= 0) this.apply(seq, data, length, ts);
      else this.wait(seq, data, length, ts);
      this.release(ts);
    }
    this.checkFin();
  }

  /**
   * The peer acknowledged everything before `ack`: bytes of it the capture lacks were lost,
   * unless they are only late in the file (a capture on several CPUs can write packets a little
   * out of order), so they are given up only after REORDER_TOLERANCE more packets.
   */
  acknowledged(ack: number, ts: number): void {
    this.tick(ts);
    if (this.next === undefined) return;
    // the FIN takes one sequence number but is no data
    const limit = this.finSeq !== undefined && seqDiff(ack, this.finSeq) > 0 ? this.finSeq : ack;
    if (seqDiff(limit, this.next) <= 0) return;
    if (this.ackedAhead === undefined || seqDiff(limit, this.ackedAhead) > 0) {
      if (this.ackedAhead === undefined) this.ackedAheadTick = this.ticks;
      this.ackedAhead = limit;
    }
  }

  /** One more packet of the connection: an acknowledged hole waits at most so many. */
  private tick(ts: number): void {
    this.ticks++;
    if (this.ackedAhead === undefined) return;
    if (this.next !== undefined && seqDiff(this.ackedAhead, this.next) <= 0) {
      this.ackedAhead = undefined;
      return;
    }
    if (this.ticks - this.ackedAheadTick > REORDER_TOLERANCE) {
      const to = this.ackedAhead;
      this.ackedAhead = undefined;
      this.skipTo(to, ts);
    }
  }

  /** The connection ended: what still waits goes out, with gaps for what never came. */
  end(ts: number): void {
    if (this.next === undefined) return;
    this.release(ts);
    if (this.ackedAhead !== undefined) this.skipTo(this.ackedAhead, ts);
    this.ackedAhead = undefined;
    const last = this.waiting[this.waiting.length - 1];
    if (last !== undefined) this.skipTo((last.seq + last.length) >>> 0, ts);
    if (this.finSeq !== undefined && seqDiff(this.finSeq, this.next) > 0) this.skipTo(this.finSeq, ts);
    this.checkFin();
  }

  /** Everything before `to` is taken as lost where it was not captured. */
  private skipTo(to: number, ts: number): void {
    while (this.next !== undefined && seqDiff(to, this.next) > 0) {
      const first = this.waiting[0];
      const gapEnd = first !== undefined && seqDiff(first.seq, to) < 0 ? first.seq : to;
      const missing = seqDiff(gapEnd, this.next);
      if (missing > 0) {
        this.counters.gaps++;
        this.counters.lostBytes += missing;
        this.sink.gap(missing, ts);
        this.next = gapEnd;
      }
      this.release(ts);
      if (first === undefined) break;
    }
  }

  /** A segment that starts at or before `next`: what is new of it is delivered. */
  private apply(seq: number, data: Uint8Array, length: number, ts: number): void {
    const next = this.next!;
    const already = seqDiff(next, seq);
    if (already >= length) {
      this.counters.retransmitted++;
      return;
    }
    if (already > 0) this.counters.overlapping++;
    if (already < data.length) this.sink.data(already === 0 ? data : data.subarray(already), ts);
    // a snaplen cut: the bytes past what was captured are lost
    const captured = Math.max(already, data.length);
    if (captured < length) {
      this.counters.gaps++;
      this.counters.lostBytes += length - captured;
      this.sink.gap(length - captured, ts);
    }
    this.next = (seq + length) >>> 0;
  }

  private wait(seq: number, data: Uint8Array, length: number, ts: number): void {
    this.counters.outOfOrder++;
    // a copy: the packet's chunk must not be kept alive for a few bytes
    while (this.waiting.length >= MAX_WAITING_SEGMENTS || this.waitingBytes + data.length > MAX_WAITING_BYTES || !this.budget.take(data.length)) {
      // waiting would cost too much: the bytes before the first waiting segment are given up
      const first = this.waiting[0];
      if (first === undefined) {
        this.skipTo(seq, ts);
        this.apply(seq, data, length, ts);
        return;
      }
      this.skipTo(first.seq, ts);
      if (seqDiff(seq, this.next!) <= 0) {
        this.apply(seq, data, length, ts);
        return;
      }
    }
    const copy = Uint8Array.prototype.slice.call(data);
    // insertion in sequence order; a segment already waiting at the same place is a retransmission
    let i = this.waiting.length;
    while (i > 0 && seqDiff(this.waiting[i - 1]!.seq, seq) > 0) i--;
    const before = this.waiting[i - 1];
    if (before !== undefined && before.seq === seq && before.length >= length) {
      this.budget.give(copy.length);
      this.counters.retransmitted++;
      return;
    }
    this.waiting.splice(i, 0, { seq, data: copy, length });
    this.waitingBytes += copy.length;
  }

  /** Delivers waiting segments that the stream has reached. */
  private release(ts: number): void {
    while (this.waiting.length > 0 && seqDiff(this.waiting[0]!.seq, this.next!) <= 0) {
      const s = this.waiting.shift()!;
      this.waitingBytes -= s.data.length;
      this.budget.give(s.data.length);
      this.apply(s.seq, s.data, s.length, ts);
    }
  }

  private checkFin(): void {
    if (!this.finished && this.finSeq !== undefined && this.next !== undefined && seqDiff(this.finSeq, this.next) <= 0 && this.waiting.length === 0)
      this.finished = true;
  }

  /** Bytes waiting, returned to the budget (the connection is forgotten). */
  dispose(): void {
    this.budget.give(this.waitingBytes);
    this.waitingBytes = 0;
    this.waiting.length = 0;
  }
}
