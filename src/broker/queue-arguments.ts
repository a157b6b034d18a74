// Queue declaration arguments: RabbitMQ 3.10's validation (with its error terms), the keys
// compared on redeclaration, and the settings the queue runs with.

import type { FieldTable, FieldValue } from '../decoder/types.js';
import { AmqpError, resourceName } from './amqp-error.js';
import { amqpStringText, erlangTypeName, integerOf, isIntegerValue, lookup } from './field-values.js';
import { MAX_EXPIRY_MS } from './message.js';

export type OverflowBehaviour = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

export interface QueueSettings {
  readonly messageTtl?: number;
  readonly expires?: number;
  readonly deadLetterExchange?: string;
  readonly deadLetterRoutingKey?: string;
  readonly maxLength?: number;
  readonly maxLengthBytes?: number;
  readonly maxPriority?: number;
  readonly overflow: OverflowBehaviour;
  readonly singleActiveConsumer: boolean;
  readonly queueMode: 'default' | 'lazy';
  readonly queueType: 'classic' | 'quorum' | 'stream';
}

/** rabbit_amqqueue:declare_args() order: validation and equivalence both walk it. */
export const QUEUE_ARGUMENT_KEYS = [
  'x-expires',
  'x-message-ttl',
  'x-dead-letter-exchange',
  'x-dead-letter-routing-key',
  'x-max-length',
  'x-max-length-bytes',
  'x-max-in-memory-length',
  'x-max-in-memory-bytes',
  'x-max-priority',
  'x-overflow',
  'x-queue-mode',
  'x-single-active-consumer',
  'x-queue-type',
  'x-quorum-initial-group-size',
  'x-max-age',
  'x-stream-max-segment-size-bytes',
  'x-initial-cluster-size',
  'x-queue-leader-locator',
] as const;

type Check = (v: FieldValue, args: FieldTable) => string | undefined;

/** Integer check; the reason is an Erlang string, so it prints in double quotes. */
const intArg: Check = (v) => (isIntegerValue(v) ? undefined : `"expected integer, got ${erlangTypeName(v.type)}"`);

const nonNegInt: Check = (v, args) => {
  const bad = intArg(v, args);
  if (bad !== undefined) return bad;
  const n = integerOf(v)!;
  return n < 0n ? `{value_negative,${n}}` : undefined;
};

const ttlArg: Check = (v, args) => {
  const bad = nonNegInt(v, args);
  if (bad !== undefined) return bad;
  const n = integerOf(v)!;
  return n > BigInt(MAX_EXPIRY_MS) ? `{value_too_large,${n}}` : undefined;
};

const expiresArg: Check = (v, args) => {
  const bad = intArg(v, args);
  if (bad !== undefined) return bad;
  const n = integerOf(v)!;
  if (n === 0n) return '{value_zero,0}';
  return ttlArg(v, args);
};

const stringArg: Check = (v) => (v.type === 'S' ? undefined : `{unacceptable_type,${erlangTypeName(v.type)}}`);

const oneOf =
  (allowed: readonly string[], reason: (s: string) => string): Check =>
  (v, args) => {
    const bad = stringArg(v, args);
    if (bad !== undefined) return bad;
    const s = amqpStringText(v.value as string);
    return allowed.includes(s) ? undefined : reason(s);
  };

const CHECKS: Partial<Record<string, Check>> = {
  'x-expires': expiresArg,
  'x-message-ttl': ttlArg,
  'x-dead-letter-exchange': stringArg,
  'x-dead-letter-routing-key': (v, args) => {
    const bad = stringArg(v, args);
    if (bad !== undefined) return bad;
    return lookup(args, 'x-dead-letter-exchange') === undefined ? 'routing_key_but_no_dlx_defined' : undefined;
  },
  'x-max-length': nonNegInt,
  'x-max-length-bytes': nonNegInt,
  'x-max-in-memory-length': nonNegInt,
  'x-max-in-memory-bytes': nonNegInt,
  'x-max-priority': (v, args) => {
    const bad = nonNegInt(v, args);
    if (bad !== undefined) return bad;
    const n = integerOf(v)!;
    return n > 255n ? `{max_value_exceeded,${n}}` : undefined;
  },
  'x-overflow': oneOf(['drop-head', 'reject-publish', 'reject-publish-dlx'], () => 'invalid_overflow'),
  'x-queue-mode': oneOf(['default', 'lazy'], (s) => `"unsupported queue mode '${s}'"`),
  'x-single-active-consumer': (v) => (v.type === 't' ? undefined : `{unacceptable_type,${erlangTypeName(v.type)}}`),
  'x-queue-type': oneOf(['classic', 'quorum', 'stream'], (s) => `"unsupported queue type '${s}'"`),
};

