// Shared helpers for the broker model tests: a controllable clock, messages, consumers.

import type { ContentProperties, FieldTable, FieldValue } from '../../src/decoder/types.js';
import type { BrokerMessage } from '../../src/broker/message.js';
import type { Delivery, Queue, QueueConsumer, QueueEnvironment } from '../../src/broker/queue.js';
import type { DeadLetterReason } from '../../src/broker/dead-letter.js';

export class FakeClock {
  constructor(public t = 1_795_771_833_000) {}
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const text = (body: Uint8Array): string => new TextDecoder().decode(body);

export function message(body: string, properties: ContentProperties = {}, routingKey = 'rk', exchange = ''): BrokerMessage {
  return { exchange, routingKey, routingKeys: [routingKey], properties, body: new TextEncoder().encode(body) };
}

export const table = (...entries: Array<[string, FieldValue]>): FieldTable => ({ entries });
export const S = (value: string): FieldValue => ({ type: 'S', value });
export const long = (value: number): FieldValue => ({ type: 'l', value: BigInt(value) });
export const int = (value: number): FieldValue => ({ type: 'I', value });

/** A consumer that records what it gets; `open` stands for the channel's capacity. */
export class RecordingConsumer implements QueueConsumer {
  readonly received: Delivery[] = [];
  open = true;
  cancelledCount = 0;
  readonly noAck: boolean;
  readonly exclusive: boolean;
  readonly priority: number;
  readonly prefetchCount: number;
  constructor(
    readonly tag: string,
    options: { noAck?: boolean; exclusive?: boolean; priority?: number; prefetch?: number; channel?: unknown } = {},
  ) {
    this.noAck = options.noAck ?? false;
    this.exclusive = options.exclusive ?? false;
    this.priority = options.priority ?? 0;
    this.prefetchCount = options.prefetch ?? 0;
    this.channel = options.channel ?? tag;
  }
  readonly channel: unknown;
  canDeliver(): boolean {
    return this.open;
  }
  deliver(delivery: Delivery): void {
    this.received.push(delivery);
  }
  cancelled(): void {
    this.cancelledCount++;
  }
  bodies(): string[] {
    return this.received.map((d) => text(d.message.body) + (d.redelivered ? '*' : ''));
  }
}

/** A queue environment that records dead letters and delete requests instead of routing. */
export class RecordingEnvironment implements QueueEnvironment {
  readonly deadLetters: Array<{ body: string; reason: DeadLetterReason }> = [];
  readonly deleteRequests: Array<{ queue: string; reason: string }> = [];
  constructor(readonly clock: FakeClock = new FakeClock()) {}
  now(): number {
    return this.clock.now();
  }
  deadLetter(_queue: Queue, m: BrokerMessage, reason: DeadLetterReason): void {
    this.deadLetters.push({ body: text(m.body), reason });
  }
  requestDelete(queue: Queue, reason: 'auto-delete' | 'expired'): void {
    this.deleteRequests.push({ queue: queue.name, reason });
  }
}
