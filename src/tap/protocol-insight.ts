// Protocol insight for one connection: pairs synchronous requests with their replies,
// tracks delivery tags and publisher confirms per channel, and names the cause of errors.
// Sans-IO: it sees decoded methods in order and answers with annotations.

import { isErrorReplyCode, methodById, methodByName, replyCodeName } from '../decoder/spec.js';
import type { DecodedMethod } from '../decoder/types.js';
import type { Direction, FrameInsight, UnansweredRequest } from '../events.js';
import { TagQueue, type Tag } from './tag-queue.js';

interface PendingRequest {
  readonly seq: number;
  readonly ts: number;
  readonly name: string;
  readonly dir: Direction;
  readonly replies: ReadonlySet<string>;
}

interface ChannelState {
  /** synchronous requests waiting for their reply, oldest first */
  pending: PendingRequest[];
  /** deliveries that need settling, by delivery-tag (see tagKey) in tag order, with their seqs */
  readonly unacked: TagQueue;
  /** consumer tags whose deliveries need no ack */
  readonly noAckConsumers: Set<string>;
  /** a basic.consume with no-ack whose tag the consume-ok will name */
  pendingNoAckConsume: boolean;
  /** basic.get with no-ack in flight */
  pendingNoAckGet: boolean;
  confirmMode: boolean;
  nextPublishSeqNo: number;
  /** unconfirmed publishes by publish seq number, with their seqs */
  readonly unconfirmed: TagQueue;
  /** seq of the last method the client sent, by class/method id, to name an error's cause */
  readonly lastSent: Map<number, number>;
}

function newChannel(): ChannelState {
  return {
    pending: [],
    unacked: new TagQueue(),
    noAckConsumers: new Set(),
    pendingNoAckConsume: false,
    pendingNoAckGet: false,
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
  private readonly channels = new Map<number, ChannelState>();

  private channel(id: number): ChannelState {
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
        break;
      }
      case 'channel.close-ok':
        this.channels.set(channelId, newChannel());
        break;
      case 'confirm.select':
        ch.confirmMode = true;
        break;
      case 'basic.consume':
        if (args['no-ack'] === true) {
          const tag = String(args['consumer-tag'] ?? '');
          if (tag !== '') ch.noAckConsumers.add(tag);
          else ch.pendingNoAckConsume = true;
        }
        break;
      case 'basic.consume-ok':
        if (ch.pendingNoAckConsume) {
          ch.noAckConsumers.add(String(args['consumer-tag']));
          ch.pendingNoAckConsume = false;
        }
        break;
      case 'basic.get':
        ch.pendingNoAckGet = args['no-ack'] === true;
        break;
      case 'basic.deliver':
      case 'basic.get-ok': {
        const noAck = method.name === 'basic.get-ok' ? ch.pendingNoAckGet : ch.noAckConsumers.has(String(args['consumer-tag']));
        if (!noAck) {
          ch.unacked.add(tagKey(args['delivery-tag'] as bigint), seq);
          note().needsAck = true;
        }
        note().unacked = ch.unacked.size;
        break;
      }
      case 'basic.publish':
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
        } else if (outcome !== 'reject') {
          note().confirms = { outcome, publishSeqs: ch.unconfirmed.settle(tag, multiple) };
          note().unconfirmed = ch.unconfirmed.size;
        }
        break;
      }
      case 'basic.recover':
      case 'basic.recover-async':
        if (args['requeue'] !== false) ch.unacked.clear();
        break;
    }
    return insight;
  }

  /** Synchronous requests that are still waiting, oldest first. */
  unanswered(): UnansweredRequest[] {
    const result: UnansweredRequest[] = [];
    for (const [channel, state] of this.channels) {
      for (const p of state.pending) result.push({ seq: p.seq, channel, name: p.name });
    }
    return result.sort((a, b) => a.seq - b.seq);
  }

  private causeOf(ch: ChannelState, channelId: number, close: DecodedMethod): { seq: number; name: string } | undefined {
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

const MAX_SAFE_TAG = BigInt(Number.MAX_SAFE_INTEGER);

/** A delivery tag as a map key: a number when exact (cheaper to hash than a bigint), else the bigint. */
function tagKey(tag: bigint): Tag {
  return tag <= MAX_SAFE_TAG ? Number(tag) : tag;
}
