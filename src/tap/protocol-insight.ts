// Protocol insight for one connection: pairs synchronous requests with their replies,
// tracks delivery tags and publisher confirms per channel, and names the cause of errors.
// Sans-IO: it sees decoded methods in order and answers with annotations.

import { isErrorReplyCode, methodById, methodByName, replyCodeName } from '../decoder/spec.js';
import type { DecodedMethod } from '../decoder/types.js';
import type { Direction, FrameInsight, PrefetchFull, UnansweredRequest } from '../events.js';
import type { CloseHandshake } from './close-reason.js';
import { TagQueue, type Tag, type TagOwner } from './tag-queue.js';

interface PendingRequest {
  readonly seq: number;
  readonly ts: number;
  readonly name: string;
  readonly dir: Direction;
  readonly replies: ReadonlySet<string>;
}

/** A consumer, for its deliveries' acks and its prefetch limit. */
interface ConsumerState extends TagOwner {
  readonly noAck: boolean;
  /** its prefetch-count (basic.qos global=false before its basic.consume); 0: none */
  limit: number;
  /** the last `prefetchFull` given for it, reused while it says the same (no object per delivery) */
  full: PrefetchFull | undefined;
}

/** A basic.consume whose consumer-tag the consume-ok will name. */
interface PendingConsume {
  readonly noAck: boolean;
  readonly limit: number;
}

/** What the insight keeps per channel to pair replies, settle tags and confirm publishes. */
interface ChannelLedger {
  /** synchronous requests waiting for their reply, oldest first */
  pending: PendingRequest[];
  /** deliveries that need settling, by delivery-tag (see tagKey) in tag order, with their seqs */
  readonly unacked: TagQueue;
  /** consumers by tag; a consumer of no tag known (the tap started mid-stream) is not here */
  readonly consumers: Map<string, ConsumerState>;
  /** the same, for loops that must not allocate an iterator (per ack) */
  readonly consumerList: ConsumerState[];
  /** basic.consume requests without a consumer-tag, oldest first: their consume-ok names it */
  readonly pendingConsumes: PendingConsume[];
  /** basic.get with no-ack in flight */
  pendingNoAckGet: boolean;
  /** owner of basic.get-ok deliveries in `unacked`: prefetch does not limit basic.get */
  readonly gets: TagOwner;
  /** basic.qos global=false: the prefetch-count of consumers started from now on; 0: none */
  consumerPrefetch: number;
  /** basic.qos global=true: the limit shared by the channel's consumers; 0: none */
  channelPrefetch: number;
  /** the last channel-wide `prefetchFull` given, reused while it says the same */
  channelFull: PrefetchFull | undefined;
  confirmMode: boolean;
  nextPublishSeqNo: number;
  /** unconfirmed publishes by publish seq number, with their seqs */
  readonly unconfirmed: TagQueue;
  /** seq of the last method the client sent, by class/method id, to name an error's cause */
  readonly lastSent: Map<number, number>;
}

function newChannel(): ChannelLedger {
  return {
    pending: [],
    unacked: new TagQueue(),
    consumers: new Map(),
    consumerList: [],
    pendingConsumes: [],
    pendingNoAckGet: false,
    gets: { unacked: 0 },
    consumerPrefetch: 0,
    channelPrefetch: 0,
    channelFull: undefined,
    confirmMode: false,
    nextPublishSeqNo: 1,
    unconfirmed: new TagQueue(),
    lastSent: new Map(),
  };
}

const replyNames = new Map<string, ReadonlySet<string>>();
function repliesOf(name: string): ReadonlySet<string> {
  let replies = replyNames.get(name);
  if (replies === undefined) {
    replies = new Set(methodByName(name)?.responses ?? []);
    replyNames.set(name, replies);
  }
  return replies;
}

export class ProtocolInsight {
  private readonly channels = new Map<number, ChannelLedger>();
  /** when the server sent connection.blocked, until connection.unblocked */
  private blockedSince: number | undefined = undefined;
  /** the first connection.close, and whether close-ok answered it */
  private close: CloseHandshake | undefined = undefined;

  /** The connection.close handshake so far, if one began. */
  get closeHandshake(): CloseHandshake | undefined {
    return this.close;
  }

  private channel(id: number): ChannelLedger {
    let state = this.channels.get(id);
    if (state === undefined) {
      state = newChannel();
      this.channels.set(id, state);
    }
    return state;
  }

