// The TUI's memory: a bounded ring of the last N events, the list's view (the positions of
// the events that pass the mode, heartbeat and filter choices, kept incrementally), lookups by
// seq, traffic counters for the header's rates, and the connections view-model derived from
// the events as they pass (so it survives events leaving the ring). Plain TS, no React.

import type { ArgumentValue } from '../decoder/types.js';
import type { Direction, Endpoint, FrameInsight, MessageEvent, PrefetchFull, SpyEvent } from '../events.js';
import type { Filter } from '../view/filter.js';
import { isFieldTable, tableString } from '../decoder/field-table.js';
import { saslCredentials } from '../decoder/sasl.js';
import { LaterFactsIndex, type LaterFacts } from '../view/later-facts.js';
import { describeLeft } from '../view/format.js';
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

export type ChannelState = 'opening' | 'open' | 'flow-stopped' | 'closing' | 'closed';

export interface ChannelInfo {
  readonly id: number;
  state: ChannelState;
  /** consumer tags confirmed by consume-ok and not cancelled */
  readonly consumers: Set<string>;
  prefetch: number | undefined;
  unacked: number;
  /** a prefetch limit reached on the channel, as the tap last said (FULL 5/5) */
  prefetchFull: PrefetchFull | undefined;
  confirmMode: boolean;
  unconfirmed: number;
  /** the reply code and text of an error close */
  closeError: string | undefined;
}

export interface ConnectionInfo {
  readonly id: number;
  client: Endpoint | undefined;
  server: Endpoint | undefined;
  state: 'open' | 'closing' | 'closed';
  closeReason: string | undefined;
  /** what the close left: `left 3 deliveries unacked, 2 publishes unconfirmed`, or undefined */
  closeLeft: string | undefined;
  closeError: string | undefined;
  product: string | undefined;
  version: string | undefined;
  platform: string | undefined;
  user: string | undefined;
  vhost: string | undefined;
  frameMax: number | undefined;
  heartbeat: number | undefined;
  channelMax: number | undefined;
  /** when the server blocked the connection (connection.blocked, µs), until connection.unblocked */
  blockedSince: number | undefined;
  blockedReason: string | undefined;
  /** how long it was blocked before, in all (µs) */
  blockedMicros: number;
  readonly channels: Map<number, ChannelInfo>;
  frames: number;
  messages: number;
  errors: number;
}

/**
 * Memory the kept events may take before the oldest leave the list: their decoded form
 * estimated (eventCost) plus the bytes they hold, so it bounds the heap whatever the traffic.
 */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
