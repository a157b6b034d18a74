// Where frames begin in a byte stream, found from the frame headers' size fields alone (no
// decoding, no copies): a source that must drop whole frames for a slow observer cuts the
// stream only where a frame begins, so the observer's parser stays in step.

import { PROTOCOL_HEADER_SIZE } from './protocol-header.js';
import { FRAME_HEADER_SIZE } from './types.js';

/** The letter 'A' a protocol header starts with (no frame type has that value). */
const PROTOCOL_HEADER_FIRST_BYTE = 0x41;

export class FrameBoundaryTracker {
  /** bytes of the current unit (protocol header, or frame after its header) still to come */
  private remaining = 0;
  /** bytes of a frame header seen so far (it can be split across chunks) */
  private readonly header = new Uint8Array(FRAME_HEADER_SIZE);
  private headerFilled = 0;
  private started = false;

  /**
   * `length` bytes of the stream are missing (a capture lost them). When they all fall inside
   * the current frame (or protocol header), where frames begin is still known: they are
   * consumed and true is returned; the next `feed` finds the boundary after them. Otherwise
   * false, and the tracker is of no more use.
   */
  skipMissing(length: number): boolean {
    if (this.headerFilled > 0 || length > this.remaining) return false;
    this.remaining -= length;
    this.started = true;
    return true;
  }

  /**
   * Consumes `chunk` (the next bytes of the stream) and returns the offset in it of the first
   * position where a frame (or the protocol header) begins, or -1 when none does. A chunk that
   * starts at a boundary returns 0.
   */
  feed(chunk: Uint8Array): number {
    let first = -1;
    let at = 0;
    const length = chunk.length;
    if (!this.started && length > 0) {
      this.started = true;
      // a stream opens with the 8-byte protocol header (client), or a broker's answer to a
      // header it does not speak; otherwise it opens with frames
      if (chunk[0] === PROTOCOL_HEADER_FIRST_BYTE) {
        this.remaining = PROTOCOL_HEADER_SIZE;
        first = 0;
      }
    }
    while (at < length) {
      if (this.remaining > 0) {
        const step = Math.min(this.remaining, length - at);
        this.remaining -= step;
        at += step;
        continue;
      }
      if (this.headerFilled === 0 && first === -1) first = at;
      const take = Math.min(FRAME_HEADER_SIZE - this.headerFilled, length - at);
      this.header.set(chunk.subarray(at, at + take), this.headerFilled);
      this.headerFilled += take;
      at += take;
      if (this.headerFilled < FRAME_HEADER_SIZE) break;
      this.headerFilled = 0;
      const h = this.header;
      // size (big-endian u32 at 3) plus the frame-end byte; a hostile size only makes the
      // tracker skip that far, it never holds bytes
      this.remaining = ((h[3]! << 24) >>> 0) + (h[4]! << 16) + (h[5]! << 8) + h[6]! + 1;
    }
    return first;
  }
}
