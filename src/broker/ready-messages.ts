// The ready (not yet delivered) messages of a queue, in delivery order:
// priority buckets (highest first), FIFO within a bucket, and requeued messages put back at
// their original position — ahead of everything published after them, as RabbitMQ does.

import type { BrokerMessage } from './message.js';

export interface QueueEntry {
  /** position in the queue's publish order; requeue restores it */
  readonly seq: number;
  readonly message: BrokerMessage;
  /** body bytes, what x-max-length-bytes counts */
  readonly size: number;
  /** absolute ms; Infinity when the message never expires */
  readonly expiresAt: number;
  /** bucket index (0 when the queue has no x-max-priority) */
  readonly priority: number;
  redelivered: boolean;
}

/**
 * One priority level. Never-delivered messages sit in a FIFO; requeued ones in a small list
 * sorted by seq. Every requeued message was once taken from the FIFO's head, so it precedes
 * everything still in the FIFO: the requeued list always comes first.
 */
class Bucket {
  private fifo: QueueEntry[] = [];
  private head = 0;
  /** sorted by seq, descending, so the next one pops off the end */
  private requeued: QueueEntry[] = [];

  get length(): number {
    return this.fifo.length - this.head + this.requeued.length;
  }

  push(e: QueueEntry): void {
    this.fifo.push(e);
  }

  putBack(e: QueueEntry): void {
    const r = this.requeued;
    // binary search for the slot keeping descending seq order
    let lo = 0;
    let hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[mid]!.seq > e.seq) lo = mid + 1;
      else hi = mid;
    }
    r.splice(lo, 0, e);
  }

  peek(): QueueEntry | undefined {
    const r = this.requeued;
    return r.length > 0 ? r[r.length - 1] : this.fifo[this.head];
  }

  shift(): QueueEntry | undefined {
    if (this.requeued.length > 0) return this.requeued.pop();
    if (this.head >= this.fifo.length) return undefined;
    const e = this.fifo[this.head]!;
    this.fifo[this.head] = undefined as unknown as QueueEntry; // let it be collected
    this.head++;
    if (this.head === this.fifo.length) {
      this.fifo = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.fifo.length) {
      this.fifo = this.fifo.slice(this.head);
      this.head = 0;
    }
    return e;
  }

  clear(): void {
    this.fifo = [];
    this.head = 0;
    this.requeued = [];
  }

  *[Symbol.iterator](): IterableIterator<QueueEntry> {
    for (let i = this.requeued.length - 1; i >= 0; i--) yield this.requeued[i]!;
    for (let i = this.head; i < this.fifo.length; i++) yield this.fifo[i]!;
  }
}

export class ReadyMessages {
  private readonly buckets: Bucket[];
  private count = 0;
  private byteCount = 0;

  /** `levels` priority levels: 1 for a plain queue, x-max-priority + 1 for a priority queue */
  constructor(levels = 1) {
    this.buckets = Array.from({ length: Math.max(1, levels) }, () => new Bucket());
  }

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  push(e: QueueEntry): void {
    this.bucket(e).push(e);
    this.added(e);
  }

  /** Puts a delivered message back where it was in the publish order. */
  putBack(e: QueueEntry): void {
    this.bucket(e).putBack(e);
    this.added(e);
  }

  /** The next message to deliver. */
  peek(): QueueEntry | undefined {
    for (let p = this.buckets.length - 1; p >= 0; p--) {
      const e = this.buckets[p]!.peek();
      if (e !== undefined) return e;
    }
    return undefined;
  }

  shift(): QueueEntry | undefined {
    for (let p = this.buckets.length - 1; p >= 0; p--) {
      const e = this.buckets[p]!.shift();
      if (e !== undefined) {
        this.removed(e);
        return e;
      }
    }
    return undefined;
  }

  /** Removes expired messages from the head of every bucket (RabbitMQ expires only at the head). */
  takeExpired(now: number, out: QueueEntry[]): void {
    if (this.count === 0) return;
    for (const b of this.buckets) {
      for (let e = b.peek(); e !== undefined && e.expiresAt <= now; e = b.peek()) {
        b.shift();
        this.removed(e);
        out.push(e);
      }
    }
  }

  /** Earliest expiry among the bucket heads; Infinity when none. */
  nextExpiry(): number {
    let next = Infinity;
    if (this.count === 0) return next;
    for (const b of this.buckets) {
      const e = b.peek();
      if (e !== undefined && e.expiresAt < next) next = e.expiresAt;
    }
    return next;
  }

  /** Drops every ready message; returns how many there were. */
  clear(): number {
    const n = this.count;
    for (const b of this.buckets) b.clear();
    this.count = 0;
    this.byteCount = 0;
    return n;
  }

  /** In delivery order (for inspection and tests). */
  *[Symbol.iterator](): IterableIterator<QueueEntry> {
    for (let p = this.buckets.length - 1; p >= 0; p--) yield* this.buckets[p]!;
  }

  private bucket(e: QueueEntry): Bucket {
    return this.buckets[Math.min(e.priority, this.buckets.length - 1)]!;
  }

  private added(e: QueueEntry): void {
    this.count++;
    this.byteCount += e.size;
  }

  private removed(e: QueueEntry): void {
    this.count--;
    this.byteCount -= e.size;
  }
}
