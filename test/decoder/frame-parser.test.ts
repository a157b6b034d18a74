import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/decoder/errors.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import type { FrameParserOptions, FrameParserOutput } from '../../src/decoder/frame-parser.js';
import { describeProtocolHeader, encodeProtocolHeader, parseProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { ProtocolName, RawFrame } from '../../src/decoder/types.js';

// ---- test stream builder ------------------------------------------------------------------

interface FrameSpec {
  readonly type: number;
  readonly channel: number;
  readonly payload: Uint8Array;
}

/** type:u8 channel:u16 size:u32 payload end — built by hand so the parser is not tested against itself. */
function frameBytes(type: number, channel: number, payload: Uint8Array, endByte = 0xce): Uint8Array {
  const bytes = new Uint8Array(payload.length + 8);
  bytes[0] = type;
  bytes[1] = channel >>> 8;
  bytes[2] = channel & 0xff;
  bytes[3] = payload.length >>> 24;
  bytes[4] = (payload.length >>> 16) & 0xff;
  bytes[5] = (payload.length >>> 8) & 0xff;
  bytes[6] = payload.length & 0xff;
  bytes.set(payload, 7);
  bytes[bytes.length - 1] = endByte;
  return bytes;
}

/** A frame header claiming `size` payload bytes, without the payload. */
function frameHead(type: number, channel: number, size: number): Uint8Array {
  return Uint8Array.of(type, channel >>> 8, channel & 0xff, size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function patterned(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff;
  return bytes;
}

interface ExpectedFrame {
  readonly type: number;
  readonly channel: number;
  readonly offset: number;
  readonly raw: number[];
  readonly payload: number[];
}

interface BuiltStream {
  readonly bytes: Uint8Array;
  readonly frames: ExpectedFrame[];
}

function buildStream(specs: readonly FrameSpec[], withHeader: boolean): BuiltStream {
  const parts: Uint8Array[] = [];
  const frames: ExpectedFrame[] = [];
  let offset = 0;
  if (withHeader) {
    parts.push(Uint8Array.of(0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1));
    offset = 8;
  }
  for (const s of specs) {
    const raw = frameBytes(s.type, s.channel, s.payload);
    parts.push(raw);
    frames.push({ type: s.type, channel: s.channel, offset, raw: [...raw], payload: [...s.payload] });
    offset += raw.length;
  }
  return { bytes: concat(parts), frames };
}

/** A small realistic mix: method, content header, bodies of several sizes, heartbeat, empty payloads. */
const MIXED_FRAMES: readonly FrameSpec[] = [
  { type: 1, channel: 0, payload: patterned(40, 1) },
  { type: 8, channel: 0, payload: new Uint8Array(0) },
  { type: 1, channel: 1, payload: patterned(12, 2) },
  { type: 2, channel: 1, payload: patterned(14, 3) },
  { type: 3, channel: 1, payload: patterned(100, 4) },
  { type: 3, channel: 1, payload: patterned(1, 5) },
  { type: 1, channel: 65535, payload: patterned(0, 6) },
  { type: 3, channel: 2, payload: patterned(300, 7) },
  { type: 8, channel: 0, payload: new Uint8Array(0) },
  { type: 1, channel: 258, payload: patterned(5, 8) },
];

// ---- running the parser ---------------------------------------------------------------------

interface RunResult {
  readonly items: FrameParserOutput[];
  readonly frames: ExpectedFrame[];
  readonly errors: DecodeError[];
  readonly parser: FrameParser;
}

function summarize(frame: RawFrame): ExpectedFrame {
  return { type: frame.type, channel: frame.channel, offset: frame.offset, raw: [...frame.raw], payload: [...frame.payload] };
}

function runChunks(chunks: readonly Uint8Array[], options?: FrameParserOptions): RunResult {
  const parser = new FrameParser(options);
  const items: FrameParserOutput[] = [];
  for (const chunk of chunks) {
    const out = parser.push(chunk);
    // An error is always the last item of the push that reports it, and nothing follows it.
    const errorAt = out.findIndex((item) => item.kind === 'error');
    if (errorAt !== -1) expect(errorAt).toBe(out.length - 1);
    if (items.some((item) => item.kind === 'error')) expect(out).toEqual([]);
    items.push(...out);
  }
  const frames: ExpectedFrame[] = [];
  const errors: DecodeError[] = [];
  for (const item of items) {
    if (item.kind === 'frame') frames.push(summarize(item.frame));
    else if (item.kind === 'error') errors.push(item.error);
  }
  return { items, frames, errors, parser };
}

function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.slice(at, at + size));
  return chunks;
}

function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.slice(from, p)); // empty chunks included on purpose
    from = p;
  }
  return chunks;
}

