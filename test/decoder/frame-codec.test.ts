import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EncodeError } from '../../src/decoder/encode-error.js';
import { DecodeError } from '../../src/decoder/errors.js';
import { fieldTable } from '../../src/decoder/field-table.js';
import {
  decodeFrame,
  encodeContentFrames,
  encodeContentHeaderFrame,
  encodeDecodedFrame,
  encodeFrame,
  encodeHeartbeatFrame,
  encodeMethodFrame,
} from '../../src/decoder/frame-codec.js';
import { METHODS } from '../../src/decoder/spec.js';
import type { RawFrame } from '../../src/decoder/types.js';
import { argumentsArb, basicPropertiesArb } from './arbitraries.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Cuts a frame out of `stream` at `offset`, the way the frame parser hands it over. */
function rawFrameAt(stream: Uint8Array, offset: number): RawFrame {
  const size = new DataView(stream.buffer, stream.byteOffset).getUint32(offset + 3);
  const raw = stream.subarray(offset, offset + 8 + size);
  return { type: raw[0]!, channel: (raw[1]! << 8) | raw[2]!, payload: raw.subarray(7, 7 + size), raw, offset };
}

function decodeError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new Error(`expected a DecodeError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a DecodeError, but decoding succeeded');
}

describe('frame encoders', () => {
  it('frames a payload: type, channel, size, payload, 0xCE', () => {
    expect(hex(encodeFrame(3, 0x0102, new Uint8Array([0xaa, 0xbb])))).toBe('03' + '0102' + '00000002' + 'aabb' + 'ce');
    expect(encodeHeartbeatFrame()).toEqual(new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0xce]));
  });

  it('builds method frames in one buffer', () => {
    expect(hex(encodeMethodFrame(5, 'basic.ack', { 'delivery-tag': 9n, multiple: true }))).toBe(
      '01' + '0005' + '0000000d' + '003c0050' + '0000000000000009' + '01' + 'ce',
    );
    expect(() => encodeMethodFrame(65536, 'tx.select')).toThrow(EncodeError);
  });

  it('splits a body so no frame exceeds frame-max, overhead included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 40, max: 300 }), (bodySize, frameMax) => {
        const body = Uint8Array.from({ length: bodySize }, (_, i) => i & 0xff);
        const frames = encodeContentFrames(3, 60, { 'delivery-mode': 2 }, body, frameMax);
        expect(frames[0]![0]).toBe(2);
        const bodies = frames.slice(1);
        expect(bodies.length).toBe(Math.ceil(bodySize / (frameMax - 8)));
        for (const f of frames) expect(f.length).toBeLessThanOrEqual(frameMax);
        for (const f of bodies) expect(f[0]).toBe(3);
        const joined = Buffer.concat(bodies.map((f) => f.subarray(7, f.length - 1)));
        expect(new Uint8Array(joined)).toEqual(body);
        const header = decodeFrame(rawFrameAt(frames[0]!, 0));
        expect(header.type === 'header' && header.header.bodySize).toBe(BigInt(bodySize));
      }),
      { numRuns: 100 },
    );
  });

  it('sends no body frame for an empty body, one for frame-max 0 (no limit)', () => {
    expect(encodeContentFrames(1, 60, {}, new Uint8Array(0), 4096)).toHaveLength(1);
    const frames = encodeContentFrames(1, 60, {}, new Uint8Array(200_000), 0);
    expect(frames).toHaveLength(2);
    expect(frames[1]!.length).toBe(200_008);
  });

  it('refuses a frame-max the header cannot fit in', () => {
    expect(() => encodeContentFrames(1, 60, { 'content-type': 'x'.repeat(100) }, new Uint8Array(1), 64)).toThrow(EncodeError);
    expect(() => encodeContentFrames(1, 60, {}, new Uint8Array(1), 8)).toThrow(EncodeError);
  });
});

describe('decodeFrame', () => {
  it('dispatches on the frame type', () => {
    const stream = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', { exchange: 'x', 'routing-key': 'k' }),
      ...encodeContentFrames(1, 60, { 'content-type': 'text/plain' }, new Uint8Array([104, 105]), 4096),
      encodeHeartbeatFrame(),
    ]);
    const frames: RawFrame[] = [];
    for (let at = 0; at < stream.length; at += frames.at(-1)!.raw.length) frames.push(rawFrameAt(stream, at));
    const decoded = frames.map(decodeFrame);
    expect(decoded.map((f) => f.type)).toEqual(['method', 'header', 'body', 'heartbeat']);
    const [method, header, body] = decoded;
    expect(method!.type === 'method' && method!.method.args).toMatchObject({ exchange: 'x', 'routing-key': 'k' });
    expect(header!.type === 'header' && header!.header.properties).toEqual({ 'content-type': 'text/plain' });
    // the body is a view of the payload, not a copy
    expect(body!.type === 'body' && body!.body.buffer).toBe(stream.buffer);
    expect(body!.type === 'body' && [...body!.body]).toEqual([104, 105]);
  });

  it('gives payload faults the stream offset and channel, class and method', () => {
    const good = encodeMethodFrame(7, 'basic.publish', { exchange: 'ex' });
    // Make the exchange's length octet lie: at payload offset 6.
    const bad = good.slice();
    bad[7 + 6] = 200;
    const stream = new Uint8Array([...new Uint8Array(1000), ...bad]);
    const e = decodeError(() => decodeFrame(rawFrameAt(stream, 1000)));
    expect(e.constructor).toBe(DecodeError);
    expect(e.code).toBe('truncated');
    expect(e.offset).toBe(1000 + 7 + 6);
    expect(e.context).toEqual({ channel: 7, classId: 60, methodId: 40 });

    const unknown = encodeFrame(1, 2, new Uint8Array([0, 60, 0, 41]));
    const u = decodeError(() => decodeFrame(rawFrameAt(unknown, 0)));
    expect(u.code).toBe('unknown-method');
    expect(u.offset).toBe(7);
    expect(u.context).toEqual({ channel: 2, classId: 60, methodId: 41 });

    const header = encodeFrame(2, 4, new Uint8Array([0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    const h = decodeError(() => decodeFrame({ ...rawFrameAt(header, 0), offset: 50 }));
    expect(h.code).toBe('unknown-class');
    expect(h.offset).toBe(57);
    expect(h.context).toEqual({ channel: 4, classId: 10 });
  });

  it('accepts heartbeats only on channel 0 and empty', () => {
    expect(decodeFrame(rawFrameAt(encodeHeartbeatFrame(), 0))).toEqual({ type: 'heartbeat', channel: 0 });
    const onChannel = decodeError(() => decodeFrame(rawFrameAt(encodeFrame(8, 3, new Uint8Array(0)), 0)));
    expect(onChannel.code).toBe('bad-heartbeat');
    expect(onChannel.context).toEqual({ channel: 3 });
    expect(decodeError(() => decodeFrame(rawFrameAt(encodeFrame(8, 0, new Uint8Array(1)), 0))).code).toBe('bad-heartbeat');
  });

  it('refuses unknown frame types', () => {
    for (const type of [0, 4, 9, 65, 255]) {
      const e = decodeError(() => decodeFrame({ ...rawFrameAt(encodeFrame(type, 1, new Uint8Array(2)), 0), offset: 33 }));
      expect(e.code).toBe('unknown-frame-type');
      expect(e.offset).toBe(33);
    }
  });
});

describe('encodeDecodedFrame(decodeFrame(f)) gives back f.raw', () => {
  it('for every method with random arguments', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...METHODS).chain((m) => fc.tuple(fc.constant(m), argumentsArb(m.fields))),
        fc.integer({ min: 0, max: 65535 }),
        ([spec, args], channel) => {
          const raw = encodeMethodFrame(channel, spec, args);
          expect(encodeDecodedFrame(decodeFrame(rawFrameAt(raw, 0)))).toEqual(raw);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('for content headers, bodies and heartbeats', () => {
    fc.assert(
      fc.property(basicPropertiesArb, fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 65535 }), (properties, body, channel) => {
        for (const raw of [...encodeContentFrames(channel, 60, properties, body, 0), encodeHeartbeatFrame()]) {
          expect(encodeDecodedFrame(decodeFrame(rawFrameAt(raw, 0)))).toEqual(raw);
        }
      }),
      { numRuns: 150 },
    );
    const odd = encodeContentHeaderFrame(1, { classId: 60, weight: 3, bodySize: 0, properties: { headers: fieldTable({ a: 1 }) }, propertyFlags: [0x2001, 0] });
    expect(encodeDecodedFrame(decodeFrame(rawFrameAt(odd, 0)))).toEqual(odd);
  });
});