/** Closed connections kept in the connections view; the oldest leave first. */
const MAX_CLOSED_CONNECTIONS = 200;
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
  readonly connections = new Map<number, ConnectionInfo>();
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

  /** Events ever pushed (dropped ones included). */
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
  dropped = 0;

  /** the time of the latest event (µs): "now" for a recording */
  latestTs = 0;

  push(event: SpyEvent): void {
    if (event.ts > this.latestTs) this.latestTs = event.ts;
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
    this.observe(event);
    this.later.observe(event);
    this.version++;
    for (const listener of this.listeners) listener();
  }

  private dropOldest(): void {
    const slot = this.start % this.capacity;
    this.bytesKept -= this.costs[slot]!;
    this.ring[slot] = undefined;
    this.start++;
    this.dropped++;
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
      if (frame.kind !== 'frame' || (frame.frame.type === 'method' ? frame.frame.method !== message.method : frame.frame.type !== 'header' || frame.frame.header !== message.header)) continue;
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
    return filter === undefined || filter.empty || filter.matches(event);
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
      if (event && filter.matches(event)) return pos;
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
    // compact now and then so the array does not grow with dropped entries
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

  get openConnections(): number {
    let n = 0;
    for (const c of this.connections.values()) if (c.state !== 'closed') n++;
    return n;
  }

  // --- connections view-model ---------------------------------------------------------------

  private observe(event: SpyEvent): void {
    switch (event.kind) {
      case 'frame': {
        if (event.dir === 'c2s') this.totals.framesC2S++;
        else this.totals.framesS2C++;
        const conn = this.connection(event.conn);
        conn.frames++;
        if (event.frame.type === 'method') this.observeMethod(conn, event.dir, event.channel, event.frame.method.name, event.frame.method.args, event.insight, event.ts);
        return;
      }
      case 'message': {
        if (event.dir === 'c2s') this.totals.messagesC2S++;
        else this.totals.messagesS2C++;
        this.connection(event.conn).messages++;
        return;
      }
      case 'conn.open': {
        const conn = this.connection(event.conn);
        conn.client = event.client;
        conn.server = event.server;
        return;
      }
      case 'conn.close': {
        const conn = this.connection(event.conn);
        conn.state = 'closed';
        conn.closeReason = event.reason;
        conn.closeLeft = describeLeft(event) || undefined;
        if (conn.blockedSince !== undefined) {
          // blocked until the end
          conn.blockedMicros += Math.max(0, event.ts - conn.blockedSince);
          conn.blockedSince = undefined;
        }
        for (const ch of conn.channels.values()) ch.state = 'closed';
        this.forgetOldClosed();
        return;
      }
      case 'decode.error':
        this.connection(event.conn).errors++;
        return;
      default:
        return;
    }
  }

  private connection(id: number): ConnectionInfo {
    let conn = this.connections.get(id);
    if (!conn) {
      conn = {
        id, client: undefined, server: undefined, state: 'open', closeReason: undefined, closeLeft: undefined, closeError: undefined,
        product: undefined, version: undefined, platform: undefined, user: undefined, vhost: undefined,
        frameMax: undefined, heartbeat: undefined, channelMax: undefined, blockedSince: undefined, blockedReason: undefined, blockedMicros: 0,
        channels: new Map(), frames: 0, messages: 0, errors: 0,
      };
      this.connections.set(id, conn);
    }
    return conn;
  }

  private channel(conn: ConnectionInfo, id: number): ChannelInfo {
    let ch = conn.channels.get(id);
    if (!ch) {
      ch = { id, state: 'open', consumers: new Set(), prefetch: undefined, unacked: 0, prefetchFull: undefined, confirmMode: false, unconfirmed: 0, closeError: undefined };
      conn.channels.set(id, ch);
    }
    return ch;
  }

  private observeMethod(conn: ConnectionInfo, dir: Direction, channelId: number, name: string, args: Readonly<Record<string, ArgumentValue>>, insight: FrameInsight | undefined, ts: number): void {
    if (insight?.error) {
      conn.errors++;
      const text = `${insight.error.replyCode} ${insight.error.replyName}`;
      if (channelId === 0) conn.closeError = text;
      else this.channel(conn, channelId).closeError = text;
    }
    switch (name) {
      case 'connection.start-ok': {
        const props = args['client-properties'];
        if (isFieldTable(props)) {
          conn.product = tableString(props, 'product');
          conn.version = tableString(props, 'version');
          conn.platform = tableString(props, 'platform');
        }
        conn.user = saslCredentials(args['mechanism'], args['response'])?.user;
        return;
      }
      case 'connection.tune-ok':
        conn.frameMax = Number(args['frame-max']);
        conn.heartbeat = Number(args['heartbeat']);
        conn.channelMax = Number(args['channel-max']);
        return;
      case 'connection.open':
        conn.vhost = typeof args['virtual-host'] === 'string' ? args['virtual-host'] : undefined;
        return;
      case 'connection.close':
        conn.state = 'closing';
        return;
      case 'connection.blocked':
        conn.blockedSince ??= ts;
        conn.blockedReason = typeof args['reason'] === 'string' ? args['reason'] : undefined;
        return;
      case 'connection.unblocked':
        if (conn.blockedSince !== undefined) conn.blockedMicros += insight?.blockedMicros ?? Math.max(0, ts - conn.blockedSince);
        conn.blockedSince = undefined;
        return;
      case 'channel.open':
        this.channel(conn, channelId).state = 'opening';
        return;
      case 'channel.open-ok':
        this.channel(conn, channelId).state = 'open';
        return;
      case 'channel.flow':
        if (dir === 's2c') this.channel(conn, channelId).state = args['active'] === false ? 'flow-stopped' : 'open';
        return;
      case 'channel.close':
        this.channel(conn, channelId).state = 'closing';
        return;
      case 'channel.close-ok': {
        const ch = this.channel(conn, channelId);
        ch.state = 'closed';
        ch.consumers.clear();
        ch.unacked = 0;
        ch.prefetchFull = undefined;
        ch.unconfirmed = 0;
        return;
      }
      case 'basic.qos':
        this.channel(conn, channelId).prefetch = Number(args['prefetch-count']);
        return;
      case 'basic.consume-ok':
        if (typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.add(args['consumer-tag']);
        return;
      case 'basic.cancel-ok':
        if (typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.delete(args['consumer-tag']);
        return;
      case 'basic.cancel':
        // a broker-initiated cancel (queue deleted) ends the consumer without a cancel-ok
        if (dir === 's2c' && typeof args['consumer-tag'] === 'string') this.channel(conn, channelId).consumers.delete(args['consumer-tag']);
        return;
      case 'confirm.select':
        this.channel(conn, channelId).confirmMode = true;
        return;
      default:
        break;
    }
    // the counts are the tap's (protocol insight), not worked out again here
    if (insight?.unacked !== undefined) {
      const ch = this.channel(conn, channelId);
      ch.unacked = insight.unacked;
      // a delivery only adds to what is full; a settle (or recover) says what still is
      if (insight.prefetchFull !== undefined || insight.settles !== undefined || name.startsWith('basic.recover')) ch.prefetchFull = insight.prefetchFull;
    }
    if (insight?.unconfirmed !== undefined) this.channel(conn, channelId).unconfirmed = insight.unconfirmed;
  }

  private forgetOldClosed(): void {
    let closed = 0;
    for (const c of this.connections.values()) if (c.state === 'closed') closed++;
    for (const [id, c] of this.connections) {
      if (closed <= MAX_CLOSED_CONNECTIONS) break;
      if (c.state === 'closed') {
        this.connections.delete(id);
        closed--;
      }
    }
  }
}
