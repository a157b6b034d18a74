// One channel of a broker connection: its state and close handshake, publishes as
// PublishAssembler hands them over, consumers with prefetch, delivery tags, direct reply-to,
// publisher confirms and transactions. Methods reach one handler per class (channel-exchange.ts,
// channel-queue.ts, channel-basic.ts, channel-confirm-tx.ts), which act through ChannelContext.
// Errors are thrown as AmqpError; the connection turns soft ones into channel.close (see
// closeWithError) and hard ones into connection.close.

import { randomBytes } from 'node:crypto';
import { encodeMethodFrame } from '../decoder/frame-codec.js';
import type { MethodArgs, MethodArgsInput, MethodName } from '../decoder/spec.js';
import type { AmqpString, ContentProperties, DecodedMethod, FieldTable, RawFrame } from '../decoder/types.js';
import { AmqpError, replyTextOnWire } from './amqp-error.js';
import { amqpStringLength, writeConfirm, writeDeliver, writeGetOk, writeReturn } from './broker-wire.js';
import { basicMethod } from './channel-basic.js';
import { confirmMethod, txMethod } from './channel-confirm-tx.js';
import { REPLY_TO, text, unimplemented, type ChannelContext } from './channel-context.js';
import { exchangeMethod } from './channel-exchange.js';
import type { ChannelHost } from './channel-host.js';
import { queueMethod } from './channel-queue.js';
import { DeliveryTracker } from './delivery-tracker.js';
import { lookup } from './field-values.js';
import type { FrameOutput } from './frame-output.js';
import type { BrokerMessage } from './message.js';
import { PublishAssembler, type PublishCommand } from './publish-assembler.js';
import type { Delivery, Queue, QueueConsumer } from './queue.js';
import type { PublishResult, VirtualHost } from './vhost.js';

interface TxPublish {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly properties: ContentProperties;
  readonly body: Uint8Array;
}

type TxSettlement =
  | { readonly kind: 'ack'; readonly tag: bigint; readonly multiple: boolean }
  | { readonly kind: 'nack'; readonly tag: bigint; readonly multiple: boolean; readonly requeue: boolean };

const REPLY_TO_PREFIX = `${REPLY_TO}.`;
const CLASS_CHANNEL = 20;
const CLASS_ACCESS = 30;
const CLASS_EXCHANGE = 40;
const CLASS_QUEUE = 50;
const CLASS_BASIC = 60;
const CLASS_CONFIRM = 85;
const CLASS_TX = 90;
/** A delivery that awaits no ack (direct reply-to): takes a delivery tag, nothing more. */
const NO_ACK_DELIVERY = { deliveryId: 0 } as unknown as Delivery;

function integerArg(table: FieldTable, key: string): number | undefined {
  const v = lookup(table, key);
  if (v === undefined) return undefined;
  switch (v.type) {
    case 'b':
    case 'B':
    case 's':
    case 'u':
    case 'U':
    case 'I':
    case 'i':
      return v.value;
    case 'l':
    case 'L':
      return Number(v.value);
    default:
      return undefined;
  }
}

/** A consumer as the queue sees it; deliveries go straight to the channel. */
export class ChannelConsumer implements QueueConsumer {
  /** false until consume-ok is sent, so no delivery overtakes it */
  active = false;
  /** basic.consume's arguments (the management API lists them) */
  arguments: FieldTable = { entries: [] };
  readonly tagLength: number;
  constructor(
    readonly channel: BrokerChannel,
    readonly tag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    readonly priority: number,
    readonly prefetchCount: number,
  ) {
    this.tagLength = amqpStringLength(tag);
  }

  canDeliver(): boolean {
    return this.active && this.channel.canDeliver();
  }

  deliver(delivery: Delivery): void {
    this.channel.deliver(this, delivery);
  }

  cancelled(): void {
    this.channel.cancelledByServer(this);
  }
}