  /** Annotates a method frame; `seq` and `ts` are the frame event's. */
  observe(dir: Direction, channelId: number, method: DecodedMethod, seq: number, ts: number): FrameInsight | undefined {
    // channel.open starts the channel afresh (a number may be reused after close-ok)
    if (method.name === 'channel.open') this.channels.set(channelId, newChannel());
    const ch = this.channel(channelId);
    const args = method.args;
    let insight: Mutable<FrameInsight> | undefined;
    const note = (): Mutable<FrameInsight> => (insight ??= {});

    // A reply to a pending request of the other side?
    let pendingIndex = -1;
    for (let i = 0; i < ch.pending.length; i++) {
      const p = ch.pending[i]!;
      if (p.dir !== dir && p.replies.has(method.name)) {
        pendingIndex = i;
        break;
      }
    }
    if (pendingIndex >= 0) {
      const request = ch.pending[pendingIndex]!;
      ch.pending.splice(pendingIndex, 1);
      note().request = { seq: request.seq, name: request.name, rttMicros: ts - request.ts };
    }

    if (dir === 'c2s') ch.lastSent.set(method.classId * 65536 + method.methodId, seq);

    // A new request?
    if (method.spec.synchronous && method.spec.responses.length > 0) {
      if (args['nowait'] === true) note().noWait = true;
      else ch.pending.push({ seq, ts, name: method.name, dir, replies: repliesOf(method.name) });
    }

    switch (method.name) {
      case 'channel.close':
      case 'connection.close': {
        const replyCode = Number(args['reply-code']);
        // every view's notion of an error close comes from this one verdict
        if (isErrorReplyCode(replyCode)) {
          const cause = dir === 's2c' ? this.causeOf(ch, channelId, method) : undefined;
          note().error = {
            replyCode,
            replyName: replyCodeName(replyCode) ?? 'UNKNOWN',
            replyText: String(args['reply-text'] ?? ''),
            ...(cause ? { causeSeq: cause.seq, causeName: cause.name } : {}),
          };
        }
        // requests still waiting are answered by the close, not lost
        ch.pending = ch.pending.filter((p) => p.name === method.name);
        if (method.name === 'connection.close') this.close ??= { by: dir, replyCode, answered: false };
        break;
      }
      case 'connection.close-ok':
        if (this.close !== undefined && this.close.by !== dir) this.close.answered = true;
        break;
      case 'channel.close-ok':
        this.channels.set(channelId, newChannel());
        break;
      case 'confirm.select':
        ch.confirmMode = true;
        break;
      case 'basic.qos': {
        // RabbitMQ: global=false limits each consumer started after it, global=true the channel
        const count = Number(args['prefetch-count'] ?? 0);
        if (args['global'] === true) ch.channelPrefetch = count;
        else ch.consumerPrefetch = count;
        break;
      }
      case 'basic.consume': {
        const tag = String(args['consumer-tag'] ?? '');
        const consume = { noAck: args['no-ack'] === true, limit: ch.consumerPrefetch };
        // a tag the client chose is known now (no consume-ok comes with no-wait)
        if (tag !== '') addConsumer(ch, tag, consume);
        else ch.pendingConsumes.push(consume);
        break;
      }
      case 'basic.consume-ok': {
        const tag = String(args['consumer-tag']);
        if (!ch.consumers.has(tag)) addConsumer(ch, tag, ch.pendingConsumes.shift() ?? { noAck: false, limit: 0 });
        break;
      }
      case 'basic.cancel-ok':
        removeConsumer(ch, String(args['consumer-tag']));
        break;
      case 'basic.cancel':
        // the server cancels a consumer (its queue was deleted), or the client with no-wait: no cancel-ok follows
        if (dir === 's2c' || args['nowait'] === true) removeConsumer(ch, String(args['consumer-tag']));
        break;
      case 'basic.get':
        ch.pendingNoAckGet = args['no-ack'] === true;
        break;
      case 'basic.get-ok':
        if (!ch.pendingNoAckGet) {
          ch.unacked.add(tagKey(args['delivery-tag'] as bigint), seq, ch.gets);
          note().needsAck = true;
        }
        note().unacked = ch.unacked.size;
        break;
      case 'basic.deliver': {
        const consumer = ch.consumers.get(String(args['consumer-tag']));
        if (consumer === undefined || !consumer.noAck) {
          ch.unacked.add(tagKey(args['delivery-tag'] as bigint), seq, consumer);
          note().needsAck = true;
          // the delivery that brings its channel (basic.qos global) or consumer to the limit
          const full = channelFull(ch) ?? (consumer !== undefined ? consumerFull(consumer) : undefined);
          if (full !== undefined) note().prefetchFull = full;
        }
        note().unacked = ch.unacked.size;
        break;
      }
      case 'connection.blocked':
        if (dir === 's2c') this.blockedSince ??= ts;
        break;
      case 'connection.unblocked':
        if (dir === 's2c' && this.blockedSince !== undefined) {
          note().blockedMicros = ts - this.blockedSince;
          this.blockedSince = undefined;
        }
        break;
      case 'basic.publish':
        // the server asked for no publishes until connection.unblocked
        if (this.blockedSince !== undefined && dir === 'c2s') note().whileBlocked = true;
        if (ch.confirmMode && dir === 'c2s') {
          const n = ch.nextPublishSeqNo++;
          ch.unconfirmed.add(n, seq);
          note().publishSeqNo = n;
          note().unconfirmed = ch.unconfirmed.size;
        }
        break;
      case 'basic.return':
        // the earliest unconfirmed publish is the one returned (returns precede their confirm)
        if (ch.unconfirmed.size > 0) note().returnOf = ch.unconfirmed.first()!;
        break;
      case 'basic.ack':
      case 'basic.nack':
      case 'basic.reject': {
        const tag = tagKey(args['delivery-tag'] as bigint);
        const multiple = args['multiple'] === true;
        const outcome = method.name === 'basic.ack' ? 'ack' : method.name === 'basic.nack' ? 'nack' : 'reject';
        if (dir === 'c2s') {
          const deliverySeqs = ch.unacked.settle(tag, multiple);
          note().settles = {
            outcome,
            requeue: outcome !== 'ack' && args['requeue'] !== false,
            deliverySeqs,
            ...(deliverySeqs.length === 0 ? { unknownTag: true } : {}),
          };
          note().unacked = ch.unacked.size;
          // a limit still reached after the settle (another consumer's, say)
          const full = stillFull(ch);
          if (full !== undefined) note().prefetchFull = full;
        } else if (outcome !== 'reject') {
          note().confirms = { outcome, publishSeqs: ch.unconfirmed.settle(tag, multiple) };
          note().unconfirmed = ch.unconfirmed.size;
        }
        break;
      }
      case 'basic.recover':
      case 'basic.recover-async':
        if (args['requeue'] !== false) {
          ch.unacked.clear();
          note().unacked = 0;
        }
        break;
    }
    return insight;
  }