/**
 * Validates a new queue's arguments as queue.declare does (first failure wins, in
 * declare_args order). The dead-letter exchange's type is checked first, by the channel.
 */
export function validateQueueArguments(queue: string, vhost: string, args: FieldTable, durable: boolean): void {
  const resource = resourceName('queue', queue, vhost);
  const dlx = lookup(args, 'x-dead-letter-exchange');
  if (dlx !== undefined && dlx.type !== 'S') {
    throw AmqpError.of('PRECONDITION_FAILED', `invalid type '${erlangTypeName(dlx.type)}' for arg 'x-dead-letter-exchange' in ${resource}`);
  }
  for (const key of QUEUE_ARGUMENT_KEYS) {
    const v = lookup(args, key);
    const check = CHECKS[key];
    if (v === undefined || check === undefined) continue;
    const reason = check(v, args);
    if (reason !== undefined) throw AmqpError.of('PRECONDITION_FAILED', `invalid arg '${key}' for ${resource}: ${reason}`);
  }
  const type = lookup(args, 'x-queue-type');
  if (type !== undefined && type.type === 'S' && amqpStringText(type.value) !== 'classic' && !durable) {
    throw AmqpError.of('PRECONDITION_FAILED', `invalid property 'non-durable' for ${resource}`);
  }
}

/** Consumer arguments (basic.consume): `x-priority` must be an integer. */
export function consumerPriority(queue: string, vhost: string, args: FieldTable | undefined): number {
  const v = lookup(args, 'x-priority');
  if (v === undefined) return 0;
  const bad = intArg(v, args ?? { entries: [] });
  if (bad !== undefined) throw AmqpError.of('PRECONDITION_FAILED', `invalid arg 'x-priority' for ${resourceName('queue', queue, vhost)}: ${bad}`);
  return Number(integerOf(v));
}

/** Redeclaring with no x-queue-type equals declaring a classic queue. */
export function withDefaultQueueType(args: FieldTable): FieldTable {
  return lookup(args, 'x-queue-type') === undefined ? { entries: [...args.entries, ['x-queue-type', { type: 'S', value: 'classic' }]] } : args;
}

function num(args: FieldTable, key: string): number | undefined {
  const v = lookup(args, key);
  const n = v === undefined ? undefined : integerOf(v);
  if (n === undefined) return undefined;
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

function str(args: FieldTable, key: string): string | undefined {
  const v = lookup(args, key);
  return v !== undefined && v.type === 'S' ? amqpStringText(v.value) : undefined;
}

/** The settings of a queue whose arguments passed validation. */
export function queueSettings(args: FieldTable): QueueSettings {
  const settings: {
    -readonly [K in keyof QueueSettings]: QueueSettings[K];
  } = {
    overflow: (str(args, 'x-overflow') as OverflowBehaviour | undefined) ?? 'drop-head',
    singleActiveConsumer: lookup(args, 'x-single-active-consumer')?.value === true,
    queueMode: (str(args, 'x-queue-mode') as 'default' | 'lazy' | undefined) ?? 'default',
    queueType: (str(args, 'x-queue-type') as 'classic' | 'quorum' | 'stream' | undefined) ?? 'classic',
  };
  const ttl = num(args, 'x-message-ttl');
  if (ttl !== undefined) settings.messageTtl = ttl;
  const expires = num(args, 'x-expires');
  if (expires !== undefined) settings.expires = expires;
  const dlx = str(args, 'x-dead-letter-exchange');
  if (dlx !== undefined) settings.deadLetterExchange = dlx;
  const dlrk = str(args, 'x-dead-letter-routing-key');
  if (dlrk !== undefined) settings.deadLetterRoutingKey = dlrk;
  const maxLength = num(args, 'x-max-length');
  if (maxLength !== undefined) settings.maxLength = maxLength;
  const maxBytes = num(args, 'x-max-length-bytes');
  if (maxBytes !== undefined) settings.maxLengthBytes = maxBytes;
  const maxPriority = num(args, 'x-max-priority');
  if (maxPriority !== undefined) settings.maxPriority = maxPriority;
  return settings;
}
