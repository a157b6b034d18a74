// Captured packets → AMQP connections → a ByteObserver, as the proxy reports its sockets: the
// taps downstream cannot tell a capture from a live session. A TCP connection is AMQP when its
// client opens with the protocol header ("AMQP"), whatever the port; one already running when
// the capture started is taken on the ports given (`--port`, 5672 by default) and decoded from
// the first frame boundary found. TLS is recognised by its record header and reported, once.
//
// Memory is bounded whatever the capture holds: connections followed at once are capped (the
// rest are counted), and bytes waiting for a missing segment share one budget.

import type { Direction, Endpoint } from '../events.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { FrameBoundaryTracker } from '../decoder/frame-boundary.js';
import { FrameResync } from './frame-resync.js';
import type { CapturedPacket } from './capture-file.js';
import {
  describeAddress,
  describeLinkType,
  isSupportedLinkType,
  SUPPORTED_LINK_TYPES,
  TCP_ACK,
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  tcpSegmentOf,
  type NotTcp,
  type TcpSegment,
} from './tcp-packet.js';
import { BufferBudget, TcpStream, type TcpStreamCounters } from './tcp-stream.js';

export interface CaptureSourceOptions {
  readonly observer: ByteObserver;
  /** server ports of connections already open when the capture started (default [5672]) */
  readonly ports?: readonly number[];
  /** one-line reports: a TLS connection, a limit reached */
  readonly notice: (line: string) => void;
  /** connections followed at once (default 10,000) */
  readonly maxConnections?: number;
  /** bytes held for out-of-order segments and resynchronisation across all connections (default 64 MiB) */
  readonly bufferBudget?: number;
}

export interface CaptureCounters extends TcpStreamCounters {
  packets: number;
  /** packets the snaplen cut (the bytes they lacked are counted in lostBytes) */
  truncatedPackets: number;
  notTcp: number;
  fragments: number;
  /** packets too short for their own IP/TCP headers */
  brokenHeaders: number;
  amqpConnections: number;
  midStreamConnections: number;
  tlsConnections: number;
  /** TCP connections that are not AMQP (other protocols, other ports) */
  otherConnections: number;
  /** connections not followed because maxConnections were open (counted by their SYN) */
  unfollowedConnections: number;
  /** packets of a link type that cannot be read */
  unknownLinkType: number;
}

type Kind = 'pending' | 'amqp' | 'tls' | 'other';

interface TrackedConnection {
  readonly key: string;
  /** `addr:port` of the client, to tell directions apart */
  readonly clientKey: string;
  readonly client: Endpoint;
  readonly server: Endpoint;
  kind: Kind;
  id: number;
  readonly openedAt: number;
  /** the client's SYN sequence number, when its SYN was seen */
  readonly synSeq: number | undefined;
  readonly c2s: TcpStream;
  readonly s2c: TcpStream;
  /** per direction while it looks for a frame boundary (mid-stream start, after a gap) */
  resync: Record<Direction, FrameResync | undefined>;
  /** bytes lost before the resync that follows them */
  lostBeforeResync: Record<Direction, number>;
  /** captured bytes dropped before the resync (while skipping to a known boundary) */
  skippedBeforeResync: Record<Direction, number>;
  /** where frames begin, per direction while in step (fed every byte delivered) */
  boundary: Record<Direction, FrameBoundaryTracker | undefined>;
  /** a gap fell inside a frame of known size: bytes are dropped up to its end, no scan needed */
  skippingToBoundary: Record<Direction, boolean>;
  midStream: Record<Direction, boolean>;
  /** client bytes held until the first eight tell whether they are AMQP's protocol header */
  head: Uint8Array | undefined;
  /** who sent the first FIN or RST */
  closedBy: Direction | undefined;
}