export class BrokerChannel implements ChannelContext {
  /** 'closing': we sent channel.close and ignore everything until close-ok */
  private state: 'open' | 'closing' | 'closed' = 'open';
  /** basic.publish's method, header and body frames */
  private readonly assembler: PublishAssembler;
  private readonly tracker = new DeliveryTracker();
  private readonly consumers = new Map<string, ChannelConsumer>();
  private prefetchGlobal = 0;
  private prefetchConsumer = 0;
  mostRecentQueue = '';
  // direct reply-to consumer of this channel
  private replyTag: string | undefined;
  private replyTagLength = 0;
  private replyKey: string | undefined;

  // publisher confirms
  private confirm = false;
  private publishSeq = 0;
  private ackFrom = 0;
  private ackTo = 0;
  private confirmFlushWanted = false;

  /**
   * A fault rule fired on the publish being assembled (broker-faults.ts): nack it instead of
   * routing it, or fail it with this error once its body has come, as RabbitMQ answers a publish
   */
  private publishFault: 'nack' | AmqpError | undefined = undefined;

  // transactions
  private tx = false;
  private txPublishes: TxPublish[] = [];
  private txSettlements: TxSettlement[] = [];

  /** the connection's output, where this channel's frames are written */
  private readonly out: FrameOutput;

  constructor(
    readonly conn: ChannelHost,
    readonly id: number,
  ) {
    this.out = conn.output;
    this.assembler = new PublishAssembler(conn);
  }

  // ---- frames ----

  onFrame(frame: RawFrame): void {
    if (this.state !== 'open') {
      this.onFrameWhileClosing(frame);
      return;
    }
    switch (frame.type) {
      case 1:
        if (!this.assembler.awaitsMethod) throw this.assembler.unexpected();
        this.onMethodFrame(frame.payload, frame);
        return;
      case 2: {
        const command = this.assembler.header(frame.payload);
        if (command !== undefined) this.completePublish(command);
        return;
      }
      case 3: {
        const command = this.assembler.body(frame.payload);
        if (command !== undefined) this.completePublish(command);
        return;
      }
      default:
        throw new AmqpError(505, `UNEXPECTED_FRAME - type ${frame.type}`);
    }
  }

  private onFrameWhileClosing(frame: RawFrame): void {
    if (frame.type !== 1) return;
    let method: DecodedMethod;
    try {
      method = this.conn.decode(frame);
    } catch {
      return;
    }
    if (method.name === 'channel.close-ok') {
      this.state = 'closed';
      this.conn.freeChannel(this.id);
    } else if (method.name === 'channel.open') {
      throw new AmqpError(504, "CHANNEL_ERROR - second 'channel.open' seen").at(20, 10);
    } else if (method.name === 'channel.close') {
      // both sides closed at once: answer and finish
      this.send('channel.close-ok', {});
      this.state = 'closed';
      this.conn.freeChannel(this.id);
    }
  }

  private onMethodFrame(p: Uint8Array, frame: RawFrame): void {
    // basic.publish and basic.ack without the generic decoder: they are most of the traffic
    if (p.length >= 9 && p[0] === 0 && p[1] === 60 && p[2] === 0 && (p[3] === 40 || p[3] === 80)) {
      try {
        if (p[3] === 40 && this.assembler.fastPublish(p)) return;
        if (p[3] === 80 && p.length === 13) {
          this.ack(readTag(p, 4), (p[12]! & 1) === 1);
          return;
        }
      } catch (e) {
        if (e instanceof AmqpError && e.classId === undefined) e.at(60, p[3]!);
        throw e;
      }
    }
    const method = this.conn.decode(frame);
    try {
      this.onMethod(method);
    } catch (e) {
      if (e instanceof AmqpError && e.classId === undefined) e.at(method.classId, method.methodId);
      throw e;
    }
  }

