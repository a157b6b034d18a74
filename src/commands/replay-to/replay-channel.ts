// One channel of a replayed connection: the server methods each side sent, waiting to be
// paired in order (replies apart from unasked deliveries), with their content assembled.

import type { DecodedContentHeader, DecodedFrame, DecodedMethod } from '../../decoder/types.js';
import { ChannelConfirms } from './confirm-log.js';

/** The recording's server frames, or the new server's. */
export type Side = 'recorded' | 'fresh';

/** A server method with its content, when it has some. */
export interface ServerItem {
  readonly method: DecodedMethod;
  readonly line?: number;
  header?: DecodedContentHeader;
  readonly body: Uint8Array[];
  received: number;
  complete: boolean;
}

interface Stream {
  readonly recorded: ServerItem[];
  readonly fresh: ServerItem[];
}

/** Server methods that come unasked (deliveries, returns) are matched apart from replies. */
const ASYNC_METHODS = new Set(['basic.deliver', 'basic.return']);

export class ReplayChannel {
  private readonly sync: Stream = { recorded: [], fresh: [] };
  private readonly async: Stream = { recorded: [], fresh: [] };
  /** the item receiving content frames, per side */
  private readonly content: Record<Side, ServerItem | undefined> = { recorded: undefined, fresh: undefined };
  /** recorded delivery tag → the new server's */
  readonly deliveryTags = new Map<bigint, bigint>();
  readonly confirms = new ChannelConfirms();
  /** the last request the client sent, to tell which names the server chose */
  lastRequest: DecodedMethod | undefined;
  /** diverged: its recorded frames are dropped until the client opens it again */
  dead = false;
  /** we closed it ourselves and await the new server's close-ok */
  awaitingCloseOk = false;

  /** Nothing recorded is still awaited from the new server. */
  settled(): boolean {
    if (this.awaitingCloseOk) return false;
    if (this.dead) return true;
    return this.sync.recorded.length === 0 && this.async.recorded.length === 0 && this.confirms.caughtUp();
  }

  /** A server method (not a confirm) into its side's stream; content frames that follow fill it. */
  addMethod(side: Side, method: DecodedMethod, line: number | undefined): void {
    const item: ServerItem = { method, ...(line !== undefined ? { line } : {}), body: [], received: 0, complete: !method.spec.content };
    (ASYNC_METHODS.has(method.name) ? this.async : this.sync)[side].push(item);
    // An unasked-for close waits for the recorded frame at its place: the server discards
    // what the client sends meanwhile (0-9-1 §4.2.6 / channel.close), so no harm is done.
    this.content[side] = method.spec.content ? item : undefined;
  }

  /** A content header or body frame; false when no method on that side awaits content. */
  addContent(side: Side, frame: Extract<DecodedFrame, { type: 'header' | 'body' }>): boolean {
    const item = this.content[side];
    if (!item) return false;
    if (frame.type === 'header') {
      item.header = frame.header;
      if (frame.header.bodySize === 0n) item.complete = true;
    } else {
      // the new server's body is a view into a socket chunk: kept as a copy
      item.body.push(side === 'fresh' ? frame.body.slice() : frame.body);
      item.received += frame.body.length;
      if (item.header && BigInt(item.received) >= item.header.bodySize) item.complete = true;
    }
    if (item.complete) this.content[side] = undefined;
    return true;
  }

  /**
   * Recorded and new items in order, replies first then deliveries, while both heads are
   * complete; each stream stops after a pair once `stop()` says so.
   */
  *completePairs(stop: () => boolean): Generator<readonly [ServerItem, ServerItem], void, undefined> {
    for (const stream of [this.sync, this.async]) {
      while (stream.recorded.length > 0 && stream.fresh.length > 0 && stream.recorded[0]!.complete && stream.fresh[0]!.complete) {
        yield [stream.recorded.shift()!, stream.fresh.shift()!];
        if (stop()) break;
      }
    }
  }

  /** The recorded items still awaited, replies first. */
  missing(): ServerItem[] {
    return [...this.sync.recorded, ...this.async.recorded];
  }

  /** The new server's items the recording had no place for, replies first. */
  extras(): ServerItem[] {
    return [...this.sync.fresh, ...this.async.fresh];
  }

  /** The recording no longer applies (it diverged): nothing recorded is awaited. */
  dropRecorded(): void {
    this.sync.recorded.length = 0;
    this.async.recorded.length = 0;
    this.content.recorded = undefined;
  }

  /** The new server closed the channel we closed: what it sent before is answered. */
  dropFresh(): void {
    this.sync.fresh.length = 0;
    this.async.fresh.length = 0;
    this.content.fresh = undefined;
  }
}