const DEFAULT_PORTS = [5672];
const DEFAULT_MAX_CONNECTIONS = 10_000;
const DEFAULT_BUFFER_BUDGET = 64 * 1024 * 1024;
/** bytes a resync holds while a candidate frame waits for its end */
const RESYNC_HOLD = 256 * 1024;
/** closed connections remembered so their last ACKs are not taken for a mid-stream connection */
const CLOSED_REMEMBERED = 4096;

export class CaptureSource {
  readonly counters: CaptureCounters = {
    packets: 0,
    truncatedPackets: 0,
    notTcp: 0,
    fragments: 0,
    brokenHeaders: 0,
    amqpConnections: 0,
    midStreamConnections: 0,
    tlsConnections: 0,
    otherConnections: 0,
    unfollowedConnections: 0,
    unknownLinkType: 0,
    retransmitted: 0,
    overlapping: 0,
    outOfOrder: 0,
    gaps: 0,
    lostBytes: 0,
  };
  private readonly connections = new Map<string, TrackedConnection>();
  private readonly closed = new Map<string, true>();
  private readonly ports: ReadonlySet<number>;
  private readonly observer: ByteObserver;
  private readonly budget: BufferBudget;
  private readonly maxConnections: number;
  private nextId = 1;
  /** the connection limit was reported */
  private told = false;
  private lastTs = 0;
  private readonly unknownLinkTypes = new Set<number>();

  constructor(private readonly options: CaptureSourceOptions) {
    this.ports = new Set(options.ports ?? DEFAULT_PORTS);
    this.observer = options.observer;
    this.budget = new BufferBudget(options.bufferBudget ?? DEFAULT_BUFFER_BUDGET);
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  }

  /** Connections followed now. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Times waiting for a missing segment would have passed the shared budget. */
  get budgetRefusals(): number {
    return this.budget.refusals;
  }

  packet(packet: CapturedPacket): void {
    const c = this.counters;
    c.packets++;
    this.lastTs = packet.ts;
    if (packet.data.length < packet.originalLength) c.truncatedPackets++;
    const segment = tcpSegmentOf(packet.linkType, packet.data, packet.originalLength);
    if (typeof segment === 'string') {
      this.notTcp(segment, packet.linkType);
      return;
    }
    this.segment(segment, packet.ts);
  }

  /** The capture ended: every connection still open ends here, its streams flushed. */
  end(): void {
    for (const conn of [...this.connections.values()]) this.finish(conn, this.lastTs, undefined);
  }

  private notTcp(reason: NotTcp, linkType: number): void {
    const c = this.counters;
    if (reason === 'fragment') c.fragments++;
    else if (reason === 'truncated-headers') c.brokenHeaders++;
    else c.notTcp++;
    if (reason === 'not-ip' && !isSupportedLinkType(linkType)) {
      c.unknownLinkType++;
      if (!this.unknownLinkTypes.has(linkType)) {
        this.unknownLinkTypes.add(linkType);
        this.options.notice(`packets of ${describeLinkType(linkType)} cannot be read (supported: ${SUPPORTED_LINK_TYPES}): skipped`);
      }
    }
  }

