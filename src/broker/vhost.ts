// One virtual host: its exchanges, queues and bindings, the declare/delete/bind operations
// with RabbitMQ's checks and error texts, and publish-time routing (alternate exchanges,
// exchange-to-exchange bindings, CC/BCC, dead-lettering).

import { randomBytes } from 'node:crypto';
import type { ContentProperties, FieldTable } from '../decoder/types.js';
import { AmqpError, defaultExchangeRefused, notFound, queueLocked, resourceName } from './amqp-error.js';
import { heldProperties } from './broker-wire.js';
import { deadLetterMessage, isDeadLetterCycle, type DeadLetterReason } from './dead-letter.js';
import { assertArgsEquivalence, assertFieldEquivalence } from './equivalence.js';
import type { Binding, DestinationKind, Exchange } from './exchange.js';
import { checkExchangeType, createExchange } from './exchange-types.js';
import { amqpStringText, EMPTY_TABLE, erlangTypeName, lookup } from './field-values.js';
import { messageHeaders, parseExpiration, publishedMessage, type BrokerMessage } from './message.js';
import { Queue, type PublishOutcome, type QueueEnvironment, type QueueOwner } from './queue.js';
import { QUEUE_ARGUMENT_KEYS, validateQueueArguments, withDefaultQueueType } from './queue-arguments.js';

export interface VirtualHostOptions {
  /** vhost name as it appears in error texts; default `/` */
  readonly name?: string;
  /** ms clock; default Date.now */
  readonly now?: () => number;
  /** random source for server-named queues; default node:crypto */
  readonly randomBytes?: (size: number) => Uint8Array;
}

export interface ExchangeDeclaration {
  readonly name: string;
  readonly type: string;
  readonly passive?: boolean;
  readonly durable?: boolean;
  readonly autoDelete?: boolean;
  readonly internal?: boolean;
  readonly arguments?: FieldTable;
}

export interface QueueDeclaration {
  /** empty for a server-named queue */
  readonly name: string;
  /** the declaring connection: owner of an exclusive queue, checked against others' */
  readonly connection: QueueOwner;
  readonly passive?: boolean;
  readonly durable?: boolean;
  readonly exclusive?: boolean;
  readonly autoDelete?: boolean;
  readonly arguments?: FieldTable;
}

/** queue.declare-ok */
export interface QueueDeclareOk {
  readonly queue: string;
  readonly messageCount: number;
  readonly consumerCount: number;
}

export interface PublishResult {
  /** queues the message was routed to (empty: unroutable, basic.return for mandatory) */
  readonly queues: readonly Queue[];
  /** a queue refused it (x-overflow reject-publish): confirm with basic.nack */
  readonly rejected: boolean;
  readonly outcomes: readonly PublishOutcome[];
}

const BUILT_IN_EXCHANGES: ReadonlyArray<readonly [name: string, type: 'direct' | 'fanout' | 'topic' | 'headers', internal: boolean]> = [
  ['', 'direct', false],
  ['amq.direct', 'direct', false],
  ['amq.fanout', 'fanout', false],
  ['amq.topic', 'topic', false],
  ['amq.headers', 'headers', false],
  ['amq.match', 'headers', false],
  ['amq.rabbitmq.trace', 'topic', true],
];

const destinationKey = (kind: DestinationKind, name: string): string => (kind === 'queue' ? `q:${name}` : `e:${name}`);

/** `amq.gen-` and 22 url-safe base64 characters (16 random bytes), like RabbitMQ. */
export function serverNamedQueue(random: (size: number) => Uint8Array = randomBytes): string {
  return `amq.gen-${Buffer.from(random(16)).toString('base64url')}`;
}

export class VirtualHost implements QueueEnvironment {
  readonly name: string;
  private readonly clock: () => number;
  private readonly random: (size: number) => Uint8Array;
  private readonly exchangeMap = new Map<string, Exchange>();
  private readonly queueMap = new Map<string, Queue>();
  /** destination → exchanges holding bindings to it (for deletes without scanning) */
  private readonly sourcesOf = new Map<string, Set<Exchange>>();
  private readonly scratchQueues = new Set<Queue>();
  private readonly scratchSeen = new Set<Exchange>();
  private readonly scratchWork: Exchange[] = [];
  private readonly scratchMatched = new Set<Binding>();

