// What became of a publish or a delivery, and which message answers which RPC: facts learnt
// from events after the one they are about, so the reverse of the tap's links (an ack names
// its deliveries; here a delivery learns its ack). A plain function of events, bounded by the
// caller (forgetBefore) like the events it describes.

import type { ArgumentValue } from '../decoder/types.js';
import type { MessageEvent, SpyEvent } from '../events.js';

export type OutcomeKind =
  /** publisher confirms: the broker took it (basic.ack) or refused it (basic.nack) */
  | 'confirmed'
  | 'refused'
  /** deliveries: settled by the client */
  | 'acked'
  | 'nacked'
  | 'rejected'
  /** the channel or connection closed first: an unacked delivery goes back to its queue; an unconfirmed publish is unknown */
  | 'closed';

export interface Outcome {
  readonly kind: OutcomeKind;
  /** nack/reject: put back in the queue */
  readonly requeue?: boolean;
  /** the event that settled it (the ack, the nack, the close) */
  readonly bySeq: number;
  readonly afterMicros: number;
}

export interface RpcLink {
  readonly role: 'request' | 'reply';
  /** the request's publish for a reply; the reply's publish for a request */
  readonly otherSeq: number;
  readonly correlationId: string;
  readonly rttMicros: number;
}

export interface LaterFacts {
  readonly outcome?: Outcome;
  /** basic.return of a publish (then usually still confirmed) */
  readonly returnedBySeq?: number;
  readonly rpc?: RpcLink;
}

interface PendingItem {
  readonly seq: number;
  readonly ts: number;
  readonly conn: number;
  readonly channel: number;
}

interface RpcRequest {
  readonly seq: number;
  readonly ts: number;
  readonly correlationId: string;
  /** the reply-to as published, and as the broker delivered it (direct reply-to names it anew) */
  readonly replyTo: Set<string>;
}

/** RPC requests waiting for a reply; the oldest are forgotten past this many. */
const MAX_PENDING_RPC = 10_000;

/** Seq of the method frame that a publish or delivery is known by (a message's first frame). */
export function keySeq(event: SpyEvent): number {
  return event.kind === 'message' ? (event.frames[0] ?? event.seq) : event.seq;
}

export class LaterFactsIndex {
  private readonly facts = new Map<number, LaterFacts>();
  /** the keys of `facts` and `pending` in the order they were added, to forget from the front */
  private readonly factOrder = new SeqQueue();
  private readonly pendingOrder = new SeqQueue();
  /** publishes in confirm mode and deliveries that need an ack, by key seq, not yet settled */
  private readonly pending = new Map<number, PendingItem>();
  /** the same, by connection: a close settles its own, not a scan of every connection's */
  private readonly pendingByConn = new Map<number, Set<number>>();
  private readonly rpc = new RpcPairing();

  /** What is known of the event so far (undefined: nothing yet). */
  of(event: SpyEvent): LaterFacts | undefined {
    return this.facts.get(keySeq(event));
  }

  /** Whether the event still waits for its confirm or settlement. */
  isPending(event: SpyEvent): boolean {
    return this.pending.has(keySeq(event));
  }

  observe(event: SpyEvent): void {
    switch (event.kind) {
      case 'frame': {
        if (event.frame.type !== 'method') return;
        const insight = event.insight;
        const name = event.frame.method.name;
        if (insight?.publishSeqNo !== undefined || insight?.needsAck === true) {
          this.pending.set(event.seq, { seq: event.seq, ts: event.ts, conn: event.conn, channel: event.channel });
          this.pendingOrder.push(event.seq);
          let ofConn = this.pendingByConn.get(event.conn);
          if (ofConn === undefined) this.pendingByConn.set(event.conn, (ofConn = new Set()));
          ofConn.add(event.seq);
        }
        if (insight?.confirms) {
          const kind = insight.confirms.outcome === 'ack' ? 'confirmed' : 'refused';
          for (const seq of insight.confirms.publishSeqs) this.settle(seq, { kind }, event.seq, event.ts);
        }
        if (insight?.settles && !insight.settles.unknownTag) {
          const s = insight.settles;
          const kind = s.outcome === 'ack' ? 'acked' : s.outcome === 'nack' ? 'nacked' : 'rejected';
          for (const seq of s.deliverySeqs) this.settle(seq, { kind, ...(kind !== 'acked' ? { requeue: s.requeue } : {}) }, event.seq, event.ts);
        }
        if (insight?.returnOf !== undefined) this.update(insight.returnOf, { returnedBySeq: event.seq });
        if (name === 'channel.close-ok') this.closePending(event.conn, event.channel, event.seq, event.ts);
        return;
      }
      case 'message':
        this.observeRpc(event);
        return;
      case 'conn.close':
        this.closePending(event.conn, undefined, event.seq, event.ts);
        return;
      default:
        return;
    }
  }

  /** Forgets facts about events before `seq` (they left the caller's buffer). */
  forgetBefore(seq: number): void {
    // keys are added in (nearly) ascending seq order: stop at the first kept one. Not by
    // iterating the maps: a Map walks over the holes its front deletions left, which made
    // each call cost as much as everything forgotten before it
    let key: number | undefined;
    while ((key = this.factOrder.peek()) !== undefined && key < seq) {
      this.factOrder.shift();
      this.facts.delete(key);
    }
    while ((key = this.pendingOrder.peek()) !== undefined && key < seq) {
      this.pendingOrder.shift();
      const item = this.pending.get(key);
      if (item === undefined) continue; // settled already
      this.pending.delete(key);
      this.pendingByConn.get(item.conn)?.delete(key);
    }
  }

