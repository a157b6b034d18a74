// A channel's content assembly for basic.publish: the method, one content header, then body
// frames until the header's body-size, as RabbitMQ's command assembler does it (and with its
// error texts). Only the framing is judged here; what a publish means is the channel's.

import { decodeContentHeader } from '../decoder/content-header.js';
import type { ContentProperties, DecodedContentHeader } from '../decoder/types.js';
import { AmqpError, unknownFrame } from './amqp-error.js';
import { isEmptyHeader, NO_PROPERTIES, readShortString, withRawHeader } from './broker-wire.js';
import type { ChannelHost } from './channel-host.js';

const EXPECT_METHOD = 0;
const EXPECT_HEADER = 1;
const EXPECT_BODY = 2;

const EMPTY = new Uint8Array(0);
/** Bodies and headers up to this size are copied into the connection's arena (see BrokerConnection.copySmall). */
const SMALL_BODY = 512;

/** A whole basic.publish: method, header and body. */
export interface PublishCommand {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly properties: ContentProperties;
  readonly body: Uint8Array;
}

interface PendingPublish extends PublishCommand {
  properties: ContentProperties;
  body: Uint8Array;
  bodySize: number;
  received: number;
  /** body frames so far, when the body spans several */
  parts: Uint8Array[] | null;
}

export class PublishAssembler {
  private expect = EXPECT_METHOD;
  private pending: PendingPublish | undefined;
  // the previous publish's exchange and routing key, as bytes and strings
  private lastExchange = '';
  private lastExchangeBytes = EMPTY;
  private lastKey = '';
  private lastKeyBytes = EMPTY;

  constructor(private readonly host: ChannelHost) {}

  /** Between publishes: the next frame must be a method. */
  get awaitsMethod(): boolean {
    return this.expect === EXPECT_METHOD;
  }