  constructor(options: VirtualHostOptions = {}) {
    this.name = options.name ?? '/';
    this.clock = options.now ?? Date.now;
    this.random = options.randomBytes ?? randomBytes;
    for (const [name, type, internal] of BUILT_IN_EXCHANGES) {
      this.exchangeMap.set(name, createExchange(type, { name, durable: true, autoDelete: false, internal, arguments: EMPTY_TABLE }));
    }
  }

  now(): number {
    return this.clock();
  }

  exchange(name: string): Exchange | undefined {
    return this.exchangeMap.get(name);
  }

  queue(name: string): Queue | undefined {
    return this.queueMap.get(name);
  }

  exchanges(): IterableIterator<Exchange> {
    return this.exchangeMap.values();
  }

  queues(): IterableIterator<Queue> {
    return this.queueMap.values();
  }

  /** Every explicit binding (the default exchange's implicit ones are not listed, as in RabbitMQ's bindings API they are synthetic). */
  bindings(): Binding[] {
    const all: Binding[] = [];
    for (const x of this.exchangeMap.values()) all.push(...x.bindings());
    return all;
  }

  // ---- exchanges ----

  declareExchange(d: ExchangeDeclaration): Exchange {
    if (d.passive === true) {
      if (d.name === '') throw defaultExchangeRefused();
      return this.requireExchange(d.name);
    }
    const type = checkExchangeType(d.type);
    if (d.name === '') throw defaultExchangeRefused();
    const args = d.arguments ?? EMPTY_TABLE;
    const durable = d.durable ?? false;
    const autoDelete = d.autoDelete ?? false;
    const internal = d.internal ?? false;
    let x = this.exchangeMap.get(d.name);
    const resource = resourceName('exchange', d.name, this.name);
    if (x === undefined) {
      if (d.name.startsWith('amq.')) throw AmqpError.of('ACCESS_REFUSED', `exchange name '${d.name}' contains reserved prefix 'amq.*'`);
      const ae = lookup(args, 'alternate-exchange');
      if (ae !== undefined && ae.type !== 'S') {
        throw AmqpError.of('PRECONDITION_FAILED', `invalid type '${erlangTypeName(ae.type)}' for arg 'alternate-exchange' in ${resource}`);
      }
      x = createExchange(type, { name: d.name, durable, autoDelete, internal, arguments: args });
      this.exchangeMap.set(d.name, x);
      return x;
    }
    assertFieldEquivalence(x.type, type, resource, 'type');
    assertFieldEquivalence(x.durable, durable, resource, 'durable');
    assertFieldEquivalence(x.autoDelete, autoDelete, resource, 'auto_delete');
    assertFieldEquivalence(x.internal, internal, resource, 'internal');
    assertArgsEquivalence(x.arguments, args, resource, ['alternate-exchange']);
    return x;
  }

