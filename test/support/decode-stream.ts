import { decodeFrame } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import type { DecodedFrame, RawFrame } from '../../src/decoder/types.js';

/** Cuts and decodes a whole stream; throws on the first error so a test sees it. */
export function decodeStream(bytes: Uint8Array, chunkSize = 64 * 1024): { raw: RawFrame; decoded: DecodedFrame }[] {
  const parser = new FrameParser();
  const frames: { raw: RawFrame; decoded: DecodedFrame }[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    for (const item of parser.push(bytes.subarray(at, at + chunkSize))) {
      if (item.kind === 'error') throw item.error;
      if (item.kind === 'frame') frames.push({ raw: item.frame, decoded: decodeFrame(item.frame) });
    }
  }
  if (parser.buffered !== 0) throw new Error(`stream ends inside a frame (${parser.buffered} bytes held)`);
  return frames;
}

/** `basic.publish`, or `header`/`body`/`heartbeat` for other frames. */
export function frameName(frame: DecodedFrame): string {
  return frame.type === 'method' ? frame.method.name : frame.type;
}