  /** RabbitMQ's command assembler texts for a frame of the wrong type. */
  unexpected(): AmqpError {
    if (this.expect === EXPECT_HEADER) {
      return new AmqpError(505, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead').at(60, 40);
    }
    if (this.expect === EXPECT_BODY) {
      return new AmqpError(505, 'UNEXPECTED_FRAME - expected content body, got non content body frame instead').at(60, 40);
    }
    return new AmqpError(505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead');
  }

  /** Parses a basic.publish payload in place and begins it; false when it needs the generic decoder. */
  fastPublish(p: Uint8Array): boolean {
    const n = p.length;
    let at = 6; // class, method, ticket
    const exLen = p[at]!;
    if (at + 1 + exLen + 1 > n) return false;
    const exchange = sameBytes(p, at + 1, exLen, this.lastExchangeBytes) ? this.lastExchange : this.rememberExchange(p, at + 1, exLen);
    at += 1 + exLen;
    const rkLen = p[at]!;
    if (at + 1 + rkLen + 1 !== n) return false;
    // publishers mostly repeat their routing key: reuse the string (less garbage, less memory per queued message)
    const routingKey = sameBytes(p, at + 1, rkLen, this.lastKeyBytes) ? this.lastKey : this.rememberKey(p, at + 1, rkLen);
    at += 1 + rkLen;
    const bits = p[at]!;
    this.begin(exchange, routingKey, (bits & 1) === 1, (bits & 2) === 2);
    return true;
  }

  private rememberExchange(p: Uint8Array, at: number, len: number): string {
    this.lastExchangeBytes = p.slice(at, at + len);
    return (this.lastExchange = readShortString(p, at, len));
  }

  private rememberKey(p: Uint8Array, at: number, len: number): string {
    this.lastKeyBytes = p.slice(at, at + len);
    return (this.lastKey = readShortString(p, at, len));
  }

  /** basic.publish: a content header comes next. */
  begin(exchange: string, routingKey: string, mandatory: boolean, immediate: boolean): void {
    if (immediate) throw new AmqpError(540, 'NOT_IMPLEMENTED - immediate=true').at(60, 40);
    this.pending = { exchange, routingKey, mandatory, properties: NO_PROPERTIES, body: EMPTY, bodySize: 0, received: 0, parts: null };
    this.expect = EXPECT_HEADER;
  }

  /** A content header frame; returns the publish when its body is empty. */
  header(payload: Uint8Array): PublishCommand | undefined {
    if (this.expect !== EXPECT_HEADER) throw this.unexpected();
    checkContentHeader(payload);
    const pending = this.pending!;
    let size: number;
    if (isEmptyHeader(payload) && payload[0] === 0 && payload[1] === 60) {
      // no properties: nothing to decode or keep
      size =
        (((payload[4]! << 24) | (payload[5]! << 16) | (payload[6]! << 8) | payload[7]!) >>> 0) * 0x100000000 +
        (((payload[8]! << 24) | (payload[9]! << 16) | (payload[10]! << 8) | payload[11]!) >>> 0);
      pending.properties = NO_PROPERTIES;
    } else {
      let header: DecodedContentHeader;
      try {
        header = decodeContentHeader(payload);
      } catch (e) {
        // RabbitMQ's properties parser crashes on these: 541, no class or method
        throw AmqpError.of('INTERNAL_ERROR', `cannot decode the content header: ${(e as Error).message}`);
      }
      size = Number(header.bodySize);
      pending.properties = withRawHeader(header.properties, payload.length <= SMALL_BODY ? this.host.copySmall(payload) : payload);
    }
    const max = this.host.broker.maxMessageSize;
    if (size > max) {
      this.reset();
      throw AmqpError.of('PRECONDITION_FAILED', `message size ${size} is larger than configured max size ${max}`).at(60, 40);
    }
    pending.bodySize = size;
    if (size === 0) {
      this.reset();
      return pending;
    }
    this.expect = EXPECT_BODY;
    return undefined;
  }

  /** A content body frame; returns the publish once its body is whole. */
  body(payload: Uint8Array): PublishCommand | undefined {
    if (this.expect !== EXPECT_BODY) throw this.unexpected();
    const pending = this.pending!;
    pending.received += payload.length;
    if (pending.received > pending.bodySize) {
      throw new AmqpError(505, `UNEXPECTED_FRAME - content body of ${pending.received} bytes exceeds the header's body-size ${pending.bodySize}`).at(60, 40);
    }
    if (pending.received < pending.bodySize) {
      (pending.parts ??= []).push(payload);
      return undefined;
    }
    this.reset();
    if (pending.parts !== null) {
      pending.parts.push(payload);
      const body = new Uint8Array(pending.bodySize);
      let at = 0;
      for (const part of pending.parts) {
        body.set(part, at);
        at += part.length;
      }
      pending.body = body;
    } else {
      // a small body is copied out of the socket chunk so a queued message doesn't keep the chunk alive
      pending.body = payload.length <= SMALL_BODY ? this.host.copySmall(payload) : payload;
    }
    return pending;
  }

  /** Drops a publish in progress (channel closing, or its header refused). */
  reset(): void {
    this.expect = EXPECT_METHOD;
    this.pending = undefined;
  }
}

/** RabbitMQ's command assembler checks, before any property is read. */
function checkContentHeader(payload: Uint8Array): void {
  // class, weight and body size: shorter is no frame RabbitMQ's reader knows
  if (payload.length < 12) throw unknownFrame(2, payload);
  if (payload[2] !== 0 || payload[3] !== 0) {
    throw new AmqpError(505, 'UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead').at(60, 40);
  }
  const classId = (payload[0]! << 8) | payload[1]!;
  if (classId !== 60) {
    throw new AmqpError(505, `UNEXPECTED_FRAME - expected content header for class 60, got one for class ${classId} instead`).at(60, 40);
  }
}

function sameBytes(p: Uint8Array, at: number, len: number, previous: Uint8Array): boolean {
  if (previous.length !== len) return false;
  for (let i = 0; i < len; i++) if (p[at + i] !== previous[i]) return false;
  return true;
}