  private completePublish(command: PublishCommand): void {
    if (this.publishFault !== undefined && this.faultPublish()) return;
    let properties = command.properties;
    const replyTo = properties['reply-to'];
    if (replyTo !== undefined && text(replyTo as AmqpString) === REPLY_TO) {
      // an RPC request: the reply-to names this channel's reply consumer
      if (this.replyKey === undefined) throw AmqpError.of('PRECONDITION_FAILED', 'fast reply consumer does not exist').at(60, 40);
      properties = { ...properties, 'reply-to': this.replyKey };
    }
    const userId = properties['user-id'] as AmqpString | undefined;
    if (userId !== undefined && text(userId) !== this.conn.user) {
      throw AmqpError.of('PRECONDITION_FAILED', `user_id property set to '${text(userId)}' but authenticated user was '${this.conn.user}'`).at(60, 40);
    }
    this.conn.notePublish();
    if (this.tx) {
      // RabbitMQ checks the exchange at publish time, even in a transaction
      this.vhost().route(command.exchange, command.routingKey);
      this.txPublishes.push({ exchange: command.exchange, routingKey: command.routingKey, mandatory: command.mandatory, properties, body: command.body });
      return;
    }
    this.publish(command.exchange, command.routingKey, command.mandatory, properties, command.body);
  }

  private publish(exchange: string, routingKey: string, mandatory: boolean, properties: ContentProperties, body: Uint8Array): void {
    if (exchange === '' && routingKey.startsWith(REPLY_TO_PREFIX)) {
      this.publishReply(routingKey, mandatory, properties, body);
      return;
    }
    let result: PublishResult;
    try {
      result = this.vhost().publish(exchange, routingKey, properties, body);
    } catch (e) {
      if (e instanceof AmqpError && e.classId === undefined) e.at(60, 40);
      throw e;
    }
    if (result.queues.length === 0 && mandatory) {
      writeReturn(this.out, this.id, 312, 'NO_ROUTE', { exchange, routingKey, properties, body });
    }
    if (this.confirm) {
      const seq = ++this.publishSeq;
      if (result.rejected) this.nackPublish(seq);
      else this.ackPublish(seq);
    }
  }

  /** The publish a rule chose, now whole: nacked and not routed, or failed with the rule's error. */
  private faultPublish(): boolean {
    const fault = this.publishFault!;
    this.publishFault = undefined;
    if (fault !== 'nack') {
      this.out.injecting(() => this.closeWithError(fault));
      return true;
    }
    if (!this.confirm) return false;
    // never half-routed: the message is dropped whole, and the client told so
    const seq = ++this.publishSeq;
    this.flushConfirms();
    this.out.sendMarked(encodeMethodFrame(this.id, 'basic.nack', { 'delivery-tag': seq, multiple: false, requeue: false }));
    return true;
  }

  /** A fault rule fired on the publish whose method comes next (see publishFault). */
  armPublishFault(fault: 'nack' | AmqpError): void {
    this.publishFault = fault;
  }

  /**
   * A fault rule cancels a consumer as when its queue is deleted: basic.cancel to a client
   * that announced consumer_cancel_notify (false when it did not); deliveries it holds stay
   * unacked on the channel. Undefined when the channel has no such consumer.
   */
  faultCancel(tag: string): boolean | undefined {
    const c = this.consumers.get(tag);
    if (c === undefined || this.state !== 'open') return undefined;
    this.consumers.delete(tag);
    c.queue.cancel(c);
    if (!this.conn.capabilities.consumerCancelNotify) return false;
    this.out.injecting(() => this.send('basic.cancel', { 'consumer-tag': tag, nowait: true }));
    return true;
  }

  hasConsumer(tag: string): boolean {
    return this.consumers.has(tag);
  }

  /** A delivery a rule kept from the client goes back to its queue. */
  faultRequeue(deliveryTag: bigint): void {
    if (this.tracker.has(deliveryTag)) this.tracker.nack(deliveryTag, false, true);
  }

  /** A reply to a direct reply-to key goes straight to the requester's channel. */
  private publishReply(routingKey: string, mandatory: boolean, properties: ContentProperties, body: Uint8Array): void {
    const target = this.conn.broker.replyTargets.get(routingKey);
    if (target !== undefined) target.deliverReply(routingKey, properties, body);
    else if (mandatory) writeReturn(this.out, this.id, 312, 'NO_ROUTE', { exchange: '', routingKey, properties, body });
    if (this.confirm) this.ackPublish(++this.publishSeq);
  }

