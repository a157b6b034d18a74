// Channel and connection exceptions raised by the broker model, worded as RabbitMQ words them.

import type { AmqpString } from '../decoder/types.js';

/** AMQP 0-9-1 reply codes (RabbitMQ's spec constants). */
export const ReplyCode = {
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export type ReplyCodeName = keyof typeof ReplyCode;

/** Codes the spec marks as connection (hard) errors; the rest close only the channel. */
const HARD_CODES: ReadonlySet<number> = new Set([320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541]);

export function isHardReplyCode(code: number): boolean {
  return HARD_CODES.has(code);
}

/**
 * An AMQP exception: the protocol layer answers it with channel.close (soft) or
 * connection.close (hard), using `replyCode`, `replyText` and the class/method that failed.
 */
export class AmqpError extends Error {
  /** class id of the method that caused it; set by the protocol layer */
  classId?: number;
  /** method id of the method that caused it; set by the protocol layer */
  methodId?: number;

  constructor(
    readonly replyCode: number,
    /** the full text sent on the wire, e.g. `NOT_FOUND - no queue 'q' in vhost '/'` */
    readonly replyText: string,
    readonly hard: boolean = isHardReplyCode(replyCode),
  ) {
    super(replyText);
    this.name = new.target.name;
  }

  /** Records the method that failed (the protocol layer knows it, the model doesn't). */
  at(classId: number, methodId: number): this {
    this.classId = classId;
    this.methodId = methodId;
    return this;
  }

  /** Builds an error from a reply-code name and the text after RabbitMQ's `NAME - ` prefix. */
  static of(name: ReplyCodeName, text: string): AmqpError {
    return new AmqpError(ReplyCode[name], `${name} - ${text}`);
  }
}

/** Erlang's rendering of a binary, as RabbitMQ's frame error texts show payloads. */
export function erlangBinary(bytes: Uint8Array): string {
  // a reply text holds 255 bytes: rendering more than that many bytes would be cut anyway
  const shown = bytes.length > 255 ? bytes.subarray(0, 255) : bytes;
  return `<<${Array.from(shown).join(',')}${shown.length < bytes.length ? ',...' : ''}>>`;
}

/** RabbitMQ's `payload_snippet`: all octets up to 16, else the first 16. */
export function payloadSnippet(payload: Uint8Array): string {
  return payload.length <= 16 ? `all octets = ${erlangBinary(payload)}` : `first 16 octets = ${erlangBinary(payload.subarray(0, 16))}`;
}

/** A frame RabbitMQ's reader cannot even split into its parts (a method shorter than its ids, a heartbeat with a payload). */
export const unknownFrame = (type: number, payload: Uint8Array): AmqpError =>
  AmqpError.of('FRAME_ERROR', `type ${type}, ${payloadSnippet(payload)}: unknown_frame`);

/**
 * Method arguments that do not decode (truncated, bytes left after them, a string or table
 * running past the end): RabbitMQ shows the argument bytes, after the class and method ids.
 */
export const cannotDecode = (classId: number, methodId: number, fields: Uint8Array): AmqpError =>
  AmqpError.of('FRAME_ERROR', `cannot decode ${erlangBinary(fields)}`).at(classId, methodId);

/** A reply text as RabbitMQ sends it: over 255 bytes, the first 252 and "...". */
export function replyTextOnWire(text: string): AmqpString {
  if (text.length <= 85 || Buffer.byteLength(text) <= 255) return text;
  return Buffer.concat([Buffer.from(text).subarray(0, 252), Buffer.from('...')]);
}

/** RabbitMQ's resource naming: `queue 'q' in vhost '/'`. */
export function resourceName(kind: 'queue' | 'exchange', name: string, vhost: string): string {
  return `${kind} '${name}' in vhost '${vhost}'`;
}

export const notFound = (kind: 'queue' | 'exchange', name: string, vhost: string): AmqpError =>
  AmqpError.of('NOT_FOUND', `no ${resourceName(kind, name, vhost)}`);

export const defaultExchangeRefused = (): AmqpError => AmqpError.of('ACCESS_REFUSED', 'operation not permitted on the default exchange');

export const queueLocked = (name: string, vhost: string): AmqpError =>
  AmqpError.of(
    'RESOURCE_LOCKED',
    `cannot obtain exclusive access to locked ${resourceName('queue', name, vhost)}. ` +
      'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.',
  );

export const unknownDeliveryTag = (tag: bigint | number): AmqpError => AmqpError.of('PRECONDITION_FAILED', `unknown delivery tag ${tag}`);