  private segment(s: TcpSegment, ts: number): void {
    const from = `${s.src}:${s.srcPort}`;
    const to = `${s.dst}:${s.dstPort}`;
    const key = from < to ? `${from}>${to}` : `${to}>${from}`;
    let conn = this.connections.get(key);
    const syn = (s.flags & TCP_SYN) !== 0;
    const ackFlag = (s.flags & TCP_ACK) !== 0;
    if (conn !== undefined && syn && !ackFlag && conn.clientKey === from && conn.synSeq !== s.seq) {
      // the same addresses and ports again with another initial sequence number: a new
      // connection (a retransmitted SYN has the same one)
      this.finish(conn, ts, undefined);
      conn = undefined;
    }
    if (conn === undefined) {
      if (this.closed.has(key) && !syn) return;
      conn = this.open(key, s, from, to, ts);
      if (conn === undefined) return;
    }
    const dir: Direction = from === conn.clientKey ? 'c2s' : 's2c';
    const stream = conn[dir];
    if (syn) stream.syn(s.seq);
    // the peer's acknowledgement tells what it received, captured or not
    if (ackFlag) conn[dir === 'c2s' ? 's2c' : 'c2s'].acknowledged(s.ack, ts);
    const fin = (s.flags & TCP_FIN) !== 0;
    if (!syn || s.payloadLength > 0) stream.segment(syn ? (s.seq + 1) >>> 0 : s.seq, s.payload, s.payloadLength, fin, ts);
    if (fin) conn.closedBy ??= dir;
    if ((s.flags & TCP_RST) !== 0) {
      conn.closedBy ??= dir;
      this.finish(conn, ts, 'reset');
      return;
    }
    if (conn.c2s.finished && conn.s2c.finished) this.finish(conn, ts, 'closed');
  }

  private open(key: string, s: TcpSegment, from: string, to: string, ts: number): TrackedConnection | undefined {
    const syn = (s.flags & TCP_SYN) !== 0;
    const ack = (s.flags & TCP_ACK) !== 0;
    let clientIsSender: boolean;
    if (syn) clientIsSender = !ack;
    else if (this.ports.has(s.dstPort)) clientIsSender = true;
    else if (this.ports.has(s.srcPort)) clientIsSender = false;
    else return undefined; // mid-stream on a port not asked for: not followed
    if (this.connections.size >= this.maxConnections) {
      // nothing is kept of a connection not followed: its SYN counts it, its other packets are ignored
      if (syn) this.counters.unfollowedConnections++;
      if (!this.told) {
        this.told = true;
        this.options.notice(
          `more than ${this.maxConnections} TCP connections open at once in the capture: later ones are not followed (counted in the summary)`,
        );
      }
      return undefined;
    }
    const endpoint = (addr: string, port: number): Endpoint => ({ address: describeAddress(addr), port });
    const client = clientIsSender ? endpoint(s.src, s.srcPort) : endpoint(s.dst, s.dstPort);
    const server = clientIsSender ? endpoint(s.dst, s.dstPort) : endpoint(s.src, s.srcPort);
    const conn: TrackedConnection = {
      key,
      clientKey: clientIsSender ? from : to,
      client,
      server,
      kind: 'pending',
      id: 0,
      openedAt: ts,
      synSeq: syn && !ack ? s.seq : undefined,
      // the sinks call back with `conn` only once packets flow, after it is made
      c2s: new TcpStream(
        this.streamSink(() => conn, 'c2s'),
        this.budget,
        this.counters,
      ),
      s2c: new TcpStream(
        this.streamSink(() => conn, 's2c'),
        this.budget,
        this.counters,
      ),
      resync: { c2s: undefined, s2c: undefined },
      lostBeforeResync: { c2s: 0, s2c: 0 },
      skippedBeforeResync: { c2s: 0, s2c: 0 },
      boundary: { c2s: undefined, s2c: undefined },
      skippingToBoundary: { c2s: false, s2c: false },
      midStream: { c2s: !syn, s2c: !syn },
      head: undefined,
      closedBy: undefined,
    };
    this.connections.set(key, conn);
    this.closed.delete(key);
    return conn;
  }

  private streamSink(conn: () => TrackedConnection, dir: Direction) {
    return {
      data: (bytes: Uint8Array, ts: number) => this.data(conn(), dir, bytes, ts),
      gap: (length: number) => this.gap(conn(), dir, length),
    };
  }

  /** In-order bytes of a direction. */
  private data(conn: TrackedConnection, dir: Direction, bytes: Uint8Array, ts: number): void {
    if (conn.kind === 'pending') {
      this.classify(conn, dir, bytes, ts);
      return;
    }
    if (conn.kind !== 'amqp') return;
    this.deliver(conn, dir, bytes, ts);
  }

