// The reply texts a fault rule's channel.close and connection.close carry: worded as RabbitMQ
// words the same error for the same method, so a client's error handling sees what it would
// see in production (`NOT_FOUND - no exchange 'orders' in vhost '/'`).

import { AmqpError, notFound, queueLocked, ReplyCode, type ReplyCodeName, resourceName, unknownDeliveryTag } from '../broker/amqp-error.js';
import type { DecodedMethod } from '../decoder/types.js';

const NAMES = new Map<number, ReplyCodeName>(Object.entries(ReplyCode).map(([name, code]) => [code, name as ReplyCodeName]));

/** `NOT_FOUND`, or the number for a code without a name. */
export function replyCodeName(code: number): string {
  return NAMES.get(code) ?? String(code);
}

/** What a connection's client logged in as and where: RabbitMQ names both in its errors. */
export interface LoginContext {
  readonly vhost: string;
  readonly user: string;
}

/** The resource a method names, as RabbitMQ would name it in an error about it. */
function resourceOf(method: DecodedMethod): { kind: 'queue' | 'exchange'; name: string } | undefined {
  const text = (key: string): string | undefined => {
    const value = method.args[key];
    return typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : undefined;
  };
  const queueFirst = method.name.startsWith('queue.') || method.name === 'basic.consume' || method.name === 'basic.get';
  const queue = text('queue');
  const exchange = text('exchange') ?? text('destination');
  if (queueFirst && queue !== undefined) return { kind: 'queue', name: queue };
  if (exchange !== undefined) return { kind: 'exchange', name: exchange === '' ? 'amq.default' : exchange };
  return queue !== undefined ? { kind: 'queue', name: queue } : undefined;
}

/** The reply text of a channel.close with `code` in answer to `method`. */
export function channelCloseText(code: number, method: DecodedMethod, login: LoginContext): string {
  const resource = resourceOf(method);
  const args = method.args;
  switch (code) {
    case ReplyCode.NOT_FOUND:
      if (resource) return notFound(resource.kind, resource.name, login.vhost).replyText;
      break;
    case ReplyCode.ACCESS_REFUSED:
      if (resource)
        return AmqpError.of('ACCESS_REFUSED', `access to ${resourceName(resource.kind, resource.name, login.vhost)} refused for user '${login.user}'`)
          .replyText;
      break;
    case ReplyCode.RESOURCE_LOCKED:
      if (resource?.kind === 'queue') return queueLocked(resource.name, login.vhost).replyText;
      break;
    case ReplyCode.PRECONDITION_FAILED:
      if (method.name === 'basic.ack' || method.name === 'basic.nack' || method.name === 'basic.reject')
        return unknownDeliveryTag(args['delivery-tag'] as bigint | number).replyText;
      if (method.name === 'queue.declare' && resource) {
        const durable = args['durable'] === true;
        return AmqpError.of(
          'PRECONDITION_FAILED',
          `inequivalent arg 'durable' for ${resourceName('queue', resource.name, login.vhost)}: received '${durable}' but current is '${!durable}'`,
        ).replyText;
      }
      if (method.name === 'exchange.declare' && resource) {
        const type = typeof args['type'] === 'string' ? args['type'] : 'direct';
        return AmqpError.of(
          'PRECONDITION_FAILED',
          `inequivalent arg 'type' for ${resourceName('exchange', resource.name, login.vhost)}: received '${type}' but current is '${type === 'fanout' ? 'direct' : 'fanout'}'`,
        ).replyText;
      }
      break;
  }
  return `${replyCodeName(code)} - injected by amqp-spy`;
}

/** The reply text of a connection.close with `code`. */
export function connectionCloseText(code: number): string {
  // what RabbitMQ says when an operator closes a connection (rabbitmqctl or the management UI)
  if (code === ReplyCode.CONNECTION_FORCED) return 'CONNECTION_FORCED - Closed via management plugin';
  return `${replyCodeName(code)} - injected by amqp-spy`;
}
