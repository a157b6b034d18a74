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

/** A message cut short (see MessageAssembler.cut): what came of it. */
export interface PartialMessage {
  readonly channel: number;
  readonly method: DecodedMethod;
  /** absent when it was cut before its content header */
  readonly header: DecodedContentHeader | undefined;
  /** the body so far */
  readonly body: Uint8Array;
  readonly frames: readonly number[];
}

export type AssemblyResult = { readonly kind: 'message'; readonly message: AssembledMessage } | { readonly kind: 'error'; readonly error: DecodeError };

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
  /**
   * After a cut: the body bytes of the cut message still to come, taken as frames only;
   * AWAIT_HEADER when its header is still to come too; 0 when not discarding
   */
  discard: number;
}

const AWAIT_HEADER = -1;

/** A channel's state while a message is in progress. */
type ActiveContent = PendingContent & { method: DecodedMethod };

const EMPTY = new Uint8Array(0);

export class MessageAssembler {
  private readonly pending = new Map<number, PendingContent>();
  /**
   * After frames were skipped (`skipGap`): the channels that have had a method since. Until
   * then a channel's header and body frames belong to a message whose start was skipped.
   */
  private resynced: Set<number> | undefined;

  /**
   * Feeds one decoded frame. Returns a message when one is complete, an error when the
   * frame is out of place on its channel (that channel's partial message is dropped), or
   * undefined. `id` is what the message lists in `frames`; `offset` locates errors.
   */
  push(frame: DecodedFrame, id: number, offset: number): AssemblyResult | undefined {
    if (frame.type === 'heartbeat') return undefined;
    const channel = frame.channel;
    if (this.resynced !== undefined && !this.resynced.has(channel)) {
      if (frame.type !== 'method') return undefined;
      this.resynced.add(channel);
    }
    const current = this.pending.get(channel);
    if (current !== undefined && current.discard !== 0) {
      if (frame.type !== 'method') {
        this.discard(current, frame);
        return undefined;
      }
      current.discard = 0; // the rest of the cut message never came
    }
    // the channel's message in progress, if one is
    const active = current?.method !== undefined ? (current as ActiveContent) : undefined;
    switch (frame.type) {
      case 'method': {
        if (active !== undefined) {
          const awaited = active.header ? 'body' : 'content header';
          const name = active.method.name;
          this.reset(active);
          return this.unexpected(`${frame.method.name} on channel ${channel} while ${name} awaits its ${awaited}`, offset, frame);
        }
        if (!frame.method.spec.content) return undefined;
        const pending = current ?? this.idle(channel);
        pending.method = frame.method;
        pending.frames = [id];
        return undefined;
      }
      case 'header': {
        if (active === undefined || active.header !== undefined) {
          if (active !== undefined) this.reset(active);
          return this.unexpected(`content header on channel ${channel} without a content method before it`, offset, frame);
        }
        if (frame.header.classId !== active.method.classId) {
          this.reset(active);
          return this.unexpected(`content header of class ${frame.header.classId} after ${active.method.name} on channel ${channel}`, offset, frame);
        }
        if (frame.header.bodySize > BigInt(Number.MAX_SAFE_INTEGER)) {
          this.reset(active);
          return this.unexpected(`body-size ${frame.header.bodySize} on channel ${channel} is beyond what can be assembled`, offset, frame);
        }
        active.header = frame.header;
        active.bodySize = Number(frame.header.bodySize);
        active.frames.push(id);
        return active.bodySize === 0 ? this.complete(channel, active) : undefined;
      }
      case 'body': {
        if (active === undefined || active.header === undefined) {
          if (active !== undefined) this.reset(active);
          return this.unexpected(`body frame on channel ${channel} without a content header before it`, offset, frame);
        }
        active.received += frame.body.length + (frame.omitted ?? 0);
        if (active.received > active.bodySize) {
          this.reset(active);
          return this.unexpected(
            `body frames on channel ${channel} carry ${active.received} bytes, more than the header's body-size ${active.bodySize}`,
            offset,
            frame,
          );
        }
        if (active.firstPart === undefined) active.firstPart = frame.body;
        else (active.parts ??= [active.firstPart]).push(frame.body);
        active.frames.push(id);
        return active.received === active.bodySize ? this.complete(channel, active) : undefined;
      }
    }
  }

