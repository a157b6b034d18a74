// The exchange types the broker knows, by their AMQP type name.

import { AmqpError } from './amqp-error.js';
import type { Exchange, ExchangeProperties } from './exchange.js';
import { DirectExchange } from './exchange-direct.js';
import { FanoutExchange } from './exchange-fanout.js';
import { HeadersExchange } from './exchange-headers.js';
import { TopicExchange } from './exchange-topic.js';

export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

/** RabbitMQ's `check_type`: a connection error (503) for an empty or unknown type. */
export function checkExchangeType(type: string): ExchangeType {
  if (type === '') throw AmqpError.of('COMMAND_INVALID', "invalid exchange type ''");
  if ((EXCHANGE_TYPES as readonly string[]).includes(type)) return type as ExchangeType;
  throw AmqpError.of('COMMAND_INVALID', `unknown exchange type '${type}'`);
}

export function createExchange(type: ExchangeType, props: ExchangeProperties): Exchange {
  switch (type) {
    case 'direct':
      return new DirectExchange(props);
    case 'fanout':
      return new FanoutExchange(props);
    case 'topic':
      return new TopicExchange(props);
    case 'headers':
      return new HeadersExchange(props);
  }
}
