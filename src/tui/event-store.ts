// The TUI's memory: a bounded ring of the last N events, the list's view (the positions of
// the events that pass the mode, heartbeat and filter choices, kept incrementally), lookups by
// seq, traffic counters for the header's rates, and the connections (a ConnectionTracker fed
// the events as they pass, so it survives events leaving the ring). Plain TS, no React.

import type { MessageEvent, SpyEvent } from '../events.js';
import type { Filter } from '../view/filter.js';
import { ConnectionTracker, type TrackedConnection } from '../tap/connection-tracker.js';
import { LaterFactsIndex, type LaterFacts } from '../view/later-facts.js';
import { decodedCost, eventCost } from './event-cost.js';

export type ListMode = 'messages' | 'frames';

export interface ViewOptions {
  readonly mode: ListMode;
  readonly hideHeartbeats: boolean;
  readonly filter?: Filter | undefined;
}

export interface TrafficTotals {
  readonly framesC2S: number;
  readonly framesS2C: number;
  readonly messagesC2S: number;
  readonly messagesS2C: number;
}

/**
 * Memory the kept events may take before the oldest leave the list: their decoded form
 * estimated (eventCost) plus the bytes they hold, so it bounds the heap whatever the traffic.
 * 32 MiB (was 256): under a flood of 16 B..64 KB messages the process peaked at 581 MB with
 * 256 MiB kept, ~340 MB with 32 MiB; small messages still fill the count (--buffer) first.
 */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** How far after a content frame its assembled message event may be. */
const MESSAGE_SEARCH_SPAN = 4096;

export class EventStore {
  readonly capacity: number;
  private readonly ring: (SpyEvent | undefined)[];
  /** absolute index of the oldest event kept */
  private start = 0;
  /** absolute index the next event gets */
  private end = 0;
  private viewOptions: ViewOptions = { mode: 'messages', hideHeartbeats: false };
  /** absolute indexes of the events in the view, ascending; entries before viewHead are gone */
  private view: number[] = [];
  private viewHead = 0;
  private readonly listeners = new Set<() => void>();
  private readonly totals = { framesC2S: 0, framesS2C: 0, messagesC2S: 0, messagesS2C: 0 };
  private readonly samples: { at: number; totals: TrafficTotals }[] = [];
  /** each connection and its channels, from the events as they pass (not bounded by the ring) */
  readonly connectionTracker = new ConnectionTracker();
  /** what became of publishes and deliveries, and RPC pairs, learnt from later events */
  private readonly later = new LaterFactsIndex();
  /** bumped on every change, so a snapshot can tell it is stale */
  version = 0;

  /** memory the kept events take (eventCost); past `maxBytes` the oldest go too */
  private bytesKept = 0;
  /** each kept event's cost, by ring slot: counted once, given back when it leaves */
  private readonly costs: Float64Array;
  readonly maxBytes: number;

