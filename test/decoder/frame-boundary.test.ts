import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameBoundaryTracker } from '../../src/decoder/frame-boundary.js';

function frameBytes(type: number, channel: number, payloadLength: number): Uint8Array {
  const bytes = new Uint8Array(payloadLength + 8);
  bytes[0] = type;
  bytes[1] = channel >>> 8;
  bytes[2] = channel & 0xff;
  new DataView(bytes.buffer).setUint32(3, payloadLength);
  bytes[bytes.length - 1] = 0xce;
  return bytes;
}

const PROTOCOL_HEADER = Uint8Array.of(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1);

/** The stream and the offsets where its units (protocol header, frames) begin. */
function stream(withHeader: boolean, payloads: readonly number[]): { bytes: Uint8Array; starts: number[] } {
  const parts = [...(withHeader ? [PROTOCOL_HEADER] : []), ...payloads.map((n, i) => frameBytes((i % 3) + 1, i % 5, n))];
  const starts: number[] = [];
  let at = 0;
  for (const part of parts) {
    starts.push(at);
    at += part.length;
  }
  const bytes = new Uint8Array(at);
  at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { bytes, starts };
}

describe('FrameBoundaryTracker', () => {
  it('finds the first unit start of every chunk, however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 60 }),
        (withHeader, payloads, cuts) => {
          const { bytes, starts } = stream(withHeader, payloads);
          const tracker = new FrameBoundaryTracker();
          let at = 0;
          let cut = 0;
          while (at < bytes.length) {
            const size = Math.min(cuts[cut++ % cuts.length]!, bytes.length - at);
            const expected = starts.find((s) => s >= at && s < at + size);
            expect(tracker.feed(bytes.subarray(at, at + size))).toBe(expected === undefined ? -1 : expected - at);
            at += size;
          }
        },
      ),
    );
  });

  it('a frame header split byte by byte still gives the next frame', () => {
    const { bytes } = stream(false, [5, 0]);
    const tracker = new FrameBoundaryTracker();
    const found = [...bytes].map((b) => tracker.feed(Uint8Array.of(b)));
    // frame 1 starts at 0 and frame 2 at 13: each is the first byte of its one-byte chunk
    expect(found.flatMap((f, i) => (f === 0 ? [i] : []))).toEqual([0, 13]);
  });

  it('a hostile size (4 GiB) is only skipped over, never held', () => {
    const tracker = new FrameBoundaryTracker();
    const head = Uint8Array.of(3, 0, 1, 0xff, 0xff, 0xff, 0xff);
    expect(tracker.feed(head)).toBe(0);
    expect(tracker.feed(new Uint8Array(1024 * 1024))).toBe(-1);
  });
});

describe('FrameBoundaryTracker.skipMissing (bytes a capture lost)', () => {
  it('inside the current frame: the next boundary is still found; beyond it: refused', () => {
    const { bytes, starts } = stream(false, [100, 20, 30]);
    const tracker = new FrameBoundaryTracker();
    expect(tracker.feed(bytes.subarray(0, 10))).toBe(0);
    // 50 bytes of the first frame's 108 are missing
    expect(tracker.skipMissing(50)).toBe(true);
    expect(tracker.feed(bytes.subarray(60, 120))).toBe(starts[1]! - 60);
    // a gap past the end of the current frame: where the next one starts is unknown
    const other = new FrameBoundaryTracker();
    other.feed(bytes.subarray(0, 10));
    expect(other.skipMissing(200)).toBe(false);
    // inside a frame header the size is not known yet
    const header = new FrameBoundaryTracker();
    header.feed(bytes.subarray(0, 3));
    expect(header.skipMissing(1)).toBe(false);
  });
});
