// A message as the broker holds it: publish metadata, content properties (headers kept as
// bytes, see RawFieldTable) and body.

import type { AmqpString, ContentProperties, FieldTable } from '../decoder/types.js';
import { AmqpError } from './amqp-error.js';
import { heldProperties, RawFieldTable } from './broker-wire.js';
import { amqpStringText, lookup } from './field-values.js';

export interface BrokerMessage {
  /** exchange it was published (or dead-lettered) to */
  readonly exchange: string;
  /** the routing key of the publish (or of the dead-lettering) */
  readonly routingKey: string;
  /** every key it was routed with: `routingKey`, then the `CC` header's keys (RabbitMQ's routing_keys) */
  readonly routingKeys: readonly string[];
  /** basic content properties keyed by the spec's names (`headers`, `expiration`, `priority`, ...) */
  readonly properties: ContentProperties;
  readonly body: Uint8Array;
}

/** The longest TTL RabbitMQ accepts (ten years in ms), for queues and messages alike. */
export const MAX_EXPIRY_MS = 315_360_000_000;

/** The message's headers table; one that a queue holds decodes on each read of `entries`. */
export function messageHeaders(message: BrokerMessage): FieldTable | undefined {
  return headersOf(message.properties);
}

function headersOf(properties: ContentProperties): FieldTable | undefined {
  const h = properties['headers'];
  return typeof h === 'object' && h !== null && !(h instanceof Uint8Array) ? h : undefined;
}

/** Sender-selected distribution keys (`CC` or `BCC` header): arrays of longstr only, as RabbitMQ reads them. */
export function headerRoutes(headers: FieldTable | undefined, key: 'CC' | 'BCC'): string[] {
  const v = lookup(headers, key);
  if (v === undefined || v.type !== 'A') return [];
  const keys: string[] = [];
  for (const item of v.value) if (item.type === 'S') keys.push(amqpStringText(item.value));
  return keys;
}

/**
 * A published message, in the form queues hold it (see `heldProperties`): its routing keys
 * gain the CC/BCC keys, and BCC leaves the headers (RabbitMQ never shows BCC to consumers).
 * `headers` is the message's headers decoded once, for routing (headers exchanges).
 */
export function publishedMessage(
  exchange: string,
  routingKey: string,
  properties: ContentProperties,
  body: Uint8Array,
): { message: BrokerMessage; bccKeys: string[]; headers: FieldTable | undefined } {
  const given = headersOf(properties);
  // one decode for every reader below: a held table decodes on each read
  let headers = given instanceof RawFieldTable ? { entries: given.entries } : given;
  const cc = headerRoutes(headers, 'CC');
  const bcc = headerRoutes(headers, 'BCC');
  let props = properties;
  if (headers?.entries.some(([k]) => k === 'BCC')) {
    headers = { entries: headers.entries.filter(([k]) => k !== 'BCC') };
    props = { ...properties, headers };
  }
  const message = { exchange, routingKey, routingKeys: [routingKey, ...cc], properties: heldProperties(props, body.length), body };
  return { message, bccKeys: bcc, headers };
}

/**
 * The per-message TTL from the `expiration` property, in ms; undefined when absent.
 * Throws RabbitMQ's 406 for a value it refuses (checked at publish).
 */
export function parseExpiration(expiration: AmqpString | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  const text = amqpStringText(expiration);
  // Erlang's string:to_integer: optional sign then digits, no leading blanks
  const m = /^([+-]?\d+)(.*)$/s.exec(text);
  const fail = (reason: string): never => {
    throw AmqpError.of('PRECONDITION_FAILED', `invalid expiration '${text}': ${reason}`);
  };
  if (m === null) return fail('no_integer');
  const rest = m[2]!;
  if (rest !== '') return fail(`{leftover_string,${JSON.stringify(rest)}}`);
  const n = BigInt(m[1]!);
  if (n < 0n) return fail(`{value_negative,${n}}`);
  if (n > BigInt(MAX_EXPIRY_MS)) return fail(`{value_too_large,${n}}`);
  return Number(n);
}

export function messagePriority(message: BrokerMessage): number {
  const p = message.properties['priority'];
  return typeof p === 'number' ? p : 0;
}
