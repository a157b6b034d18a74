// Frames ⇄ decoded frames. decodeFrame dispatches on the frame type and reports faults with
// their offset in the stream; the encoders build whole frames (header, payload, 0xCE) in
// one buffer of the exact size.

import { decodeContentHeader, decodeContentHeaderIn, prepareContentHeader, type ContentHeaderInput } from './content-header.js';
import { EncodeError } from './encode-error.js';
import { DecodeError } from './errors.js';
import { decodeMethod, decodeMethodIn, prepareMethodPayload, type ArgumentInput } from './method-codec.js';
import type { BasicPropertiesInput, MethodArgsInput, MethodName } from './spec.js';
import {
  FRAME_BODY,
  FRAME_END,
  FRAME_HEADER,
  FRAME_HEADER_SIZE,
  FRAME_HEARTBEAT,
  FRAME_METHOD,
  FRAME_OVERHEAD,
  type ContentProperties,
  type DecodedFrame,
  type MethodSpec,
  type RawFrame,
} from './types.js';

/**
 * Decodes a frame cut by the frame parser. Throws DecodeError with the offset in the stream
 * (frame.offset + the offset inside the frame) and the channel, class and method ids.
 */
export function decodeFrame(frame: RawFrame): DecodedFrame {
  const { channel } = frame;
  switch (frame.type) {
    case FRAME_METHOD:
      return { type: 'method', channel, method: decodePayload(frame, decodeMethodIn, decodeMethod) };
    case FRAME_HEADER:
      return { type: 'header', channel, header: decodePayload(frame, decodeContentHeaderIn, decodeContentHeader) };
    case FRAME_BODY:
      return { type: 'body', channel, body: frame.payload };
    case FRAME_HEARTBEAT:
      if (channel !== 0 || frame.payload.length !== 0) {
        throw new DecodeError(
          'bad-heartbeat',
          `heartbeat frame on channel ${channel} with ${frame.payload.length} payload bytes (must be channel 0, empty)`,
          frame.offset,
          { channel },
        );
      }
      return { type: 'heartbeat', channel };
    default:
      throw new DecodeError('unknown-frame-type', `unknown frame type ${frame.type} on channel ${channel}`, frame.offset, { channel });
  }
}

/**
 * A method or header payload decoded in place in the frame's bytes. A fault is decoded again
 * from a view of the payload, whose offsets its error reports: faults are rare, frames many.
 */
function decodePayload<T>(frame: RawFrame, inPlace: (bytes: Uint8Array, start: number, end: number) => T, fromView: (payload: Uint8Array) => T): T {
  const raw = frame.raw;
  try {
    return inPlace(raw, FRAME_HEADER_SIZE, raw.length - 1);
  } catch {
    try {
      return fromView(frame.payload);
    } catch (e) {
      throw atStreamOffset(e, frame);
    }
  }
}

/** A payload decoder's error, moved to the stream offset and given the channel. */
function atStreamOffset(e: unknown, frame: RawFrame): unknown {
  if (!(e instanceof DecodeError)) return e;
  const error = new DecodeError(
    e.code,
    `${e.message} (channel ${frame.channel}, frame at stream offset ${frame.offset})`,
    frame.offset + FRAME_HEADER_SIZE + e.offset,
    { ...e.context, channel: frame.channel },
  );
  error.cause = e;
  return error;
}

// --- encoding ------------------------------------------------------------------------------

function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xffff) {
    throw new EncodeError('value-out-of-range', `channel must be 0..65535, got ${channel}`);
  }
}

/** A frame of `size` payload bytes with its header and end byte written. */
function allocateFrame(type: number, channel: number, size: number): Uint8Array {
  checkChannel(channel);
  if (size > 0xffffffff) throw new EncodeError('frame-too-large', `frame payload of ${size} bytes exceeds 2^32-1`);
  const frame = new Uint8Array(FRAME_OVERHEAD + size);
  frame[0] = type;
  frame[1] = channel >>> 8;
  frame[2] = channel;
  frame[3] = size >>> 24;
  frame[4] = size >>> 16;
  frame[5] = size >>> 8;
  frame[6] = size;
  frame[FRAME_HEADER_SIZE + size] = FRAME_END;
  return frame;
}

/** type:u8 channel:u16 size:u32 payload 0xCE */
export function encodeFrame(type: number, channel: number, payload: Uint8Array): Uint8Array {
  if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new EncodeError('value-out-of-range', `frame type must be 0..255, got ${type}`);
  const frame = allocateFrame(type, channel, payload.length);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

export function encodeMethodFrame<N extends MethodName>(channel: number, name: N, args?: MethodArgsInput<N>): Uint8Array;
export function encodeMethodFrame(channel: number, spec: MethodSpec, args?: Readonly<Record<string, ArgumentInput>>): Uint8Array;
export function encodeMethodFrame(channel: number, method: MethodName | MethodSpec, args: Readonly<Record<string, unknown>> = {}): Uint8Array {
  const payload = prepareMethodPayload(method, args);
  const frame = allocateFrame(FRAME_METHOD, channel, payload.size);
  payload.write(frame, FRAME_HEADER_SIZE);
  return frame;
}

export function encodeContentHeaderFrame(channel: number, header: ContentHeaderInput): Uint8Array {
  const payload = prepareContentHeader(header);
  const frame = allocateFrame(FRAME_HEADER, channel, payload.size);
  payload.write(frame, FRAME_HEADER_SIZE);
  return frame;
}

/** The heartbeat frame: type 8, channel 0, empty. A fresh array each call. */
export function encodeHeartbeatFrame(): Uint8Array {
  return allocateFrame(FRAME_HEARTBEAT, 0, 0);
}

/**
 * A content header frame and the body frames after it, split so that no frame exceeds
 * `frameMax` bytes including its 8 bytes of overhead (0 = no limit). An empty body gives no
 * body frames.
 */
export function encodeContentFrames(
  channel: number,
  classId: number,
  properties: BasicPropertiesInput | ContentProperties,
  body: Uint8Array,
  frameMax: number,
): Uint8Array[] {
  if (!Number.isInteger(frameMax) || frameMax < 0 || (frameMax !== 0 && frameMax <= FRAME_OVERHEAD)) {
    throw new EncodeError('frame-too-large', `frame-max ${frameMax} leaves no room for a payload`);
  }
  const header = encodeContentHeaderFrame(channel, { classId, bodySize: body.length, properties });
  if (frameMax !== 0 && header.length > frameMax) {
    throw new EncodeError('frame-too-large', `content header frame of ${header.length} bytes exceeds frame-max ${frameMax}`);
  }
  const frames = [header];
  const chunk = frameMax === 0 ? 0xffffffff : frameMax - FRAME_OVERHEAD;
  for (let at = 0; at < body.length; at += chunk) {
    const part = body.subarray(at, Math.min(body.length, at + chunk));
    const frame = allocateFrame(FRAME_BODY, channel, part.length);
    frame.set(part, FRAME_HEADER_SIZE);
    frames.push(frame);
  }
  return frames;
}

/** Re-encodes a decoded frame; for a frame that decodeFrame accepted, gives back its raw bytes. */
export function encodeDecodedFrame(f: DecodedFrame): Uint8Array {
  switch (f.type) {
    case 'method':
      return encodeMethodFrame(f.channel, f.method.spec, f.method.args);
    case 'header':
      return encodeContentHeaderFrame(f.channel, f.header);
    case 'body':
      return encodeFrame(FRAME_BODY, f.channel, f.body);
    case 'heartbeat':
      return allocateFrame(FRAME_HEARTBEAT, f.channel, 0);
  }
}
