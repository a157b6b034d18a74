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

/**
 * One channel's message in progress. Kept per channel and reused (a Map set and delete per
 * message made the map rehash and allocate constantly); `method` undefined means idle.
 */
interface PendingContent {
  method: DecodedMethod | undefined;
  header: DecodedContentHeader | undefined;
  bodySize: number;
  received: number;
  /** the body when it came in one frame (the common case: no array) */
  firstPart: Uint8Array | undefined;
  /** every part, once a second one came */
  parts: Uint8Array[] | undefined;
  frames: number[];
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
    let current = this.pending.get(channel);
    const method = current?.method;
    switch (frame.type) {
      case 'method': {
        if (method !== undefined) {
          this.reset(current!);
          return this.unexpected(
            `${frame.method.name} on channel ${channel} while ${method.name} awaits its ${current!.header ? 'body' : 'content header'}`,
            offset,
            frame,
          );
        }
        if (!frame.method.spec.content) return undefined;
        if (current === undefined) {
          current = { method: undefined, header: undefined, bodySize: 0, received: 0, firstPart: undefined, parts: undefined, frames: [] };
          this.pending.set(channel, current);
        }
        current.method = frame.method;
        current.frames = [id];
        return undefined;
      }
      case 'header': {
        if (method === undefined || current!.header !== undefined) {
          if (method !== undefined) this.reset(current!);
          return this.unexpected(`content header on channel ${channel} without a content method before it`, offset, frame);
        }
        const pending = current!;
        if (frame.header.classId !== method.classId) {
          this.reset(pending);
          return this.unexpected(
            `content header of class ${frame.header.classId} after ${method.name} on channel ${channel}`,
            offset,
            frame,
          );
        }
        if (frame.header.bodySize > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.reset(pending);
          return this.unexpected(`body-size ${frame.header.bodySize} on channel ${channel} is beyond what can be assembled`, offset, frame);
        }
        pending.header = frame.header;
        pending.bodySize = Number(frame.header.bodySize);
        pending.frames.push(id);
        return pending.bodySize === 0 ? this.complete(channel, pending) : undefined;
      }
      case 'body': {
        if (method === undefined || current!.header === undefined) {
          if (method !== undefined) this.reset(current!);
          return this.unexpected(`body frame on channel ${channel} without a content header before it`, offset, frame);
        }
        const pending = current!;
        pending.received += frame.body.length;
        if (pending.received > pending.bodySize) {
          this.reset(pending);
          return this.unexpected(
            `body frames on channel ${channel} carry ${pending.received} bytes, more than the header's body-size ${pending.bodySize}`,
            offset,
            frame,
          );
        }
        if (pending.firstPart === undefined) pending.firstPart = frame.body;
        else (pending.parts ??= [pending.firstPart]).push(frame.body);
        pending.frames.push(id);
        return pending.received === pending.bodySize ? this.complete(channel, pending) : undefined;
      }
    }
  }

  /** Forget a channel's partial message (channel closed). */
  resetChannel(channel: number): void {
    const pending = this.pending.get(channel);
    if (pending !== undefined) this.reset(pending);
  }

  private reset(pending: PendingContent): void {
    pending.method = undefined;
    pending.header = undefined;
    pending.bodySize = 0;
    pending.received = 0;
    pending.firstPart = undefined;
    pending.parts = undefined;
  }

  private complete(channel: number, pending: PendingContent): AssemblyResult {
    const body = pending.parts !== undefined ? joinParts(pending.parts, pending.bodySize) : (pending.firstPart ?? EMPTY);
    const result: AssemblyResult = {
      kind: 'message',
      message: { channel, method: pending.method!, header: pending.header!, body, frames: pending.frames },
    };
    this.reset(pending);
    return result;
  }

  private unexpected(text: string, offset: number, frame: DecodedFrame): AssemblyResult {
    const context = frame.type === 'method'
      ? { channel: frame.channel, classId: frame.method.classId, methodId: frame.method.methodId }
      : { channel: frame.channel };
    return { kind: 'error', error: new DecodeError('unexpected-frame', text, offset, context) };
  }
}

function joinParts(parts: readonly Uint8Array[], size: number): Uint8Array {
  const body = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    body.set(part, at);
    at += part.length;
  }
  return body;
}
