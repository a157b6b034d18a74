// A classic queue: ready messages (FIFO, priorities, requeue in place), TTL and length limits
// with dead-lettering, consumers (round-robin, priorities, prefetch, exclusive, single active)
// and unacknowledged deliveries. Synchronous: every call settles before it returns.
//
// A queue never drops a message except by its declared policy: TTL, max-length, reject
// without requeue (dead-lettered when it has a DLX) or its own deletion.

import type { FieldTable } from '../decoder/types.js';
import { AmqpError, resourceName } from './amqp-error.js';
import type { DeadLetterReason } from './dead-letter.js';
import { messagePriority, parseExpiration, type BrokerMessage } from './message.js';
import { queueSettings, type QueueSettings } from './queue-arguments.js';
import { ReadyMessages, type QueueEntry } from './ready-messages.js';

/** Identity of the connection owning an exclusive queue (compared with ===). */
export type QueueOwner = object | string | number;

/** What a queue needs from the vhost around it. */
export interface QueueEnvironment {
  /** ms clock (inject a fake one in tests) */
  now(): number;
  /** Routes a message leaving the queue to its dead-letter exchange. */
  deadLetter(queue: Queue, message: BrokerMessage, reason: DeadLetterReason): void;
  /** The queue asks to be deleted: last consumer gone (auto-delete) or unused past x-expires. */
  requestDelete(queue: Queue, reason: 'auto-delete' | 'expired'): void;
}

export interface QueueDefinition {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** set for exclusive queues */
  readonly owner?: QueueOwner;
  readonly arguments: FieldTable;
}

/**
 * A consumer as the protocol layer registers it. `canDeliver` is the channel's word on
 * capacity (global prefetch, flow, socket backpressure); the per-consumer prefetch is
 * counted by the queue. When a channel regains capacity the protocol layer calls
 * `Queue.drain()` on the queues its consumers read from.
 */
export interface QueueConsumer {
  readonly tag: string;
  /** the channel holding its deliveries (for releaseChannel) */
  readonly channel: unknown;
  readonly noAck: boolean;
  readonly exclusive?: boolean;
  /** `x-priority`: higher gets messages first; default 0 */
  readonly priority?: number;
  /** unacked limit for this consumer (basic.qos global=false at consume time); 0 = none */
  readonly prefetchCount?: number;
  canDeliver(): boolean;
  deliver(delivery: Delivery): void;
  /** The queue was deleted under it (the protocol layer sends basic.cancel). */
  cancelled?(): void;
}

export interface Delivery {
  readonly queue: Queue;
  /** queue-local id to ack/reject with; 0 when nothing awaits an ack (no-ack) */
  readonly deliveryId: number;
  readonly message: BrokerMessage;
  readonly redelivered: boolean;
  /** undefined for basic.get */
  readonly consumer?: QueueConsumer;
}

export interface GetResult {
  readonly delivery: Delivery;
  /** ready messages left after this one (basic.get-ok message-count) */
  readonly messageCount: number;
}

/**
 * `delivered`: handed straight to a consumer; `queued`: accepted into the queue (it may have
 * been delivered, expired or dropped by a limit since); `dropped`: the queue is deleted;
 * `rejected`: refused by `x-overflow: reject-publish(-dlx)`, so the publisher gets a nack.
 */
export type PublishOutcome = 'delivered' | 'queued' | 'dropped' | 'rejected';

export type Settlement = 'ack' | 'requeue' | 'reject';

interface ConsumerState {
  readonly consumer: QueueConsumer;
  readonly priority: number;
  readonly prefetch: number;
  unacked: number;
}

interface Unacked {
  readonly entry: QueueEntry;
  readonly channel: unknown;
  readonly consumer: ConsumerState | undefined;
}

export class Queue {
  readonly name: string;
  readonly vhost: string;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  readonly owner: QueueOwner | undefined;
  readonly arguments: FieldTable;
  readonly settings: QueueSettings;

