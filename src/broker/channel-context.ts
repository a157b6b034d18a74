// What the per-class method handlers (channel-exchange.ts, channel-queue.ts, channel-basic.ts,
// channel-confirm-tx.ts) use of their channel. The handlers read a method's arguments, check
// them and answer -ok; the channel (broker-channel.ts) holds the state they act on.

import type { MethodArgs, MethodArgsInput, MethodName } from '../decoder/spec.js';
import type { AmqpString } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import type { ChannelHost } from './channel-host.js';
import type { VirtualHost } from './vhost.js';

/** RabbitMQ's direct reply-to pseudo-queue. */
export const REPLY_TO = 'amq.rabbitmq.reply-to';

export function text(s: AmqpString): string {
  return typeof s === 'string' ? s : Buffer.from(s).toString('utf8');
}

/** A method the broker does not take from a client (RabbitMQ's words). */
export function unimplemented(): AmqpError {
  return AmqpError.of('COMMAND_INVALID', 'unimplemented method');
}

export interface ChannelContext {
  readonly conn: ChannelHost;
  /** the queue of the last queue.declare, named by methods that leave the queue empty */
  mostRecentQueue: string;
  /** publisher confirms (confirm.select) */
  readonly confirming: boolean;
  /** transactions (tx.select) */
  readonly transactional: boolean;

  send<N extends MethodName>(name: N, args: MethodArgsInput<N>): void;
  vhost(): VirtualHost;
  /** a method's queue argument: empty means the most recently declared queue */
  queueName(name: AmqpString): string;

  // basic
  setPrefetch(count: number, global: boolean): void;
  resumeDeliveries(): void;
  /** registers the consumer and sends consume-ok before its first delivery */
  consume(args: MethodArgs<'basic.consume'>): void;
  cancel(tag: string): void;
  beginPublish(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean): void;
  /** sends get-ok or get-empty */
  get(args: MethodArgs<'basic.get'>): void;
  ack(tag: bigint, multiple: boolean): void;
  nack(tag: bigint, multiple: boolean, requeue: boolean): void;
  /** every unacked delivery back to its queue */
  recover(): void;

  // confirm, tx
  selectConfirm(): void;
  selectTx(): void;
  commit(): void;
  rollback(): void;
}