function onlyError(result: RunResult): DecodeError {
  expect(result.errors).toHaveLength(1);
  const error = result.errors[0]!;
  expect(error).toBeInstanceOf(DecodeError);
  expect(result.parser.stopped).toBe(true);
  expect(result.parser.error).toBe(error);
  return error;
}

// ---- tests ---------------------------------------------------------------------------------

describe('FrameParser: splitting', () => {
  const client = buildStream(MIXED_FRAMES, true);
  const server = buildStream(MIXED_FRAMES, false);

  it('cuts a client stream in one chunk into the protocol header and the frames', () => {
    const result = runChunks([client.bytes]);
    expect(result.items[0]).toMatchObject({ kind: 'protocol-header', header: { protocol: 'AMQP 0-9-1', decoded: true, offset: 0 } });
    expect(result.frames).toEqual(client.frames);
    expect(result.errors).toEqual([]);
    expect(result.parser.offset).toBe(client.bytes.length);
    expect(result.parser.buffered).toBe(0);
    expect(result.parser.stopped).toBe(false);
  });

  it('gives the same frames, raw bytes and offsets for every chunk size from 1 to 64', () => {
    for (const stream of [client, server]) {
      for (let size = 1; size <= 64; size++) {
        const result = runChunks(splitEvery(stream.bytes, size));
        expect(result.errors, `chunk size ${size}`).toEqual([]);
        expect(result.frames, `chunk size ${size}`).toEqual(stream.frames);
        expect(result.parser.offset).toBe(stream.bytes.length);
      }
    }
  });

  it('gives the same frames at random split points, empty chunks included', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 40 }), fc.boolean(), (cuts, withHeader) => {
        const stream = withHeader ? client : server;
        const result = runChunks(splitAt(stream.bytes, cuts));
        expect(result.errors).toEqual([]);
        expect(result.frames).toEqual(stream.frames);
      }),
      { numRuns: 300 },
    );
  });

  it('cuts random frame sequences split at random points', () => {
    const frameSpec = fc.record({
      type: fc.constantFrom(1, 2, 3, 8),
      channel: fc.integer({ min: 0, max: 65535 }),
      payload: fc.uint8Array({ maxLength: 200 }),
    });
    fc.assert(
      fc.property(fc.array(frameSpec, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), (specs, cuts, withHeader) => {
        const stream = buildStream(specs, withHeader);
        if (stream.bytes.length === 0) return;
        const result = runChunks(splitAt(stream.bytes, cuts));
        expect(result.errors).toEqual([]);
        expect(result.frames).toEqual(stream.frames);
        expect(result.parser.offset).toBe(stream.bytes.length);
      }),
      { numRuns: 200 },
    );
  });

  it('returns frames of one chunk as views of it and frames spanning chunks as exact-size copies', () => {
    const stream = buildStream(MIXED_FRAMES, false);
    const cut = stream.frames[4]!.offset + 10; // inside the 100-byte body frame
    const first = stream.bytes.slice(0, cut);
    const second = stream.bytes.slice(cut);
    const parser = new FrameParser();
    const items = [...parser.push(first), ...parser.push(second)];
    const frames = items.flatMap((item) => (item.kind === 'frame' ? [item.frame] : []));
    expect(frames.map(summarize)).toEqual(stream.frames);
    frames.forEach((frame, index) => {
      if (index < 4) expect(frame.raw.buffer).toBe(first.buffer);
      else if (index === 4) {
        expect(frame.raw.buffer).not.toBe(first.buffer);
        expect(frame.raw.buffer).not.toBe(second.buffer);
        expect(frame.raw.buffer.byteLength).toBe(100 + 8);
      } else expect(frame.raw.buffer).toBe(second.buffer);
      // the payload is a view inside raw
      expect(frame.payload.buffer).toBe(frame.raw.buffer);
      expect(frame.payload.byteOffset).toBe(frame.raw.byteOffset + 7);
    });
  });

  it('accepts Node Buffers from a socket, which may share a larger pool', () => {
    const pool = Buffer.alloc(client.bytes.length + 100);
    pool.set(client.bytes, 37);
    const chunk = pool.subarray(37, 37 + client.bytes.length);
    const result = runChunks([chunk]);
    expect(result.frames).toEqual(client.frames);
    const frame = result.items.find((item) => item.kind === 'frame');
    expect(frame?.kind === 'frame' && frame.frame.raw.buffer).toBe(pool.buffer);
  });

  it('cuts many frames in one chunk', () => {
    const specs: FrameSpec[] = [];
    for (let i = 0; i < 10_000; i++) specs.push({ type: (i % 3) + 1, channel: i % 7, payload: patterned(i % 50, i) });
    const stream = buildStream(specs, true);
    const result = runChunks([stream.bytes]);
    expect(result.errors).toEqual([]);
    expect(result.frames).toHaveLength(10_000);
    expect(result.frames).toEqual(stream.frames);
    for (const item of result.items) if (item.kind === 'frame') expect(item.frame.raw.buffer).toBe(stream.bytes.buffer);
  });

  it('reassembles a 1 MB body frame arriving in 64 KB chunks', () => {
    const body = patterned(1024 * 1024, 9);
    const stream = concat([
      frameBytes(1, 1, patterned(20, 1)),
      frameBytes(2, 1, patterned(14, 2)),
      frameBytes(3, 1, body),
      frameBytes(8, 0, new Uint8Array(0)),
    ]);
    const chunks = splitEvery(stream, 64 * 1024);
    const parser = new FrameParser({ frameMax: 0 });
    const got: RawFrame[] = [];
    chunks.forEach((chunk, index) => {
      const out = parser.push(chunk);
      for (const item of out) {
        expect(item.kind).toBe('frame');
        if (item.kind === 'frame') {
          got.push(item.frame);
          // The first two frames lie inside the first chunk: views, no copy.
          if (item.frame.type !== 3 && index === 0) expect(item.frame.raw.buffer).toBe(chunk.buffer);
        }
      }
      // the body frame starts at offset 50; its bytes so far are held
      if (got.length === 2) expect(parser.buffered).toBe(64 * 1024 * (index + 1) - 50);
    });
    expect(got.map((f) => f.type)).toEqual([1, 2, 3, 8]);
    const bodyFrame = got[2]!;
    expect(bodyFrame.offset).toBe(28 + 22);
    expect(bodyFrame.payload.length).toBe(body.length);
    expect(Buffer.from(bodyFrame.payload).equals(Buffer.from(body))).toBe(true);
    expect(bodyFrame.raw.length).toBe(body.length + 8);
    expect(bodyFrame.raw.buffer.byteLength).toBe(body.length + 8); // allocated once, exact size
    expect(parser.offset).toBe(stream.length);
  });
});