  private readonly ready: ReadyMessages;
  private readonly unacked = new Map<number, Unacked>();
  /** in delivery preference: priority descending, then round-robin order */
  private consumers: ConsumerState[] = [];
  /** registration order (single active consumer picks the oldest) */
  private registration: ConsumerState[] = [];
  private nextSeq = 1;
  private nextDeliveryId = 1;
  private hadConsumer = false;
  private lastUsed: number;
  private draining = false;
  private drainAgain = false;
  private deletedFlag = false;

  constructor(
    declaration: QueueDefinition,
    private readonly env: QueueEnvironment,
  ) {
    this.name = declaration.name;
    this.vhost = declaration.vhost;
    this.durable = declaration.durable;
    this.autoDelete = declaration.autoDelete;
    this.owner = declaration.owner;
    this.arguments = declaration.arguments;
    this.settings = queueSettings(declaration.arguments);
    const maxPriority = this.settings.maxPriority;
    this.ready = new ReadyMessages(maxPriority === undefined ? 1 : maxPriority + 1);
    this.lastUsed = env.now();
  }

  get exclusive(): boolean {
    return this.owner !== undefined;
  }

  get deleted(): boolean {
    return this.deletedFlag;
  }

  /** ready messages (what queue.declare-ok and basic.get-ok report) */
  get messageCount(): number {
    return this.ready.length;
  }

  get messageBytes(): number {
    return this.ready.bytes;
  }

  get unackedCount(): number {
    return this.unacked.size;
  }

  get consumerCount(): number {
    return this.consumers.length;
  }

  /** body bytes of the unacknowledged messages (the management API's message_bytes_unacknowledged) */
  get unackedBytes(): number {
    let n = 0;
    for (const u of this.unacked.values()) n += u.entry.size;
    return n;
  }

  /** the consumer that gets the messages of a single-active-consumer queue, if any */
  get singleActiveConsumerTag(): string | undefined {
    return this.settings.singleActiveConsumer ? this.registration[0]?.consumer.tag : undefined;
  }

  /** The ready messages in delivery order (inspection, tests). */
  readyMessages(): IterableIterator<QueueEntry> {
    return this.ready[Symbol.iterator]();
  }

  /** Marks the queue used (declare, get, consume), postponing x-expires. */
  touch(): void {
    this.lastUsed = this.env.now();
  }

  /**
   * Accepts a routed message. A message meets an empty queue with a waiting consumer goes
   * straight to it (even with a TTL of 0); otherwise overflow and TTL rules apply.
   */
  publish(message: BrokerMessage): PublishOutcome {
    if (this.deletedFlag) return 'dropped';
    const now = this.env.now();
    const entry = this.entryFor(message, now);
    if (this.ready.length === 0 && !this.draining) {
      const c = this.pickConsumer();
      if (c !== undefined) {
        this.deliverTo(c, entry);
        return 'delivered';
      }
    }
    const { maxLength, maxLengthBytes, overflow } = this.settings;
    if (
      overflow !== 'drop-head' &&
      ((maxLength !== undefined && this.ready.length + 1 > maxLength) || (maxLengthBytes !== undefined && this.ready.bytes + entry.size > maxLengthBytes))
    ) {
      if (overflow === 'reject-publish-dlx') this.deadLetter(entry, 'maxlen');
      return 'rejected';
    }
    this.ready.push(entry);
    this.enforceLimits();
    this.drain();
    return 'queued';
  }

  /** Registers a consumer; RabbitMQ's 403 when exclusivity forbids it. Delivers at once if it can. */
  consume(consumer: QueueConsumer): void {
    this.assertUsable();
    if (this.consumers.some((c) => c.consumer.exclusive === true) || (consumer.exclusive === true && this.consumers.length > 0)) {
      throw AmqpError.of('ACCESS_REFUSED', `${resourceName('queue', this.name, this.vhost)} in exclusive use`);
    }
    const state: ConsumerState = { consumer, priority: consumer.priority ?? 0, prefetch: consumer.prefetchCount ?? 0, unacked: 0 };
    // after every consumer of the same or higher priority: round-robin continues fairly
    let at = this.consumers.findIndex((c) => c.priority < state.priority);
    if (at < 0) at = this.consumers.length;
    this.consumers.splice(at, 0, state);
    this.registration.push(state);
    this.hadConsumer = true;
    this.touch();
    this.drain();
  }

