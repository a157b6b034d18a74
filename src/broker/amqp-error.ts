// Channel and connection exceptions raised by the broker model, worded as RabbitMQ words them.

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

/** RabbitMQ's resource naming: `queue 'q' in vhost '/'`. */
export function resourceName(kind: 'queue' | 'exchange', name: string, vhost: string): string {
  return `${kind} '${name}' in vhost '${vhost}'`;
}

export const notFound = (kind: 'queue' | 'exchange', name: string, vhost: string): AmqpError =>
  AmqpError.of('NOT_FOUND', `no ${resourceName(kind, name, vhost)}`);

export const defaultExchangeRefused = (): AmqpError =>
  AmqpError.of('ACCESS_REFUSED', 'operation not permitted on the default exchange');

export const queueLocked = (name: string, vhost: string): AmqpError =>
  AmqpError.of(
    'RESOURCE_LOCKED',
    `cannot obtain exclusive access to locked ${resourceName('queue', name, vhost)}. ` +
      'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.',
  );

export const unknownDeliveryTag = (tag: bigint | number): AmqpError =>
  AmqpError.of('PRECONDITION_FAILED', `unknown delivery tag ${tag}`);