describe('FrameParser: incomplete input', () => {
  it('holds a truncated frame without output or error, then completes it', () => {
    const frame = frameBytes(1, 5, patterned(30, 3));
    for (let cut = 1; cut < frame.length; cut++) {
      const parser = new FrameParser({ expectProtocolHeader: false });
      expect(parser.push(frame.subarray(0, cut))).toEqual([]);
      expect(parser.stopped).toBe(false);
      expect(parser.error).toBeUndefined();
      expect(parser.buffered).toBe(cut);
      expect(parser.offset).toBe(cut);
      const out = parser.push(frame.subarray(cut));
      expect(out).toHaveLength(1);
      expect(out[0]?.kind === 'frame' && summarize(out[0].frame)).toEqual({ type: 1, channel: 5, offset: 0, raw: [...frame], payload: [...patterned(30, 3)] });
      expect(parser.buffered).toBe(0);
    }
  });

  it('reports a stream ending inside a frame on end()', () => {
    const stream = concat([frameBytes(8, 0, new Uint8Array(0)), frameBytes(3, 4, patterned(50, 1)).subarray(0, 20)]);
    const parser = new FrameParser();
    expect(parser.push(stream)).toHaveLength(1);
    const out = parser.end();
    expect(out).toHaveLength(1);
    const item = out[0]!;
    expect(item.kind).toBe('error');
    if (item.kind === 'error') {
      expect(item.error.code).toBe('truncated');
      expect(item.error.offset).toBe(8);
      expect(item.error.context.channel).toBe(4);
    }
    expect(parser.push(frameBytes(8, 0, new Uint8Array(0)))).toEqual([]);
  });

  it('ends quietly at a frame boundary', () => {
    const parser = new FrameParser();
    parser.push(frameBytes(8, 0, new Uint8Array(0)));
    expect(parser.end()).toEqual([]);
    expect(parser.stopped).toBe(true);
    expect(parser.error).toBeUndefined();
  });

  it('reports a stream ending inside a frame header or the protocol header', () => {
    const inHead = new FrameParser();
    inHead.push(concat([frameBytes(8, 0, new Uint8Array(0)), Uint8Array.of(1, 0)]));
    expect(inHead.end().map((i) => i.kind === 'error' && [i.error.code, i.error.offset])).toEqual([['truncated', 8]]);
    const inProtocolHeader = new FrameParser();
    inProtocolHeader.push(Uint8Array.of(0x41, 0x4d, 0x51));
    expect(inProtocolHeader.end().map((i) => i.kind === 'error' && [i.error.code, i.error.offset])).toEqual([['truncated', 0]]);
  });
});