  /** Deliveries still unacked and publishes still unconfirmed, over every channel. */
  outstanding(): { unacked: number; unconfirmed: number } {
    let unacked = 0;
    let unconfirmed = 0;
    for (const state of this.channels.values()) {
      unacked += state.unacked.size;
      unconfirmed += state.unconfirmed.size;
    }
    return { unacked, unconfirmed };
  }

  /** Synchronous requests that are still waiting, oldest first. */
  unanswered(): UnansweredRequest[] {
    const result: UnansweredRequest[] = [];
    for (const [channel, state] of this.channels) {
      for (const p of state.pending) result.push({ seq: p.seq, channel, name: p.name });
    }
    return result.sort((a, b) => a.seq - b.seq);
  }

  private causeOf(ch: ChannelLedger, channelId: number, close: DecodedMethod): { seq: number; name: string } | undefined {
    const classId = Number(close.args['class-id']);
    const methodId = Number(close.args['method-id']);
    const key = classId * 65536 + methodId;
    const name = methodById(classId, methodId)?.name;
    if (name === undefined) return undefined;
    let seq = ch.lastSent.get(key);
    // connection.close for a fault on another channel: the latest such method on any channel
    if (seq === undefined && channelId === 0 && classId !== 0) {
      for (const state of this.channels.values()) {
        const candidate = state.lastSent.get(key);
        if (candidate !== undefined && (seq === undefined || candidate > seq)) seq = candidate;
      }
    }
    return seq === undefined ? undefined : { seq, name };
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function addConsumer(ch: ChannelLedger, tag: string, consume: PendingConsume): void {
  const consumer: ConsumerState = { noAck: consume.noAck, limit: consume.limit, unacked: 0, full: undefined };
  ch.consumers.set(tag, consumer);
  ch.consumerList.push(consumer);
}

/** A cancelled consumer's deliveries may still be acked, but it is at no limit any more. */
function removeConsumer(ch: ChannelLedger, tag: string): void {
  const consumer = ch.consumers.get(tag);
  if (consumer === undefined) return;
  ch.consumers.delete(tag);
  ch.consumerList.splice(ch.consumerList.indexOf(consumer), 1);
  consumer.limit = 0;
}

/** The channel's prefetchFull when its consumers' unacked deliveries reach basic.qos global. */
function channelFull(ch: ChannelLedger): PrefetchFull | undefined {
  const limit = ch.channelPrefetch;
  if (limit === 0) return undefined;
  const unacked = ch.unacked.size - ch.gets.unacked;
  if (unacked < limit) return undefined;
  const last = ch.channelFull;
  if (last !== undefined && last.unacked === unacked && last.limit === limit) return last;
  return (ch.channelFull = { unacked, limit, global: true });
}

function consumerFull(consumer: ConsumerState): PrefetchFull | undefined {
  const limit = consumer.limit;
  if (limit === 0 || consumer.unacked < limit) return undefined;
  const last = consumer.full;
  if (last !== undefined && last.unacked === consumer.unacked && last.limit === limit) return last;
  return (consumer.full = { unacked: consumer.unacked, limit, global: false });
}

/** After a settle: the channel's limit, or the first consumer's, that is still reached. */
function stillFull(ch: ChannelLedger): PrefetchFull | undefined {
  const full = channelFull(ch);
  if (full !== undefined) return full;
  const list = ch.consumerList;
  for (let i = 0; i < list.length; i++) {
    const consumerAtLimit = consumerFull(list[i]!);
    if (consumerAtLimit !== undefined) return consumerAtLimit;
  }
  return undefined;
}

const MAX_SAFE_TAG = BigInt(Number.MAX_SAFE_INTEGER);

/** A delivery tag as a map key: a number when exact (cheaper to hash than a bigint), else the bigint. */
function tagKey(tag: bigint): Tag {
  return tag <= MAX_SAFE_TAG ? Number(tag) : tag;
}