  /**
   * Removes a consumer. Its unacked messages stay unacked (they belong to the channel).
   * An auto-delete queue asks to be deleted when its last consumer goes.
   */
  cancel(consumer: QueueConsumer): boolean {
    const i = this.consumers.findIndex((c) => c.consumer === consumer);
    if (i < 0) return false;
    const state = this.consumers[i]!;
    this.consumers.splice(i, 1);
    this.registration = this.registration.filter((c) => c !== state);
    this.touch();
    if (this.consumers.length === 0 && this.autoDelete && this.hadConsumer) {
      this.env.requestDelete(this, 'auto-delete');
    } else {
      this.drain(); // a single-active-consumer queue hands over to the next one
    }
    return true;
  }

  /** basic.get: the next ready message, tracked for ack unless `noAck`. */
  get(noAck: boolean, channel: unknown): GetResult | undefined {
    this.assertUsable();
    this.touch();
    this.expireReady(this.env.now());
    const entry = this.ready.shift();
    if (entry === undefined) return undefined;
    const delivery = this.track(entry, noAck, channel, undefined);
    return { delivery, messageCount: this.ready.length };
  }

  /**
   * Settles deliveries by id: `ack`, `requeue` (back in place, redelivered), or `reject`
   * (dead-lettered with reason `rejected` when the queue has a DLX, else dropped).
   * Returns the ids that were not awaiting settlement.
   */
  settle(deliveryIds: Iterable<number>, how: Settlement): number[] {
    const unknown: number[] = [];
    let requeued = false;
    for (const id of deliveryIds) {
      const u = this.unacked.get(id);
      if (u === undefined) {
        unknown.push(id);
        continue;
      }
      this.unacked.delete(id);
      if (u.consumer !== undefined) u.consumer.unacked--;
      if (how === 'requeue') {
        u.entry.redelivered = true;
        this.ready.putBack(u.entry);
        requeued = true;
      } else if (how === 'reject') {
        this.deadLetter(u.entry, 'rejected');
      }
    }
    if (requeued) this.enforceLimits();
    this.drain();
    return unknown;
  }

  /** Requeues everything a channel holds unacked (channel close); returns how many. */
  releaseChannel(channel: unknown): number {
    const ids: number[] = [];
    for (const [id, u] of this.unacked) if (u.channel === channel) ids.push(id);
    this.settle(ids, 'requeue');
    return ids.length;
  }

  /** Cancels every consumer of a channel (channel close); no auto-delete check per consumer. */
  cancelChannelConsumers(channel: unknown): QueueConsumer[] {
    const gone = this.consumers.filter((c) => c.consumer.channel === channel).map((c) => c.consumer);
    for (const c of gone) this.cancel(c);
    return gone;
  }

  /** queue.purge: drops ready messages (unacked ones stay); returns how many. */
  purge(): number {
    return this.ready.clear();
  }

  /**
   * Marks the queue deleted: consumers are told, ready and unacked messages dropped.
   * Returns the ready count (queue.delete-ok message-count). The vhost removes bindings.
   */
  delete(): number {
    if (this.deletedFlag) return 0;
    const count = this.ready.length;
    this.deletedFlag = true;
    this.ready.clear();
    this.unacked.clear();
    const consumers = this.consumers;
    this.consumers = [];
    this.registration = [];
    for (const c of consumers) c.consumer.cancelled?.();
    return count;
  }

  /** Earliest time (ms) at which `expire` has work: a message TTL or the queue's x-expires. */
  nextExpiry(): number {
    let next = this.ready.nextExpiry();
    const idle = this.idleDeadline();
    if (idle < next) next = idle;
    return next;
  }

  /** Timer hook: expires messages due by `now` and the queue itself when unused past x-expires. */
  expire(now: number = this.env.now()): void {
    if (this.deletedFlag) return;
    this.expireReady(now);
    if (this.idleDeadline() <= now) this.env.requestDelete(this, 'expired');
  }