  private settle(seq: number, outcome: Omit<Outcome, 'bySeq' | 'afterMicros'>, bySeq: number, ts: number): void {
    const item = this.pending.get(seq);
    if (item === undefined) return;
    this.pending.delete(seq);
    this.pendingByConn.get(item.conn)?.delete(seq);
    this.update(seq, { outcome: { ...outcome, bySeq, afterMicros: ts - item.ts } });
  }

  private closePending(conn: number, channel: number | undefined, bySeq: number, ts: number): void {
    const ofConn = this.pendingByConn.get(conn);
    if (ofConn === undefined) return;
    for (const seq of ofConn) {
      if (channel === undefined || this.pending.get(seq)?.channel === channel) this.settle(seq, { kind: 'closed' }, bySeq, ts);
    }
    if (channel === undefined) this.pendingByConn.delete(conn);
  }

  private update(seq: number, change: Partial<LaterFacts>): void {
    const known = this.facts.get(seq);
    if (known === undefined) this.factOrder.push(seq);
    this.facts.set(seq, { ...known, ...change });
  }

  private observeRpc(event: MessageEvent): void {
    const link = this.rpc.observe(event);
    if (link === undefined) return;
    this.update(keySeq(event), { rpc: link });
    this.update(link.otherSeq, { rpc: { role: 'request', otherSeq: keySeq(event), correlationId: link.correlationId, rttMicros: link.rttMicros } });
  }
}

/**
 * Pairs RPC requests and replies, on any channel or connection. A request is a published
 * message with reply-to and correlation-id; its reply is a message published to that reply-to
 * name (a classic reply queue, or the name direct reply-to gave the request when it was
 * delivered) with the same correlation-id. Bounded: the oldest waiting requests are forgotten.
 */
export class RpcPairing {
  /** requests waiting for their reply, by correlation id */
  private readonly requests = new Map<string, RpcRequest>();

  /** Returns the link when `event` is the reply to a request seen before. */
  observe(event: MessageEvent): RpcLink | undefined {
    const correlationId = text(event.properties['correlation-id']);
    if (correlationId === undefined) return undefined;
    const replyTo = text(event.properties['reply-to']);
    const request = this.requests.get(correlationId);
    if (event.dir === 'c2s' && event.method.name === 'basic.publish') {
      const routingKey = text(event.method.args['routing-key']);
      if (request !== undefined && routingKey !== undefined && request.replyTo.has(routingKey) && request.seq !== keySeq(event)) {
        this.requests.delete(correlationId);
        return { role: 'reply', otherSeq: request.seq, correlationId, rttMicros: event.ts - request.ts };
      }
      if (replyTo === undefined || replyTo === '') return undefined;
      if (this.requests.size >= MAX_PENDING_RPC) this.requests.delete(this.requests.keys().next().value!);
      this.requests.set(correlationId, { seq: keySeq(event), ts: event.ts, correlationId, replyTo: new Set([replyTo]) });
      return undefined;
    }
    // the request delivered to its server: direct reply-to shows the name the reply will use
    if (event.dir === 's2c' && request !== undefined && replyTo !== undefined) request.replyTo.add(replyTo);
    return undefined;
  }
}

function text(value: ArgumentValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

export interface LaterText {
  /** e.g. `confirmed`, `acked`, `awaiting confirm`, `RPC reply` */
  readonly text: string;
  /** how long after the event it happened */
  readonly afterMicros?: number;
  readonly tone: 'normal' | 'error' | 'pending';
}

/** What a row says of its event's later facts; undefined when there is nothing to say. */
export function describeLater(event: SpyEvent, facts: LaterFacts | undefined, pending: boolean): LaterText | undefined {
  const publish = isPublish(event);
  const parts: string[] = [];
  let tone: LaterText['tone'] = 'normal';
  let afterMicros: number | undefined;
  if (facts?.returnedBySeq !== undefined) {
    parts.push('returned');
    tone = 'error';
  }
  const outcome = facts?.outcome;
  if (outcome !== undefined) {
    parts.push(outcomeWords(outcome, publish));
    afterMicros = outcome.afterMicros;
    if (outcome.kind === 'refused' || outcome.kind === 'closed' || (outcome.kind !== 'acked' && outcome.kind !== 'confirmed' && outcome.requeue === false))
      tone = 'error';
  } else if (pending) {
    parts.push(publish ? 'awaiting confirm' : 'unacked');
    if (tone === 'normal') tone = 'pending';
  }
  if (facts?.rpc) {
    parts.push(facts.rpc.role === 'reply' ? 'RPC reply' : 'RPC answered');
    afterMicros ??= facts.rpc.rttMicros;
  }
  if (parts.length === 0) return undefined;
  return { text: parts.join(', '), ...(afterMicros !== undefined ? { afterMicros } : {}), tone };
}

function outcomeWords(outcome: Outcome, publish: boolean): string {
  switch (outcome.kind) {
    case 'confirmed':
      return 'confirmed';
    case 'refused':
      return 'NACKED by the broker';
    case 'acked':
      return 'acked';
    case 'nacked':
    case 'rejected':
      return `${outcome.kind}, ${outcome.requeue ? 'requeued' : 'not requeued'}`;
    case 'closed':
      return publish ? 'never confirmed: closed first' : 'never settled: closed first (requeued)';
  }
}

function isPublish(event: SpyEvent): boolean {
  const name = event.kind === 'message' ? event.method.name : event.kind === 'frame' && event.frame.type === 'method' ? event.frame.method.name : '';
  return name === 'basic.publish';
}

/** A FIFO of seqs: an array read from a moving head, compacted when half of it is read. */
class SeqQueue {
  private items: number[] = [];
  private head = 0;

  push(seq: number): void {
    this.items.push(seq);
  }

  peek(): number | undefined {
    return this.items[this.head];
  }

  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