  private deliver(conn: TrackedConnection, dir: Direction, bytes: Uint8Array, ts: number): void {
    if (conn.skippingToBoundary[dir]) {
      const first = conn.boundary[dir]!.feed(bytes);
      if (first < 0) {
        conn.skippedBeforeResync[dir] += bytes.length;
        return;
      }
      conn.skippingToBoundary[dir] = false;
      this.resynced(conn, dir, first, bytes.subarray(first), ts, false);
      return;
    }
    const resync = conn.resync[dir];
    if (resync === undefined) {
      conn.boundary[dir]?.feed(bytes);
      this.observer.onData?.(conn.id, dir, asBuffer(bytes), ts);
      return;
    }
    const before = resync.heldBytes;
    const found = resync.push(bytes);
    this.budget.give(before);
    if (found === undefined) {
      // held bytes count against the shared budget; past it, they are given up (counted as skipped)
      if (!this.budget.take(resync.heldBytes)) resync.discard();
      return;
    }
    this.resynced(conn, dir, found.skipped, found.rest, ts);
  }

  /** Decoding of `dir` goes on at `rest`, a frame boundary; the observer hears what was missed. */
  private resynced(conn: TrackedConnection, dir: Direction, skipped: number, rest: Uint8Array, ts: number, newTracker = true): void {
    conn.resync[dir] = undefined;
    const lost = conn.lostBeforeResync[dir];
    const skippedBefore = conn.skippedBeforeResync[dir];
    conn.lostBeforeResync[dir] = 0;
    conn.skippedBeforeResync[dir] = 0;
    const midStream = conn.midStream[dir];
    conn.midStream[dir] = false;
    this.observer.onGap?.(conn.id, dir, { lost, skipped: skippedBefore + skipped, midStream }, ts);
    if (newTracker) {
      // (a tracker that found this boundary itself has read these bytes already)
      const tracker = new FrameBoundaryTracker();
      tracker.feed(rest);
      conn.boundary[dir] = tracker;
    }
    if (rest.length > 0) this.observer.onData?.(conn.id, dir, asBuffer(rest), ts);
  }

  /** Bytes the capture lacks: decoding of the direction resynchronises after them. */
  private gap(conn: TrackedConnection, dir: Direction, length: number): void {
    if (conn.kind === 'pending') {
      // the start of a stream is missing: it can only be followed on the ports given
      conn.midStream[dir] = true;
      conn.lostBeforeResync[dir] += length;
      return;
    }
    if (conn.kind !== 'amqp') return;
    conn.lostBeforeResync[dir] += length;
    const resync = conn.resync[dir];
    if (resync !== undefined) {
      this.budget.give(resync.discard());
      return;
    }
    // inside a frame whose size is known: its end is the next boundary, no guessing
    if (conn.boundary[dir]?.skipMissing(length)) {
      conn.skippingToBoundary[dir] = true;
      return;
    }
    // beyond it the sizes of the lost frames are unknown: scan for the next frame
    conn.boundary[dir] = undefined;
    conn.skippingToBoundary[dir] = false;
    conn.resync[dir] = new FrameResync(RESYNC_HOLD);
  }