describe('FrameParser: protocol headers', () => {
  const cases: ReadonlyArray<readonly [readonly [number, number, number, number], ProtocolName, boolean]> = [
    [[0, 0, 9, 1], 'AMQP 0-9-1', true],
    // RabbitMQ speaks 0-9-1 to a client opening with the 0-9 header
    [[1, 1, 0, 9], 'AMQP 0-9', true],
    [[1, 1, 8, 0], 'AMQP 0-8', false],
    [[1, 1, 9, 1], 'AMQP 0-8', false],
    [[1, 1, 0, 8], 'AMQP 0-8', false],
    [[0, 1, 0, 0], 'AMQP 1.0', false],
    [[3, 1, 0, 0], 'AMQP 1.0 SASL', false],
    [[2, 1, 0, 0], 'AMQP 1.0 TLS', false],
    [[1, 1, 0, 10], 'unknown AMQP', false],
    [[9, 9, 9, 9], 'unknown AMQP', false],
  ];

  for (const [version, protocol, decoded] of cases) {
    it(`recognises AMQP ${version.join(' ')} as ${protocol}`, () => {
      const bytes = Uint8Array.of(0x41, 0x4d, 0x51, 0x50, ...version);
      const rest = frameBytes(1, 0, patterned(10, 1));
      for (const chunks of [[concat([bytes, rest])], splitEvery(concat([bytes, rest]), 1), splitEvery(concat([bytes, rest]), 3)]) {
        const result = runChunks(chunks, { expectProtocolHeader: true });
        const first = result.items[0]!;
        expect(first.kind).toBe('protocol-header');
        if (first.kind !== 'protocol-header') return;
        expect(first.header).toMatchObject({ protocol, decoded, version, offset: 0 });
        expect([...first.header.raw]).toEqual([...bytes]);
        expect(result.parser.protocolHeader).toBe(first.header);
        if (decoded) {
          expect(result.errors).toEqual([]);
          expect(result.frames).toHaveLength(1);
          expect(result.frames[0]?.offset).toBe(8);
        } else {
          // the header, then one error naming the protocol, and nothing decoded after it
          expect(result.items).toHaveLength(2);
          const error = onlyError(result);
          expect(error.code).toBe('not-decoded');
          expect(error.offset).toBe(8);
          expect(error.message).toContain(protocol === 'unknown AMQP' ? `AMQP ${version.join(' ')}` : protocol);
          expect(result.frames).toEqual([]);
        }
      }
    });
  }

  it('encodes the 0-9-1 header and describes headers', () => {
    const encoded = encodeProtocolHeader();
    expect([...encoded]).toEqual([65, 77, 81, 80, 0, 0, 9, 1]);
    const parsed = parseProtocolHeader(encoded)!;
    expect(parsed.protocol).toBe('AMQP 0-9-1');
    expect(describeProtocolHeader(parsed)).toBe('AMQP 0-9-1 (AMQP 0 0 9 1)');
    expect(describeProtocolHeader(parseProtocolHeader(Uint8Array.of(65, 77, 81, 80, 3, 1, 0, 0))!)).toBe('AMQP 1.0 SASL (AMQP 3 1 0 0), not decoded');
    expect(describeProtocolHeader(parseProtocolHeader(Uint8Array.of(65, 77, 81, 80, 1, 1, 0, 10))!)).toContain('AMQP 0-10');
    expect(parseProtocolHeader(Uint8Array.of(65, 77, 81))).toBeUndefined();
    expect(parseProtocolHeader(Uint8Array.of(65, 77, 81, 81, 0, 0, 9, 1))).toBeUndefined();
  });

  it("accepts a server's protocol header reply on the server stream in 'auto' mode", () => {
    // A server refusing the client's version answers with its own header and closes.
    const result = runChunks([Uint8Array.of(65, 77, 81, 80, 0, 0, 9, 1)]);
    expect(result.items).toHaveLength(1);
    expect(result.items[0]?.kind).toBe('protocol-header');
  });

  it('rejects a protocol header where frames are expected, and frames where a header is expected', () => {
    const header = runChunks([encodeProtocolHeader()], { expectProtocolHeader: false });
    expect(onlyError(header)).toMatchObject({ code: 'not-amqp', offset: 0 });
    const frames = runChunks([frameBytes(1, 0, patterned(4, 1))], { expectProtocolHeader: true });
    expect(onlyError(frames)).toMatchObject({ code: 'not-amqp', offset: 0 });
  });
});

