// Finding the next AMQP frame in a byte stream entered at an unknown position: a capture that
// starts mid-connection, or bytes after a segment the capture lost. A position is taken as a
// frame start when its header is plausible (type, channel, size), its frame-end octet (0xCE) is
// where the size says, and what it holds fits its type (a known method, a basic content header;
// a body frame only when the frame after it checks out too). Each position is tried once, so
// the work is linear in the bytes scanned; the bytes held while a candidate waits for its end
// are bounded.

import { methodById } from '../decoder/spec.js';

const FRAME_END = 0xce;
const FRAME_METHOD = 1;
const FRAME_HEADER = 2;
const FRAME_BODY = 3;
const FRAME_HEARTBEAT = 8;
/** RabbitMQ's largest frame-max is 128 KiB by default; a candidate claiming more than this is not taken */
export const MAX_RESYNC_FRAME = 1024 * 1024;
const BASIC_CLASS = 60;
const CONNECTION_CLASS = 10;

/** What a position holds: a frame start, not one, or too few bytes yet to tell. */
const Verdict = { No: 0, Yes: 1, Wait: 2 } as const;
type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** Whether `b[i..]` starts a frame; `final`: no more bytes will come, so a frame must be whole. */
function frameAt(b: Uint8Array, i: number, length: number, final: boolean, chained: boolean): Verdict {
  if (length - i < 1) return final ? Verdict.No : Verdict.Wait;
  const type = b[i]!;
  if (type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY && type !== FRAME_HEARTBEAT) return Verdict.No;
  if (length - i < 7) return final ? Verdict.No : Verdict.Wait;
  const channel = (b[i + 1]! << 8) | b[i + 2]!;
  const size = ((b[i + 3]! << 24) >>> 0) + (b[i + 4]! << 16) + (b[i + 5]! << 8) + b[i + 6]!;
  if (size > MAX_RESYNC_FRAME) return Verdict.No;
  switch (type) {
    case FRAME_HEARTBEAT:
      if (size !== 0 || channel !== 0) return Verdict.No;
      break;
    case FRAME_METHOD: {
      if (size < 4) return Verdict.No;
      if (length - i < 11) return final ? Verdict.No : Verdict.Wait;
      const classId = (b[i + 7]! << 8) | b[i + 8]!;
      const methodId = (b[i + 9]! << 8) | b[i + 10]!;
      if (methodById(classId, methodId) === undefined) return Verdict.No;
      // connection methods go on channel 0, every other class on a channel of its own
      if ((classId === CONNECTION_CLASS) !== (channel === 0)) return Verdict.No;
      break;
    }
    case FRAME_HEADER: {
      if (size < 14 || channel === 0) return Verdict.No;
      if (length - i < 11) return final ? Verdict.No : Verdict.Wait;
      if (((b[i + 7]! << 8) | b[i + 8]!) !== BASIC_CLASS || b[i + 9] !== 0 || b[i + 10] !== 0) return Verdict.No;
      break;
    }
    case FRAME_BODY:
      if (channel === 0) return Verdict.No;
      break;
  }
  const end = i + 7 + size;
  if (length <= end) return final ? Verdict.No : Verdict.Wait;
  if (b[end] !== FRAME_END) return Verdict.No;
  // a body's bytes are anything: it counts only with a checked frame after it
  if (type === FRAME_BODY && !chained) {
    const next = frameAt(b, end + 1, length, final, true);
    if (next === Verdict.Wait && final) return Verdict.No;
    return next;
  }
  return Verdict.Yes;
}

export interface ResyncResult {
  /** bytes dropped before the frame boundary found */
  readonly skipped: number;
  /** the bytes from the boundary on (a view of held bytes, or of the chunk) */
  readonly rest: Uint8Array;
}

/** Holds the bytes of one direction until a frame boundary is found in them. */
export class FrameResync {
  private held = new Uint8Array(0);
  private length = 0;
  /** the next position to try, in `held` */
  private at = 0;
  /** bytes dropped so far (before `held`'s start, and positions tried in it) */
  private dropped = 0;

  constructor(
    /** the most bytes held while a candidate waits for its end; beyond, the oldest go */
    private readonly maxHeld: number,
  ) {}

  /** Bytes held now (for memory accounting). */
  get heldBytes(): number {
    return this.length;
  }

  /** More bytes; the boundary when one is found (then this scanner is done with). */
  push(chunk: Uint8Array): ResyncResult | undefined {
    this.append(chunk);
    return this.scan(false);
  }

  /** No more bytes come (the connection closed): a frame wholly held counts; else everything is dropped. */
  finish(): ResyncResult | undefined {
    const found = this.scan(true);
    if (found) return found;
    this.dropped += this.length;
    this.length = 0;
    this.at = 0;
    return undefined;
  }

  /** Bytes were lost after those held: the held ones cannot join what comes next. */
  discard(): number {
    const n = this.length;
    this.dropped += n;
    this.length = 0;
    this.at = 0;
    return n;
  }

  /** Bytes dropped without a boundary yet (what a result's `skipped` counts so far). */
  get skippedSoFar(): number {
    return this.dropped;
  }

  private scan(final: boolean): ResyncResult | undefined {
    const b = this.held;
    const length = this.length;
    while (this.at < length) {
      const verdict = frameAt(b, this.at, length, final, false);
      if (verdict === Verdict.Yes) {
        const skipped = this.dropped;
        const rest = b.subarray(this.at, length);
        this.held = new Uint8Array(0);
        this.length = 0;
        this.at = 0;
        this.dropped = 0;
        return { skipped, rest };
      }
      if (verdict === Verdict.Wait) {
        // a candidate that would hold more than allowed is given up
        if (length - this.at < this.maxHeld) break;
      }
      this.at++;
      this.dropped++;
    }
    // positions tried are gone for good: keep only from the next one
    if (this.at > 0 && this.at * 2 >= length) {
      this.held.copyWithin(0, this.at, length);
      this.length -= this.at;
      this.at = 0;
    }
    return undefined;
  }

  private append(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.held.length) {
      const grown = new Uint8Array(Math.max(this.held.length * 2, this.length + chunk.length, 4096));
      grown.set(this.held.subarray(0, this.length));
      this.held = grown;
    }
    this.held.set(chunk, this.length);
    this.length += chunk.length;
  }
}