  constructor(capacity = 100_000, options: { maxBytes?: number } = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`event buffer size must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.ring = new Array<SpyEvent | undefined>(capacity);
    this.costs = new Float64Array(capacity);
  }

  /** Events ever pushed (evicted ones included). */
  get total(): number {
    return this.end;
  }

  get firstIndex(): number {
    return this.start;
  }

  get endIndex(): number {
    return this.end;
  }

  get size(): number {
    return this.end - this.start;
  }

  /** Events that left the ring because it was full (not those removed by `clear`). */
  evicted = 0;
  /** bytes of whole frames this UI did not get because it fell behind (forwarded and recorded all the same) */
  notShownBytes = 0;
  /** bytes of traffic this UI has been given and not decoded yet: the list is that far behind */
  backlogBytes = 0;

  /** the time of the latest event (µs): "now" for a recording */
  latestTs = 0;

  push(event: SpyEvent): void {
    if (event.ts > this.latestTs) this.latestTs = event.ts;
    if (event.kind === 'decode.error' && event.notShown !== undefined) this.notShownBytes += event.notShown;
    if (this.end - this.start === this.capacity) this.dropOldest();
    const cost = eventCost(event);
    this.bytesKept += cost;
    if (event.kind === 'message') this.shareDecoded(event);
    // the memory budget bounds the list as well as the count: the newest event always stays
    while (this.bytesKept > this.maxBytes && this.end > this.start) this.dropOldest();
    const index = this.end++;
    this.ring[index % this.capacity] = event;
    this.costs[index % this.capacity] = cost;
    if (this.passes(event)) this.view.push(index);
    this.count(event);
    this.connectionTracker.observe(event);
    this.later.observe(event);
    this.version++;
    for (const listener of this.listeners) listener();
  }

  private dropOldest(): void {
    const slot = this.start % this.capacity;
    this.bytesKept -= this.costs[slot]!;
    this.ring[slot] = undefined;
    this.start++;
    this.evicted++;
    const oldest = this.ring[this.start % this.capacity];
    if (oldest !== undefined) this.later.forgetBefore(oldest.seq);
    if (this.view[this.viewHead] === this.start - 1) this.advanceViewHead();
  }

  /**
   * A message holds its method and header frames' decoded objects, and is counted with them:
   * the frames still kept give their part back, so each object is counted once.
   */
  private shareDecoded(message: MessageEvent): void {
    for (let i = 0; i < 2 && i < message.frames.length; i++) {
      const index = this.indexOfSeq(message.frames[i]!);
      if (index === undefined) continue;
      const slot = index % this.capacity;
      const frame = this.ring[slot]!;
      if (
        frame.kind !== 'frame' ||
        (frame.frame.type === 'method' ? frame.frame.method !== message.method : frame.frame.type !== 'header' || frame.frame.header !== message.header)
      )
        continue;
      const shared = decodedCost(frame);
      this.costs[slot] = this.costs[slot]! - shared;
      this.bytesKept -= shared;
    }
  }

  /** Memory the kept events take, as estimated by eventCost. */
  get bytes(): number {
    return this.bytesKept;
  }

  at(index: number): SpyEvent | undefined {
    return index >= this.start && index < this.end ? this.ring[index % this.capacity] : undefined;
  }

  /** The absolute index of the event with this seq, if it is still kept. */
  indexOfSeq(seq: number): number | undefined {
    let lo = this.start;
    let hi = this.end - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.ring[mid % this.capacity]!.seq;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  findBySeq(seq: number): SpyEvent | undefined {
    const index = this.indexOfSeq(seq);
    return index === undefined ? undefined : this.at(index);
  }

  /** What later events told of this one: its confirm or settlement, a return, its RPC partner. */
  laterFacts(event: SpyEvent): LaterFacts | undefined {
    return this.later.of(event);
  }

  /** Whether the event still waits for its confirm or settlement. */
  isPending(event: SpyEvent): boolean {
    return this.later.isPending(event);
  }

  /** Removes every event from the list (counters and connections stay). */
  clear(): void {
    for (let i = this.start; i < this.end; i++) this.ring[i % this.capacity] = undefined;
    this.start = this.end;
    this.bytesKept = 0;
    this.view = [];
    this.viewHead = 0;
    this.version++;
    for (const listener of this.listeners) listener();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- the list's view ----------------------------------------------------------------------

  get options(): ViewOptions {
    return this.viewOptions;
  }

  /** Changes what the list shows and rebuilds the view from the events kept. */
  setView(options: ViewOptions): void {
    this.viewOptions = options;
    const view: number[] = [];
    for (let i = this.start; i < this.end; i++) if (this.passes(this.ring[i % this.capacity]!)) view.push(i);
    this.view = view;
    this.viewHead = 0;
    this.version++;
  }

  /** Whether an event belongs in the list under the current view options. */
  passes(event: SpyEvent): boolean {
    const { mode, hideHeartbeats, filter } = this.viewOptions;
    if (event.kind === 'message') {
      if (mode !== 'messages') return false;
    } else if (event.kind === 'frame') {
      const frame = event.frame;
      if (frame.type === 'heartbeat') {
        if (hideHeartbeats) return false;
      } else if (mode === 'messages' && (frame.type !== 'method' || frame.method.spec.content)) {
        // in message mode a message's method, header and body frames are its one message row
        return false;
      }
    }
    return filter === undefined || filter.empty || filter.matches(event, this.later);
  }

  /** Rows in the view among the events before `end` (an absolute index: a frozen snapshot). */
  viewLength(end = this.end): number {
    if (end >= this.end) return this.view.length - this.viewHead;
    return this.lowerBound(end) - this.viewHead;
  }

  /** Absolute index of the event at a view position. */
  viewAt(position: number): number | undefined {
    return this.view[this.viewHead + position];
  }

  /** View position of the first row at or after an absolute index. */
  positionOf(index: number): number {
    return this.lowerBound(index) - this.viewHead;
  }

  /** Whether the event at an absolute index is a row of the view. */
  inView(index: number): boolean {
    return this.view[this.lowerBound(index)] === index;
  }

  /**
   * The row to show for a linked seq: the event itself, or in message mode the message that
   * holds a content frame. Undefined when it has left the buffer or the view hides it.
   */
  rowForSeq(seq: number): number | undefined {
    const index = this.indexOfSeq(seq);
    if (index === undefined) return undefined;
    if (this.inView(index)) return index;
    const event = this.at(index)!;
    if (event.kind === 'frame' && this.viewOptions.mode === 'messages') {
      const limit = Math.min(this.end, index + MESSAGE_SEARCH_SPAN);
      for (let i = index + 1; i < limit; i++) {
        const candidate = this.ring[i % this.capacity]!;
        if (candidate.kind === 'message' && candidate.conn === event.conn && candidate.frames.includes(seq)) return this.inView(i) ? i : undefined;
      }
    }
    return undefined;
  }

  /** Next (or previous) row after `fromPosition` whose event matches, within `length` rows. */
  findInView(filter: Filter, fromPosition: number, step: 1 | -1, length = this.viewLength()): number | undefined {
    for (let pos = fromPosition + step; pos >= 0 && pos < length; pos += step) {
      const event = this.at(this.viewAt(pos)!);
      if (event && filter.matches(event, this.later)) return pos;
    }
    return undefined;
  }

  private lowerBound(index: number): number {
    let lo = this.viewHead;
    let hi = this.view.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.view[mid]! < index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private advanceViewHead(): void {
    this.viewHead++;
    // compact now and then so the array does not grow with evicted entries
    if (this.viewHead > 4096 && this.viewHead * 2 > this.view.length) {
      this.view = this.view.slice(this.viewHead);
      this.viewHead = 0;
    }
  }

  // --- traffic ------------------------------------------------------------------------------

  get traffic(): TrafficTotals {
    return { ...this.totals };
  }

  /** Per-second rates over about the last second; call it when drawing (it keeps samples). */
  rates(nowMs: number = performance.now()): TrafficTotals {
    const current = this.traffic;
    this.samples.push({ at: nowMs, totals: current });
    // keep one sample at least a second old as the base
    while (this.samples.length > 2 && this.samples[1]!.at <= nowMs - 1000) this.samples.shift();
    const base = this.samples[0]!;
    const seconds = (nowMs - base.at) / 1000;
    if (seconds <= 0.05) return { framesC2S: 0, framesS2C: 0, messagesC2S: 0, messagesS2C: 0 };
    return {
      framesC2S: (current.framesC2S - base.totals.framesC2S) / seconds,
      framesS2C: (current.framesS2C - base.totals.framesS2C) / seconds,
      messagesC2S: (current.messagesC2S - base.totals.messagesC2S) / seconds,
      messagesS2C: (current.messagesS2C - base.totals.messagesS2C) / seconds,
    };
  }

  /** The connections seen, by id (closed ones too, up to the tracker's limit). */
  get connections(): ReadonlyMap<number, TrackedConnection> {
    return this.connectionTracker.connections;
  }

  get openConnections(): number {
    return this.connectionTracker.openCount;
  }

  private count(event: SpyEvent): void {
    // named fields, not [event.dir]: this runs for every event
    if (event.kind === 'frame') {
      if (event.dir === 'c2s') this.totals.framesC2S++;
      else this.totals.framesS2C++;
    } else if (event.kind === 'message') {
      if (event.dir === 'c2s') this.totals.messagesC2S++;
      else this.totals.messagesS2C++;
    }
  }
}
