// The broker model's public surface, for the protocol layer and the CLI.

export { AmqpError, ReplyCode, isHardReplyCode, resourceName, type ReplyCodeName } from './amqp-error.js';
export { DefinitionsError, RABBITMQ_COMPAT_VERSION, type DefinitionsJson } from './definitions.js';
export { deadLetterMessage, isDeadLetterCycle, type DeadLetterReason } from './dead-letter.js';
export { DeliveryTracker } from './delivery-tracker.js';
export { Exchange, type Binding, type DestinationKind, type ExchangeProperties } from './exchange.js';
export { DirectExchange } from './exchange-direct.js';
export { FanoutExchange } from './exchange-fanout.js';
export { HeadersExchange, type HeadersMatchKind } from './exchange-headers.js';
export { TopicExchange } from './exchange-topic.js';
export { EXCHANGE_TYPES, checkExchangeType, createExchange, type ExchangeType } from './exchange-types.js';
export { MAX_EXPIRY_MS, parseExpiration, publishedMessage, type BrokerMessage } from './message.js';
export {
  Queue,
  type Delivery,
  type GetResult,
  type PublishOutcome,
  type QueueConsumer,
  type QueueEnvironment,
  type QueueOwner,
  type Settlement,
} from './queue.js';
export { consumerPriority, type OverflowBehaviour, type QueueSettings } from './queue-arguments.js';
export { TopicMatcher, splitTopicWords } from './topic-matcher.js';
export {
  VirtualHost,
  serverNamedQueue,
  type ExchangeDeclaration,
  type PublishResult,
  type QueueDeclaration,
  type QueueDeclareOk,
  type VirtualHostOptions,
} from './vhost.js';