  /** The first bytes of a connection tell what it is. */
  private classify(conn: TrackedConnection, dir: Direction, bytes: Uint8Array, ts: number): void {
    const isTls = bytes.length >= 3 && bytes[0]! >= 0x14 && bytes[0]! <= 0x17 && bytes[1] === 0x03 && bytes[2]! <= 0x04;
    if (dir === 'c2s' && !conn.midStream.c2s && !isTls) {
      // the client's stream from its start: AMQP's protocol header, which may come a byte at a time
      const head = conn.head === undefined ? bytes : concat(conn.head, bytes);
      const n = Math.min(4, head.length);
      const amqp = Buffer.from(head.buffer, head.byteOffset, n).toString('latin1') === 'AMQP'.slice(0, n);
      if (amqp && head.length < 4) {
        conn.head = head.slice();
        return;
      }
      conn.head = undefined;
      if (amqp || this.ports.has(conn.server.port)) {
        this.startAmqp(conn, dir, head, ts);
        return;
      }
      this.ignore(conn, 'other');
      return;
    }
    if (isTls) {
      this.counters.tlsConnections++;
      this.options.notice(
        `connection ${describeEndpoint(conn.client)} → ${describeEndpoint(conn.server)} is TLS: its AMQP is encrypted and cannot be decoded (capture before TLS, or use the proxy with --upstream amqps://)`,
      );
      this.ignore(conn, 'tls');
      return;
    }
    // the server spoke first, or the client's start was not captured: AMQP only on the ports given
    if (this.ports.has(conn.server.port)) {
      this.startAmqp(conn, dir, bytes, ts);
      return;
    }
    this.ignore(conn, 'other');
  }

  private startAmqp(conn: TrackedConnection, dir: Direction, bytes: Uint8Array, ts: number): void {
    conn.kind = 'amqp';
    conn.id = this.nextId++;
    this.counters.amqpConnections++;
    if (conn.midStream.c2s || conn.midStream.s2c) this.counters.midStreamConnections++;
    for (const d of ['c2s', 's2c'] as const) {
      if (conn.midStream[d]) conn.resync[d] = new FrameResync(RESYNC_HOLD);
      else conn.boundary[d] = new FrameBoundaryTracker();
    }
    this.observer.onOpen?.({ id: conn.id, client: conn.client, server: conn.server }, conn.openedAt);
    this.deliver(conn, dir, bytes, ts);
  }

  private ignore(conn: TrackedConnection, kind: 'tls' | 'other'): void {
    if (kind === 'other') this.counters.otherConnections++;
    conn.kind = kind;
    conn.c2s.dispose();
    conn.s2c.dispose();
  }

  /** The connection ended (FIN both ways, RST, or the capture's end): flush and close it once. */
  private finish(conn: TrackedConnection, ts: number, how: 'closed' | 'reset' | undefined): void {
    if (this.connections.get(conn.key) !== conn) return;
    this.connections.delete(conn.key);
    this.closed.set(conn.key, true);
    if (this.closed.size > CLOSED_REMEMBERED) this.closed.delete(this.closed.keys().next().value!);
    if (conn.kind === 'amqp' || conn.kind === 'pending') {
      conn.c2s.end(ts);
      conn.s2c.end(ts);
    }
    conn.c2s.dispose();
    conn.s2c.dispose();
    if (conn.kind !== 'amqp') {
      if (conn.kind === 'pending' && (conn.c2s.started || conn.s2c.started)) this.counters.otherConnections++;
      return;
    }
    for (const dir of ['c2s', 's2c'] as const) {
      if (conn.skippingToBoundary[dir]) {
        conn.skippingToBoundary[dir] = false;
        this.observer.onGap?.(conn.id, dir, { lost: conn.lostBeforeResync[dir], skipped: conn.skippedBeforeResync[dir], midStream: false }, ts);
        continue;
      }
      const resync = conn.resync[dir];
      if (resync === undefined) continue;
      const held = resync.heldBytes;
      const found = resync.finish();
      this.budget.give(held);
      if (found !== undefined) this.resynced(conn, dir, found.skipped, found.rest, ts);
      else
        this.observer.onGap?.(
          conn.id,
          dir,
          { lost: conn.lostBeforeResync[dir], skipped: conn.skippedBeforeResync[dir] + resync.skippedSoFar, midStream: conn.midStream[dir] },
          ts,
        );
    }
    const by = conn.closedBy === 's2c' ? 'server' : 'client';
    this.observer.onClose?.(conn.id, how === undefined ? { by, how: 'capture-ended' } : { by, how }, ts);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function describeEndpoint(e: Endpoint): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