  /** Delivers ready messages to consumers that can take them. Safe to call any time. */
  drain(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        this.expireReady(this.env.now());
        while (this.ready.length > 0 && !this.deletedFlag) {
          const c = this.pickConsumer();
          if (c === undefined) break;
          const entry = this.ready.shift()!;
          this.deliverTo(c, entry);
        }
      } while (this.drainAgain && !this.deletedFlag);
    } finally {
      this.draining = false;
    }
  }

  private idleDeadline(): number {
    const expires = this.settings.expires;
    if (expires === undefined || this.consumers.length > 0 || this.deletedFlag) return Infinity;
    return this.lastUsed + expires;
  }

  private assertUsable(): void {
    if (this.deletedFlag) throw AmqpError.of('NOT_FOUND', `no ${resourceName('queue', this.name, this.vhost)}`);
  }

  private entryFor(message: BrokerMessage, now: number): QueueEntry {
    let ttl = this.settings.messageTtl;
    const perMessage = parseExpirationSafe(message);
    if (perMessage !== undefined && (ttl === undefined || perMessage < ttl)) ttl = perMessage;
    const max = this.settings.maxPriority;
    const priority = max === undefined ? 0 : Math.min(Math.max(messagePriority(message), 0), max);
    return {
      seq: this.nextSeq++,
      message,
      size: message.body.length,
      expiresAt: ttl === undefined ? Infinity : now + ttl,
      priority,
      redelivered: false,
    };
  }

  /** drop-head: the oldest ready messages leave (dead-lettered `maxlen`) until the limits hold. */
  private enforceLimits(): void {
    const { maxLength, maxLengthBytes, overflow } = this.settings;
    if (overflow !== 'drop-head' || (maxLength === undefined && maxLengthBytes === undefined)) return;
    while ((maxLength !== undefined && this.ready.length > maxLength) || (maxLengthBytes !== undefined && this.ready.bytes > maxLengthBytes)) {
      const e = this.ready.shift();
      if (e === undefined) break;
      this.deadLetter(e, 'maxlen');
    }
  }

  private expireReady(now: number): void {
    if (this.ready.nextExpiry() > now) return;
    const expired: QueueEntry[] = [];
    this.ready.takeExpired(now, expired);
    for (const e of expired) this.deadLetter(e, 'expired');
  }

  private deadLetter(entry: QueueEntry, reason: DeadLetterReason): void {
    if (this.settings.deadLetterExchange !== undefined) this.env.deadLetter(this, entry.message, reason);
  }

  private available(c: ConsumerState): boolean {
    return (c.consumer.noAck || c.prefetch === 0 || c.unacked < c.prefetch) && c.consumer.canDeliver();
  }

  private pickConsumer(): ConsumerState | undefined {
    if (this.settings.singleActiveConsumer) {
      const active = this.registration[0];
      return active !== undefined && this.available(active) ? active : undefined;
    }
    const list = this.consumers;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (!this.available(c)) continue;
      // round-robin: the chosen consumer goes behind the others of its priority
      let end = i + 1;
      while (end < list.length && list[end]!.priority === c.priority) end++;
      if (end - 1 > i) {
        list.splice(i, 1);
        list.splice(end - 1, 0, c);
      }
      return c;
    }
    return undefined;
  }

  private deliverTo(c: ConsumerState, entry: QueueEntry): void {
    const delivery = this.track(entry, c.consumer.noAck, c.consumer.channel, c);
    c.consumer.deliver(delivery);
  }

  private track(entry: QueueEntry, noAck: boolean, channel: unknown, consumer: ConsumerState | undefined): Delivery {
    let deliveryId = 0;
    if (!noAck) {
      deliveryId = this.nextDeliveryId++;
      this.unacked.set(deliveryId, { entry, channel, consumer });
      if (consumer !== undefined) consumer.unacked++;
    }
    const delivery: Delivery =
      consumer === undefined
        ? { queue: this, deliveryId, message: entry.message, redelivered: entry.redelivered }
        : { queue: this, deliveryId, message: entry.message, redelivered: entry.redelivered, consumer: consumer.consumer };
    return delivery;
  }
}

/** Publish validated the expiration already; a bad one here means no per-message TTL. */
function parseExpirationSafe(message: BrokerMessage): number | undefined {
  try {
    return parseExpiration(message.properties['expiration'] as string | Uint8Array | undefined);
  } catch {
    return undefined;
  }
}