  // ---- publisher confirms ----

  private ackPublish(seq: number): void {
    if (this.ackTo !== 0 && this.ackTo === seq - 1) {
      this.ackTo = seq;
    } else {
      this.flushConfirms();
      this.ackFrom = seq;
      this.ackTo = seq;
    }
    if (!this.confirmFlushWanted) {
      this.confirmFlushWanted = true;
      this.out.wantConfirmFlush(this);
    }
  }

  private nackPublish(seq: number): void {
    this.flushConfirms();
    writeConfirm(this.out, this.id, false, seq, false);
  }

  /** Sends the acks collected this turn: one basic.ack with multiple for a run. */
  flushConfirms(): void {
    this.confirmFlushWanted = false;
    if (this.ackTo === 0) return;
    if (this.state === 'open') writeConfirm(this.out, this.id, true, this.ackTo, this.ackTo > this.ackFrom);
    this.ackFrom = 0;
    this.ackTo = 0;
  }

  // ---- methods ----

  send<N extends MethodName>(name: N, args: MethodArgsInput<N>): void {
    this.out.sendMethod(this.id, name, args);
  }

  vhost(): VirtualHost {
    return this.conn.vhost!;
  }

  queueName(name: AmqpString): string {
    const q = text(name);
    if (q !== '') return q;
    if (this.mostRecentQueue === '') throw AmqpError.of('NOT_FOUND', 'no previously declared queue');
    return this.mostRecentQueue;
  }

  /** One handler per class; channel and access are the channel's own. */
  private onMethod(m: DecodedMethod): void {
    switch (m.classId) {
      case CLASS_CHANNEL:
      case CLASS_ACCESS:
        this.onChannelMethod(m);
        return;
      case CLASS_EXCHANGE:
        exchangeMethod(this, m);
        return;
      case CLASS_QUEUE:
        queueMethod(this, m);
        return;
      case CLASS_BASIC:
        basicMethod(this, m);
        return;
      case CLASS_CONFIRM:
        confirmMethod(this, m);
        return;
      case CLASS_TX:
        txMethod(this, m);
        return;
      default:
        throw unimplemented();
    }
  }

  private onChannelMethod(m: DecodedMethod): void {
    switch (m.name) {
      case 'channel.open':
        throw new AmqpError(504, "CHANNEL_ERROR - second 'channel.open' seen");
      case 'channel.close':
        this.release();
        this.state = 'closed';
        this.send('channel.close-ok', {});
        this.conn.freeChannel(this.id);
        return;
      case 'channel.close-ok':
        // nothing of ours to confirm: RabbitMQ's channel has no clause for it
        throw unimplemented();
      case 'channel.flow': {
        const active = (m.args as MethodArgs<'channel.flow'>).active;
        if (!active) throw AmqpError.of('NOT_IMPLEMENTED', 'active=false');
        this.send('channel.flow-ok', { active: true });
        return;
      }
      case 'channel.flow-ok':
        return;
      case 'access.request':
        this.send('access.request-ok', { ticket: 1 });
        return;
      default:
        throw unimplemented();
    }
  }

  // ---- basic ----

  setPrefetch(count: number, global: boolean): void {
    if (global) this.prefetchGlobal = count;
    else this.prefetchConsumer = count;
  }

  beginPublish(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean): void {
    this.assembler.begin(exchange, routingKey, mandatory, immediate);
  }

  cancel(tag: string): void {
    const c = this.consumers.get(tag);
    if (c !== undefined) {
      this.consumers.delete(tag);
      c.queue.cancel(c);
    } else if (tag === this.replyTag) {
      this.stopReplies();
    }
  }

  recover(): void {
    this.tracker.releaseAll();
  }