describe('FrameParser: bad input', () => {
  const good = buildStream(MIXED_FRAMES.slice(0, 4), true);

  it('reports a wrong end byte at its offset, in one chunk and split', () => {
    const bad = frameBytes(3, 7, patterned(40, 1), 0x00);
    const stream = concat([good.bytes, bad, frameBytes(8, 0, new Uint8Array(0))]);
    const endOffset = good.bytes.length + bad.length - 1;
    for (const size of [stream.length, 1, 5, 16]) {
      const result = runChunks(splitEvery(stream, size));
      expect(result.frames).toEqual(good.frames);
      const error = onlyError(result);
      expect(error.code).toBe('frame-end');
      expect(error.offset).toBe(endOffset);
      expect(error.context.channel).toBe(7);
      expect(error.message).toContain('0x00');
      expect(result.parser.offset).toBe(endOffset);
    }
  });

  it('reports a frame above frame-max from its header, before the body arrives', () => {
    const start = good.bytes.length;
    const parser = new FrameParser({ frameMax: 4096 });
    const first = parser.push(good.bytes);
    expect(first.filter((i) => i.kind === 'frame')).toHaveLength(good.frames.length);
    // 4089 + 8 = 4097 > 4096. Only the 7 header bytes are pushed, the last one alone.
    const head = frameHead(3, 1, 4089);
    expect(parser.push(head.subarray(0, 6))).toEqual([]);
    const out = parser.push(head.subarray(6));
    expect(out).toHaveLength(1);
    const item = out[0]!;
    expect(item.kind === 'error' && [item.error.code, item.error.offset]).toEqual(['frame-too-large', start]);
  });

  it('accepts a frame of exactly frame-max and applies setFrameMax to later frames', () => {
    const exact = frameBytes(3, 1, patterned(4096 - 8, 1));
    const parser = new FrameParser({ frameMax: 4096, expectProtocolHeader: false });
    expect(parser.push(exact).map((i) => i.kind)).toEqual(['frame']);
    parser.setFrameMax(1024);
    expect(parser.frameMax).toBe(1024);
    const out = parser.push(concat([frameBytes(3, 1, patterned(1016, 2)), exact]));
    expect(out.map((i) => (i.kind === 'error' ? [i.error.code, i.error.offset] : i.kind))).toEqual(['frame', ['frame-too-large', 4096 + 1024]]);
    expect(() => parser.setFrameMax(-1)).toThrow(RangeError);
  });

  it('rejects a lying length field at once when frame-max is set', () => {
    for (const frameMax of [4096, 131072]) {
      const parser = new FrameParser({ frameMax, expectProtocolHeader: false });
      const out = parser.push(frameHead(1, 0, 0xffffffff));
      expect(out.map((i) => i.kind === 'error' && [i.error.code, i.error.offset])).toEqual([['frame-too-large', 0]]);
    }
  });

  it('does not allocate a lying length up front when there is no frame-max', () => {
    const parser = new FrameParser({ frameMax: 0, expectProtocolHeader: false });
    expect(parser.push(frameHead(3, 1, 0xffffffff))).toEqual([]);
    expect(parser.push(patterned(64 * 1024, 1))).toEqual([]);
    expect(parser.buffered).toBe(7 + 64 * 1024);
    expect(parser.end().map((i) => i.kind === 'error' && i.error.code)).toEqual(['truncated']);
  });

  it('grows the buffer of a frame above 16 MiB without frame-max, and ends with the exact bytes', () => {
    const size = 17 * 1024 * 1024 + 3;
    const payload = patterned(size, 4);
    const stream = concat([frameBytes(3, 2, payload), frameBytes(8, 0, new Uint8Array(0))]);
    const parser = new FrameParser();
    const frames: RawFrame[] = [];
    for (const chunk of splitEvery(stream, 1024 * 1024 - 1)) {
      for (const item of parser.push(chunk)) {
        expect(item.kind).toBe('frame');
        if (item.kind === 'frame') frames.push(item.frame);
      }
    }
    expect(frames.map((f) => [f.type, f.offset, f.raw.length])).toEqual([
      [3, 0, size + 8],
      [8, size + 8, 8],
    ]);
    expect(Buffer.from(frames[0]!.payload).equals(Buffer.from(payload))).toBe(true);
  });

  it('reports an unknown frame type from its first byte', () => {
    const parser = new FrameParser();
    expect(parser.push(good.bytes).filter((i) => i.kind === 'frame')).toHaveLength(good.frames.length);
    const out = parser.push(Uint8Array.of(0x04));
    expect(out).toHaveLength(1);
    const item = out[0]!;
    expect(item.kind === 'error' && [item.error.code, item.error.offset]).toEqual(['unknown-frame-type', good.bytes.length]);
    expect(parser.offset).toBe(good.bytes.length);
  });

  it('reports garbage after frames as an unknown frame type at its offset', () => {
    for (const byte of [0, 4, 9, 0x41, 0xce, 0xff]) {
      const stream = concat([good.bytes, Uint8Array.of(byte, 1, 2, 3, 4, 5, 6, 7, 8)]);
      for (const size of [1, 7, stream.length]) {
        const result = runChunks(splitEvery(stream, size));
        expect(result.frames).toEqual(good.frames);
        expect(onlyError(result)).toMatchObject({ code: 'unknown-frame-type', offset: good.bytes.length });
      }
    }
  });

  it('recognises HTTP, TLS and other non-AMQP streams at their first byte', () => {
    const http = new TextEncoder().encode('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const tlsClientHello = Uint8Array.of(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03);
    const httpReply = new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n');
    for (const [bytes, hint] of [
      [http, 'HTTP'],
      [httpReply, 'HTTP'],
      [tlsClientHello, 'TLS'],
      [Uint8Array.of(0), '0x00'],
    ] as const) {
      for (const expectProtocolHeader of [true, false, 'auto'] as const) {
        const result = runChunks([bytes], { expectProtocolHeader });
        const error = onlyError(result);
        expect(error.code).toBe('not-amqp');
        expect(error.offset).toBe(0);
        expect(error.message).toContain(hint);
        expect(result.items).toHaveLength(1);
      }
      // fails on the first byte alone
      expect(runChunks([bytes.subarray(0, 1)]).errors.map((e) => e.code)).toEqual(['not-amqp']);
    }
  });

  it('reports a broken "AMQP" magic at the first byte that differs', () => {
    const result = runChunks(splitEvery(new TextEncoder().encode('AMQX0091'), 1));
    expect(onlyError(result)).toMatchObject({ code: 'not-amqp', offset: 3 });
  });

  it('never throws or hangs on random bytes, and reports at most one error, last', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const result = runChunks(splitAt(bytes, cuts), { frameMax: 131072 });
        expect(result.errors.length).toBeLessThanOrEqual(1);
        for (const error of result.errors) {
          expect(error).toBeInstanceOf(DecodeError);
          expect(error.offset).toBeGreaterThanOrEqual(0);
          expect(error.offset).toBeLessThan(bytes.length);
        }
        // frames are contiguous from the start (or from the protocol header)
        let at = result.items[0]?.kind === 'protocol-header' ? 8 : 0;
        for (const frame of result.frames) {
          expect(frame.offset).toBe(at);
          expect(frame.raw).toEqual([...bytes.subarray(at, at + frame.raw.length)]);
          at += frame.raw.length;
        }
      }),
      { numRuns: 500 },
    );
  });

  it('cuts a corrupted stream exactly like the clean one up to the corruption', () => {
    const stream = buildStream(MIXED_FRAMES, true);
    fc.assert(
      fc.property(fc.nat(stream.bytes.length - 1), fc.integer({ min: 1, max: 255 }), fc.array(fc.nat(), { maxLength: 10 }), (at, flip, cuts) => {
        const bytes = stream.bytes.slice();
        bytes[at] = bytes[at]! ^ flip;
        const result = runChunks(splitAt(bytes, cuts), { frameMax: 4096 });
        const clean = stream.frames.filter((f) => f.offset + f.raw.length <= at);
        expect(result.frames.slice(0, clean.length)).toEqual(clean);
        // a fault is reported inside the damaged item (header or frame), never before it
        const damagedStart = at < 8 ? 0 : stream.frames.find((f) => f.offset + f.raw.length > at)!.offset;
        for (const error of result.errors) expect(error.offset).toBeGreaterThanOrEqual(damagedStart);
      }),
      { numRuns: 300 },
    );
  });

  it('returns nothing after an error and never throws', () => {
    const parser = new FrameParser();
    const out = parser.push(Uint8Array.of(0x47, 0x45, 0x54));
    expect(out.map((i) => i.kind)).toEqual(['error']);
    expect(parser.stopped).toBe(true);
    expect(parser.error?.code).toBe('not-amqp');
    expect(parser.push(encodeProtocolHeader())).toEqual([]);
    expect(parser.push(new Uint8Array(0))).toEqual([]);
    expect(parser.end()).toEqual([]);
    expect(parser.offset).toBe(0);
  });
});