  /** exchange.delete: deleting a missing exchange is not an error (RabbitMQ 3.x). */
  deleteExchange(name: string, ifUnused = false): void {
    if (name === '') throw defaultExchangeRefused();
    if (name.startsWith('amq.')) throw AmqpError.of('ACCESS_REFUSED', `deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    const x = this.exchangeMap.get(name);
    if (x === undefined) return;
    if (ifUnused && x.bindingCount > 0) throw AmqpError.of('PRECONDITION_FAILED', `${resourceName('exchange', name, this.name)} in use`);
    this.removeExchange(x);
  }

  // ---- queues ----

  declareQueue(d: QueueDeclaration): QueueDeclareOk {
    if (d.passive === true) {
      const q = this.requireQueue(d.name);
      this.checkExclusiveAccess(q, d.connection);
      return this.declareOk(q);
    }
    const exclusive = d.exclusive ?? false;
    // RabbitMQ makes exclusive queues transient whatever the durable bit says
    const durable = (d.durable ?? false) && !exclusive;
    const autoDelete = d.autoDelete ?? false;
    const args = d.arguments ?? EMPTY_TABLE;
    let name = d.name;
    if (name === '') name = serverNamedQueue(this.random);
    else if (name.startsWith('amq.')) throw AmqpError.of('ACCESS_REFUSED', `queue name '${name}' contains reserved prefix 'amq.*'`);
    const owner = exclusive ? d.connection : undefined;
    const existing = this.queueMap.get(name);
    if (existing !== undefined) {
      if (existing.owner !== owner) throw queueLocked(name, this.name);
      const resource = resourceName('queue', name, this.name);
      assertFieldEquivalence(existing.durable, durable, resource, 'durable');
      assertFieldEquivalence(existing.autoDelete, autoDelete, resource, 'auto_delete');
      assertArgsEquivalence(withDefaultQueueType(existing.arguments), withDefaultQueueType(args), resource, QUEUE_ARGUMENT_KEYS);
      existing.touch();
      return this.declareOk(existing);
    }
    validateQueueArguments(name, this.name, args, durable);
    const q = new Queue(
      owner === undefined
        ? { name, vhost: this.name, durable, autoDelete, arguments: args }
        : { name, vhost: this.name, durable, autoDelete, owner, arguments: args },
      this,
    );
    this.queueMap.set(name, q);
    return this.declareOk(q);
  }

  /** A queue to consume from or get from: 404 when missing, 405 when another connection owns it. */
  queueFor(name: string, connection: QueueOwner): Queue {
    const q = this.requireQueue(name);
    this.checkExclusiveAccess(q, connection);
    return q;
  }

  /** queue.delete: returns the ready message count; a missing queue counts 0 (RabbitMQ 3.x). */
  deleteQueue(name: string, connection: QueueOwner, options: { ifUnused?: boolean; ifEmpty?: boolean } = {}): number {
    const q = this.queueMap.get(name);
    if (q === undefined) return 0;
    this.checkExclusiveAccess(q, connection);
    const resource = resourceName('queue', name, this.name);
    if (options.ifUnused === true && q.consumerCount > 0) throw AmqpError.of('PRECONDITION_FAILED', `${resource} in use`);
    if (options.ifEmpty === true && q.messageCount > 0) throw AmqpError.of('PRECONDITION_FAILED', `${resource} not empty`);
    return this.removeQueue(q);
  }

  purgeQueue(name: string, connection: QueueOwner): number {
    return this.queueFor(name, connection).purge();
  }

  /** Deletes the exclusive queues of a closed connection; returns their names. */
  connectionClosed(connection: QueueOwner): string[] {
    const gone: string[] = [];
    for (const q of [...this.queueMap.values()]) {
      if (q.owner === connection) {
        gone.push(q.name);
        this.removeQueue(q);
      }
    }
    return gone;
  }

  // ---- bindings ----

  bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable = EMPTY_TABLE, connection?: QueueOwner): void {
    if (exchange === '') throw defaultExchangeRefused();
    const x = this.requireExchange(exchange);
    const q = this.requireQueue(queue);
    if (connection !== undefined) this.checkExclusiveAccess(q, connection);
    this.addBinding(x, 'queue', queue, routingKey, args);
  }

  /** queue.unbind: unbinding what isn't bound (or doesn't exist) is fine, as in RabbitMQ 3.x. */
  unbindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable = EMPTY_TABLE, connection?: QueueOwner): void {
    if (exchange === '') throw defaultExchangeRefused();
    const q = this.queueMap.get(queue);
    if (q !== undefined && connection !== undefined) this.checkExclusiveAccess(q, connection);
    const x = this.exchangeMap.get(exchange);
    if (x !== undefined) this.removeBinding(x, 'queue', queue, routingKey, args);
  }

  /** exchange.bind: messages reaching `source` that match flow on to `destination`. */
  bindExchange(destination: string, source: string, routingKey: string, args: FieldTable = EMPTY_TABLE): void {
    if (destination === '' || source === '') throw defaultExchangeRefused();
    const x = this.requireExchange(source);
    this.requireExchange(destination);
    this.addBinding(x, 'exchange', destination, routingKey, args);
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable = EMPTY_TABLE): void {
    if (destination === '' || source === '') throw defaultExchangeRefused();
    const x = this.exchangeMap.get(source);
    if (x !== undefined) this.removeBinding(x, 'exchange', destination, routingKey, args);
  }

  // ---- routing ----

  /**
   * The queues a message published to `exchange` reaches. Throws 404 for a missing exchange
   * and 403 for an internal one. `routingKeys` beyond the first are CC/BCC keys.
   */
  route(exchange: string, routingKey: string | readonly string[], headers?: FieldTable): Queue[] {
    const x = this.requireExchange(exchange);
    if (x.internal) throw AmqpError.of('ACCESS_REFUSED', `cannot publish to internal ${resourceName('exchange', exchange, this.name)}`);
    return this.routeFrom(x, typeof routingKey === 'string' ? [routingKey] : routingKey, headers);
  }

  /**
   * basic.publish: validates the expiration, routes (with CC/BCC) and enqueues.
   * The returned queues are empty when the message was unroutable.
   */
  publish(exchange: string, routingKey: string, properties: ContentProperties, body: Uint8Array): PublishResult {
    const x = this.requireExchange(exchange);
    if (x.internal) throw AmqpError.of('ACCESS_REFUSED', `cannot publish to internal ${resourceName('exchange', exchange, this.name)}`);
    parseExpiration(properties['expiration'] as string | Uint8Array | undefined);
    const { message, bccKeys, headers } = publishedMessage(exchange, routingKey, properties, body);
    const keys = bccKeys.length === 0 ? message.routingKeys : [...message.routingKeys, ...bccKeys];
    const queues = this.routeFrom(x, keys, headers);
    const outcomes = queues.map((q) => q.publish(message));
    return { queues, rejected: outcomes.includes('rejected'), outcomes };
  }

  // ---- timers ----

  /** Earliest time (ms) any queue has expiry work (message TTL or x-expires); Infinity if none. */
  nextExpiry(): number {
    let next = Infinity;
    for (const q of this.queueMap.values()) {
      const t = q.nextExpiry();
      if (t < next) next = t;
    }
    return next;
  }

  /** Runs expiry on every queue (the protocol layer's timer calls it at `nextExpiry()`). */
  expire(now: number = this.now()): void {
    for (const q of [...this.queueMap.values()]) q.expire(now);
  }

  // ---- QueueEnvironment ----

  deadLetter(queue: Queue, message: BrokerMessage, reason: DeadLetterReason): void {
    const dlxName = queue.settings.deadLetterExchange;
    if (dlxName === undefined) return;
    const dlx = this.exchangeMap.get(dlxName);
    if (dlx === undefined) return; // RabbitMQ drops it when the DLX doesn't exist
    // routed and checked with its new headers decoded; queues hold them as bytes
    const dead = deadLetterMessage(message, reason, queue.name, dlxName, queue.settings.deadLetterRoutingKey, this.now());
    const held: BrokerMessage = { ...dead, properties: heldProperties(dead.properties, dead.body.length) };
    for (const target of this.routeFrom(dlx, dead.routingKeys, messageHeaders(dead))) {
      if (!isDeadLetterCycle(target.name, dead, reason)) target.publish(held);
    }
  }

  requestDelete(queue: Queue, _reason: 'auto-delete' | 'expired'): void {
    if (this.queueMap.get(queue.name) === queue) this.removeQueue(queue);
  }

  // ---- internals ----

  private routeFrom(start: Exchange, keys: readonly string[], headers: FieldTable | undefined): Queue[] {
    if (start.name === '' && keys.length === 1) {
      // the common case: default exchange, no CC/BCC
      const q = this.queueMap.get(keys[0]!);
      return q === undefined ? [] : [q];
    }
    // scratch collections reused across publishes (routing never re-enters itself)
    const queues = this.scratchQueues;
    const seen = this.scratchSeen;
    const work = this.scratchWork;
    const matched = this.scratchMatched;
    queues.clear();
    seen.clear();
    work.length = 0;
    seen.add(start);
    work.push(start);
    for (let i = 0; i < work.length; i++) {
      const x = work[i]!;
      if (x.name === '') {
        // the default exchange binds every queue by its name
        for (const key of keys) {
          const q = this.queueMap.get(key);
          if (q !== undefined) queues.add(q);
        }
        continue;
      }
      matched.clear();
      if (x.type === 'headers' || x.type === 'fanout') x.route(keys[0] ?? '', headers, matched);
      else for (const key of keys) x.route(key, headers, matched);
      if (matched.size === 0) {
        const ae = lookup(x.arguments, 'alternate-exchange');
        const alt = ae !== undefined && ae.type === 'S' ? this.exchangeMap.get(amqpStringText(ae.value)) : undefined;
        if (alt !== undefined && !seen.has(alt)) {
          seen.add(alt);
          work.push(alt);
        }
        continue;
      }
      for (const b of matched) {
        if (b.destinationKind === 'queue') {
          const q = this.queueMap.get(b.destination);
          if (q !== undefined) queues.add(q);
        } else {
          const next = this.exchangeMap.get(b.destination);
          if (next !== undefined && !seen.has(next)) {
            seen.add(next);
            work.push(next);
          }
        }
      }
    }
    const result = [...queues];
    queues.clear();
    seen.clear();
    matched.clear();
    work.length = 0;
    return result;
  }

  private requireExchange(name: string): Exchange {
    const x = this.exchangeMap.get(name);
    if (x === undefined) throw notFound('exchange', name, this.name);
    return x;
  }

  private requireQueue(name: string): Queue {
    const q = this.queueMap.get(name);
    if (q === undefined) throw notFound('queue', name, this.name);
    return q;
  }

  /** RabbitMQ's lax check: a non-exclusive queue is open to all, an exclusive one to its owner. */
  private checkExclusiveAccess(q: Queue, connection: QueueOwner): void {
    if (q.owner !== undefined && q.owner !== connection) throw queueLocked(q.name, this.name);
  }

  private declareOk(q: Queue): QueueDeclareOk {
    return { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount };
  }

  private addBinding(x: Exchange, kind: DestinationKind, destination: string, routingKey: string, args: FieldTable): void {
    if (!x.bind(kind, destination, routingKey, args)) return;
    const key = destinationKey(kind, destination);
    let sources = this.sourcesOf.get(key);
    if (sources === undefined) {
      sources = new Set();
      this.sourcesOf.set(key, sources);
    }
    sources.add(x);
  }

  private removeBinding(x: Exchange, kind: DestinationKind, destination: string, routingKey: string, args: FieldTable): void {
    if (x.unbind(kind, destination, routingKey, args) === undefined) return;
    if (!x.hasBindingTo(kind, destination)) this.forgetSource(kind, destination, x);
    this.maybeAutoDelete(x);
  }

  private forgetSource(kind: DestinationKind, destination: string, x: Exchange): void {
    const key = destinationKey(kind, destination);
    const sources = this.sourcesOf.get(key);
    if (sources === undefined) return;
    sources.delete(x);
    if (sources.size === 0) this.sourcesOf.delete(key);
  }

  /** Removes every binding to a destination that is going away; auto-delete sources may follow. */
  private unbindDestination(kind: DestinationKind, destination: string): void {
    const key = destinationKey(kind, destination);
    const sources = this.sourcesOf.get(key);
    if (sources === undefined) return;
    this.sourcesOf.delete(key);
    for (const x of sources) {
      x.unbindDestination(kind, destination);
      this.maybeAutoDelete(x);
    }
  }

  private maybeAutoDelete(x: Exchange): void {
    if (x.autoDelete && x.bindingCount === 0 && this.exchangeMap.get(x.name) === x) this.removeExchange(x);
  }

  private removeExchange(x: Exchange): void {
    this.exchangeMap.delete(x.name);
    for (const b of [...x.bindings()]) {
      x.unbind(b.destinationKind, b.destination, b.routingKey, b.arguments);
      this.forgetSource(b.destinationKind, b.destination, x);
    }
    this.unbindDestination('exchange', x.name);
  }

  private removeQueue(q: Queue): number {
    if (this.queueMap.get(q.name) === q) this.queueMap.delete(q.name);
    const count = q.delete();
    this.unbindDestination('queue', q.name);
    return count;
  }
}