  consume(d: MethodArgs<'basic.consume'>): void {
    if (text(d.queue) === REPLY_TO) {
      this.consumeReplies(d);
      return;
    }
    const queue = this.vhost().queueFor(this.queueName(d.queue), this.conn);
    let tag = text(d['consumer-tag']);
    if (tag === '') tag = `amq.ctag-${randomBytes(16).toString('base64url')}`;
    if (this.consumers.has(tag)) throw AmqpError.of('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`);
    const priority = integerArg(d.arguments, 'x-priority') ?? 0;
    const c = new ChannelConsumer(this, tag, queue, d['no-ack'], d.exclusive, priority, this.prefetchConsumer);
    c.arguments = d.arguments;
    queue.consume(c); // may throw 403 (exclusive); delivers nothing while inactive
    this.consumers.set(tag, c);
    if (!d.nowait) this.send('basic.consume-ok', { 'consumer-tag': tag });
    c.active = true;
    queue.drain();
  }

  // ---- direct reply-to (amq.rabbitmq.reply-to) ----

  /** The pseudo-queue consumer of RPC replies: no-ack, one per channel. */
  private consumeReplies(d: MethodArgs<'basic.consume'>): void {
    if (!d['no-ack']) throw AmqpError.of('PRECONDITION_FAILED', 'reply consumer cannot acknowledge');
    if (this.replyTag !== undefined) throw AmqpError.of('PRECONDITION_FAILED', 'reply consumer already set');
    let tag = text(d['consumer-tag']);
    if (tag === '') tag = `amq.ctag-${randomBytes(16).toString('base64url')}`;
    if (this.consumers.has(tag)) throw AmqpError.of('NOT_ALLOWED', `attempt to reuse consumer tag '${tag}'`);
    this.replyTag = tag;
    this.replyTagLength = amqpStringLength(tag);
    this.replyKey = `${REPLY_TO}.${randomBytes(18).toString('base64url')}`;
    this.conn.broker.replyTargets.set(this.replyKey, this);
    if (!d.nowait) this.send('basic.consume-ok', { 'consumer-tag': tag });
  }

  private stopReplies(): void {
    if (this.replyKey !== undefined) this.conn.broker.replyTargets.delete(this.replyKey);
    this.replyKey = undefined;
    this.replyTag = undefined;
  }

  /** A reply published to `amq.rabbitmq.reply-to.<key>` of this channel. */
  deliverReply(routingKey: string, properties: ContentProperties, body: Uint8Array): void {
    if (this.replyTag === undefined || this.state !== 'open') return;
    const tag = this.tracker.add(NO_ACK_DELIVERY);
    writeDeliver(this.out, this.id, this.replyTag, this.replyTagLength, tag, false, { exchange: '', routingKey, properties, body });
  }

  get(d: MethodArgs<'basic.get'>): void {
    const queue = this.vhost().queueFor(this.queueName(d.queue), this.conn);
    const r = queue.get(d['no-ack'], this);
    if (r === undefined) {
      this.send('basic.get-empty', {});
      return;
    }
    const tag = this.tracker.add(r.delivery);
    const m = r.delivery.message;
    writeGetOk(this.out, this.id, tag, r.delivery.redelivered, r.messageCount, m);
  }

  ack(tag: bigint, multiple: boolean): void {
    if (this.tx) {
      this.checkTag(tag, multiple);
      this.txSettlements.push({ kind: 'ack', tag, multiple });
      return;
    }
    this.tracker.ack(tag, multiple);
    if (this.prefetchGlobal !== 0) this.resumeDeliveries();
  }

  nack(tag: bigint, multiple: boolean, requeue: boolean): void {
    if (this.tx) {
      this.checkTag(tag, multiple);
      this.txSettlements.push({ kind: 'nack', tag, multiple, requeue });
      return;
    }
    this.tracker.nack(tag, multiple, requeue);
    if (this.prefetchGlobal !== 0) this.resumeDeliveries();
  }

  private checkTag(tag: bigint, multiple: boolean): void {
    if (multiple && tag === 0n) return;
    if (!this.tracker.has(tag)) throw AmqpError.of('PRECONDITION_FAILED', `unknown delivery tag ${tag}`);
  }

  // ---- confirm and tx modes ----

  get confirming(): boolean {
    return this.confirm;
  }

  get transactional(): boolean {
    return this.tx;
  }

  // ---- what the management API lists ----

  consumerList(): IterableIterator<ChannelConsumer> {
    return this.consumers.values();
  }

  /** basic.qos prefetch for consumers started next (global=false) */
  get prefetchCount(): number {
    return this.prefetchConsumer;
  }

  get globalPrefetchCount(): number {
    return this.prefetchGlobal;
  }

  get unackedCount(): number {
    return this.tracker.unackedCount;
  }

  get closing(): boolean {
    return this.state !== 'open';
  }

  selectConfirm(): void {
    this.confirm = true;
  }

  selectTx(): void {
    this.tx = true;
  }

  rollback(): void {
    this.txPublishes = [];
    this.txSettlements = [];
  }

  commit(): void {
    const settlements = this.txSettlements;
    const publishes = this.txPublishes;
    this.txSettlements = [];
    this.txPublishes = [];
    for (const s of settlements) {
      if (s.kind === 'ack') this.tracker.ack(s.tag, s.multiple);
      else this.tracker.nack(s.tag, s.multiple, s.requeue);
    }
    for (const p of publishes) this.publish(p.exchange, p.routingKey, p.mandatory, p.properties, p.body);
    this.resumeDeliveries();
  }

  /** Channel-wide capacity: global prefetch and socket backpressure. */
  canDeliver(): boolean {
    if (this.state !== 'open') return false;
    if (this.prefetchGlobal !== 0 && this.tracker.unackedCount >= this.prefetchGlobal) return false;
    return this.out.writable;
  }

  deliver(c: ChannelConsumer, d: Delivery): void {
    const tag = this.tracker.add(d);
    writeDeliver(this.out, this.id, c.tag, c.tagLength, tag, d.redelivered, d.message as BrokerMessage);
  }

  /** The queue was deleted: tell the client (consumer_cancel_notify) and forget the consumer. */
  cancelledByServer(c: ChannelConsumer): void {
    if (this.consumers.get(c.tag) !== c) return;
    this.consumers.delete(c.tag);
    if (this.state === 'open' && this.conn.state === 'running' && this.conn.capabilities.consumerCancelNotify) {
      this.send('basic.cancel', { 'consumer-tag': c.tag, nowait: true });
    }
  }

  /** Capacity came back (acks, qos, socket drained): queues of this channel's consumers deliver again. */
  resumeDeliveries(): void {
    if (this.state !== 'open') return;
    const seen = new Set<Queue>();
    for (const c of this.consumers.values()) {
      if (seen.has(c.queue)) continue;
      seen.add(c.queue);
      c.queue.drain();
    }
  }

  // ---- closing ----

  /** A soft error: channel.close to the client, then ignore frames until close-ok. */
  closeWithError(e: AmqpError): void {
    if (this.state !== 'open') return;
    this.release();
    this.state = 'closing';
    this.send('channel.close', {
      'reply-code': e.replyCode,
      'reply-text': replyTextOnWire(e.replyText),
      'class-id': e.classId ?? 0,
      'method-id': e.methodId ?? 0,
    });
  }

  /** Cancels consumers and requeues unacked deliveries (channel or connection closing). */
  release(): void {
    this.assembler.reset();
    this.publishFault = undefined;
    this.txPublishes = [];
    this.txSettlements = [];
    this.ackFrom = 0;
    this.ackTo = 0;
    const consumers = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of consumers) c.queue.cancel(c);
    this.stopReplies();
    this.tracker.releaseAll();
  }
}

function readTag(p: Uint8Array, at: number): bigint {
  const hi = ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
  const lo = ((p[at + 4]! << 24) | (p[at + 5]! << 16) | (p[at + 6]! << 8) | p[at + 7]!) >>> 0;
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}