describe('FrameParser: frame-max from tune-ok', () => {
  // connection.tune-ok: class 10 method 31, channel-max 0, frame-max, heartbeat 0
  const tuneOk = (frameMax: number) =>
    frameBytes(1, 0, Uint8Array.of(0, 10, 0, 31, 0, 0, frameMax >>> 24, (frameMax >>> 16) & 0xff, (frameMax >>> 8) & 0xff, frameMax & 0xff, 0, 0));
  const stream = concat([tuneOk(131072), frameBytes(3, 1, patterned(100_000, 1)), frameBytes(3, 1, patterned(131073, 2))]);

  it('applies a tune-ok to the frames after it, in whatever chunks they come', () => {
    for (const chunks of [[stream], [...splitEvery(stream.subarray(0, 40), 1), stream.subarray(40)], splitEvery(stream, 7), splitEvery(stream, 65536)]) {
      const seen: number[] = [];
      const result = runChunks(chunks, {
        frameMax: 4096,
        onTuneOk: (frameMax) => {
          seen.push(frameMax);
          return frameMax + 8;
        },
      });
      expect(seen).toEqual([131072]);
      expect(result.parser.frameMax).toBe(131080);
      // the 100,000-byte frame is within the new limit; the next (131081 bytes) is over it
      expect(result.frames.map((f) => f.raw.length)).toEqual([20, 100_008]);
      expect(onlyError(result)).toMatchObject({ code: 'frame-too-large', offset: 100_028 });
    }
  });

  it('without onTuneOk, the limit stays until setFrameMax', () => {
    const result = runChunks([stream], { frameMax: 4096 });
    expect(result.frames).toHaveLength(1);
    expect(onlyError(result).code).toBe('frame-too-large');
  });
});