  /** A new idle state for a channel's first message. */
  private idle(channel: number): PendingContent {
    const pending: PendingContent = {
      method: undefined,
      header: undefined,
      bodySize: 0,
      received: 0,
      firstPart: undefined,
      parts: undefined,
      frames: [],
      discard: 0,
    };
    this.pending.set(channel, pending);
    return pending;
  }

  /**
   * Whole frames of the stream were skipped: every message in progress is forgotten, and a
   * channel's header and body frames before its next method are taken as frames only (the
   * method that began their message was skipped), not as errors.
   */
  skipGap(): void {
    for (const pending of this.pending.values()) {
      this.reset(pending);
      pending.discard = 0;
    }
    this.resynced = new Set();
  }

  /** Forget a channel's partial message (channel closed). */
  resetChannel(channel: number): void {
    const pending = this.pending.get(channel);
    if (pending !== undefined) {
      this.reset(pending);
      pending.discard = 0;
    }
  }

  /**
   * Cuts the channel's message in progress short (its channel is being closed): returns
   * what came of it, if one was in progress, and takes the frames of it still to come as
   * frames only, not as a message or an error.
   */
  cut(channel: number): PartialMessage | undefined {
    const pending = this.pending.get(channel);
    if (pending?.method === undefined) return undefined;
    const body = pending.parts !== undefined ? joinParts(pending.parts, pending.received) : (pending.firstPart ?? EMPTY);
    const partial: PartialMessage = { channel, method: pending.method, header: pending.header, body, frames: pending.frames };
    const remaining = pending.header === undefined ? AWAIT_HEADER : pending.bodySize - pending.received;
    this.reset(pending);
    pending.discard = remaining;
    return partial;
  }

  /** Cuts every channel's message in progress (the connection is being closed), in channel order. */
  cutAll(): PartialMessage[] {
    const cut: PartialMessage[] = [];
    for (const channel of [...this.pending.keys()].sort((a, b) => a - b)) {
      const partial = this.cut(channel);
      if (partial !== undefined) cut.push(partial);
    }
    return cut;
  }

  /** A header or body frame of a cut message: counted off, never assembled. */
  private discard(pending: PendingContent, frame: DecodedFrame): void {
    if (frame.type === 'header') {
      pending.discard = pending.discard === AWAIT_HEADER && frame.header.bodySize <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(frame.header.bodySize) : 0;
    } else if (frame.type === 'body') {
      pending.discard = pending.discard === AWAIT_HEADER ? 0 : Math.max(0, pending.discard - frame.body.length);
    }
  }

  private reset(pending: PendingContent): void {
    pending.method = undefined;
    pending.header = undefined;
    pending.bodySize = 0;
    pending.received = 0;
    pending.firstPart = undefined;
    pending.parts = undefined;
  }

  private complete(channel: number, pending: ActiveContent): AssemblyResult {
    const body = pending.parts !== undefined ? joinParts(pending.parts, pending.bodySize) : (pending.firstPart ?? EMPTY);
    const result: AssemblyResult = {
      kind: 'message',
      message: { channel, method: pending.method, header: pending.header!, body, frames: pending.frames },
    };
    this.reset(pending);
    return result;
  }

  private unexpected(text: string, offset: number, frame: DecodedFrame): AssemblyResult {
    const context =
      frame.type === 'method' ? { channel: frame.channel, classId: frame.method.classId, methodId: frame.method.methodId } : { channel: frame.channel };
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
