// Per-channel message assembly: a content method, one header frame and as many body frames
// as the header's body-size takes become one message. Frames of other channels may
// interleave; frames of the same channel may not (a broker answers that with 505).

import { DecodeError } from './errors.js';
import type { DecodedContentHeader, DecodedFrame, DecodedMethod } from './types.js';

export interface AssembledMessage {
  readonly channel: number;
  readonly method: DecodedMethod;
  readonly header: DecodedContentHeader;
  /** one view when the body came in one frame, else the frames' bytes joined once */
  readonly body: Uint8Array;
  /** the caller's ids (e.g. event seqs) of the method, header and body frames, in order */
  readonly frames: readonly number[];
}

export type AssemblyResult =
  | { readonly kind: 'message'; readonly message: AssembledMessage }
  | { readonly kind: 'error'; readonly error: DecodeError };

interface PendingContent {
  readonly method: DecodedMethod;
  header: DecodedContentHeader | undefined;
  bodySize: number;
  received: number;
  readonly parts: Uint8Array[];
  readonly frames: number[];
}

const EMPTY = new Uint8Array(0);

export class MessageAssembler {
  private readonly pending = new Map<number, PendingContent>();

  /**
   * Feeds one decoded frame. Returns a message when one is complete, an error when the
   * frame is out of place on its channel (that channel's partial message is dropped), or
   * undefined. `id` is what the message lists in `frames`; `offset` locates errors.
   */
  push(frame: DecodedFrame, id: number, offset: number): AssemblyResult | undefined {
    if (frame.type === 'heartbeat') return undefined;
    const channel = frame.channel;
    const current = this.pending.get(channel);
    switch (frame.type) {
      case 'method': {
        if (current !== undefined) {
          this.pending.delete(channel);
          return this.unexpected(
            `${frame.method.name} on channel ${channel} while ${current.method.name} awaits its ${current.header ? 'body' : 'content header'}`,
            offset,
            frame,
          );
        }
        if (!frame.method.spec.content) return undefined;
        this.pending.set(channel, { method: frame.method, header: undefined, bodySize: 0, received: 0, parts: [], frames: [id] });
        return undefined;
      }
      case 'header': {
        if (current === undefined || current.header !== undefined) {
          if (current !== undefined) this.pending.delete(channel);
          return this.unexpected(`content header on channel ${channel} without a content method before it`, offset, frame);
        }
        if (frame.header.classId !== current.method.classId) {
          this.pending.delete(channel);
          return this.unexpected(
            `content header of class ${frame.header.classId} after ${current.method.name} on channel ${channel}`,
            offset,
            frame,
          );
        }
        if (frame.header.bodySize > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.pending.delete(channel);
          return this.unexpected(`body-size ${frame.header.bodySize} on channel ${channel} is beyond what can be assembled`, offset, frame);
        }
        current.header = frame.header;
        current.bodySize = Number(frame.header.bodySize);
        current.frames.push(id);
        return current.bodySize === 0 ? this.complete(channel, current) : undefined;
      }
      case 'body': {
        if (current === undefined || current.header === undefined) {
          if (current !== undefined) this.pending.delete(channel);
          return this.unexpected(`body frame on channel ${channel} without a content header before it`, offset, frame);
        }
        current.received += frame.body.length;
        if (current.received > current.bodySize) {
          this.pending.delete(channel);
          return this.unexpected(
            `body frames on channel ${channel} carry ${current.received} bytes, more than the header's body-size ${current.bodySize}`,
            offset,
            frame,
          );
        }
        current.parts.push(frame.body);
        current.frames.push(id);
        return current.received === current.bodySize ? this.complete(channel, current) : undefined;
      }
    }
  }

  /** Forget a channel's partial message (channel closed). */
  resetChannel(channel: number): void {
    this.pending.delete(channel);
  }

  private complete(channel: number, pending: PendingContent): AssemblyResult {
    this.pending.delete(channel);
    return {
      kind: 'message',
      message: {
        channel,
        method: pending.method,
        header: pending.header!,
        body: joinParts(pending.parts, pending.bodySize),
        frames: pending.frames,
      },
    };
  }

  private unexpected(text: string, offset: number, frame: DecodedFrame): AssemblyResult {
    const context = frame.type === 'method'
      ? { channel: frame.channel, classId: frame.method.classId, methodId: frame.method.methodId }
      : { channel: frame.channel };
    return { kind: 'error', error: new DecodeError('unexpected-frame', text, offset, context) };
  }
}

function joinParts(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 0) return EMPTY;
  if (parts.length === 1) return parts[0]!;
  const body = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return body;
}
