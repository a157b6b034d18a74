// The recorder's byte-level frame line writer must give exactly the line the general path
// (event → JSON object → JSON.stringify) gives, whatever the values and wherever a buffer
// fills up in the middle of a line.
import { describe, expect, it } from 'vitest';
import { fieldTable, typed } from '../../src/decoder/field-table.js';
import { encodeContentHeaderFrame, encodeFrame, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { EventBus, type FrameEvent, type SpyEvent } from '../../src/events.js';
import { base64Length, writeBase64 } from '../../src/output/base64-write.js';
import { stringifyEvent } from '../../src/output/event-json.js';
import { LineBuffers } from '../../src/output/line-buffers.js';
import { recordingLine, writeFrameLine } from '../../src/record/recording-format.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';

/** Frame events as a tap makes them from the given frames (c2s unless marked s2c). */
function frameEvents(frames: readonly (Uint8Array | { s2c: Uint8Array })[], ts: number): FrameEvent[] {
  const events: SpyEvent[] = [];
  const bus = new EventBus([(e) => events.push(e)], (f) => {
    throw f.error;
  });
  const tap = new ConnectionTap(7, bus, { keepUndecoded: true });
  let t = ts;
  for (const f of frames) {
    if (f instanceof Uint8Array) tap.feed('c2s', f, (t += 1234));
    else tap.feed('s2c', f.s2c, (t += 987));
  }
  return events.filter((e): e is FrameEvent => e.kind === 'frame');
}

function written(events: readonly FrameEvent[], batchBytes: number): string {
  const out = new LineBuffers(batchBytes);
  for (const e of events) writeFrameLine(out, e, false);
  out.seal();
  return Buffer.concat(out.takeSealed().buffers).toString('utf8');
}

const tricky = [
  encodeMethodFrame(1, 'queue.declare', {
    queue: 'naïve "quoted" \\ back\u0001slash ✓ 😀',
    durable: true,
    arguments: fieldTable({
      'x-message-ttl': typed('l', 2n ** 60n),
      'x-neg': typed('I', -5),
      'x-float': typed('d', 1.5),
      'x-inf': typed('d', Infinity),
      'x-bytes': typed('x', new Uint8Array([0, 255, 7])),
      'x-nested': fieldTable({ a: [1, 'two', null] }),
      ключ: 'значение',
    }),
  }),
  { s2c: encodeMethodFrame(1, 'queue.declare-ok', { queue: 'naïve "quoted" \\ back\u0001slash ✓ 😀', 'message-count': 4_000_000_000, 'consumer-count': 0 }) },
  encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' }),
  encodeContentHeaderFrame(1, {
    classId: 60,
    bodySize: 5,
    properties: {
      'content-type': 'application/json',
      headers: fieldTable({ trace: 'ü', n: typed('l', -(2n ** 62n)) }),
      timestamp: 2n ** 63n + 5n,
      'delivery-mode': 2,
    },
  }),
  encodeFrame(3, 1, new TextEncoder().encode('{"a":')),
  {
    s2c: encodeMethodFrame(1, 'channel.close', {
      'reply-code': 406,
      'reply-text': 'PRECONDITION_FAILED - inequivalent arg ‘durable’ "x"',
      'class-id': 50,
      'method-id': 10,
    }),
  },
  encodeHeartbeatFrame(),
  encodeMethodFrame(3000, 'channel.open', {}),
  { s2c: encodeMethodFrame(3000, 'channel.open-ok', {}) },
  encodeMethodFrame(3000, 'basic.publish', { exchange: 'x' }),
  encodeContentHeaderFrame(3000, { classId: 60, bodySize: 0, properties: { headers: fieldTable({}) } }),
  encodeFrame(3, 2, new Uint8Array(2000).fill(0xab)),
];

describe('frame lines written byte by byte', () => {
  const events = frameEvents(tricky, 9_007_199_254_000_000);

  it('equal the general JSON path for unusual values (escapes, non-ASCII, bigints, tables, insight)', () => {
    expect(events.length).toBe(tricky.length);
    expect(events.some((e) => e.insight?.error !== undefined)).toBe(true);
    const expected = events.map((e) => `${stringifyEvent(e)}\n`).join('');
    expect(written(events, 1 << 20)).toBe(expected);
    expect(events.map((e) => recordingLine(e, false))).toEqual(events.map(stringifyEvent));
  });

  it('are the same when buffers fill up inside any line', () => {
    const expected = written(events, 1 << 20);
    for (const batch of [1, 7, 64, 100, 333]) expect(written(events, batch)).toBe(expected);
  });

  it('name the right channel when one chunk holds frames of several channels', () => {
    const chunk = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', { exchange: 'a' }),
      encodeMethodFrame(2, 'basic.publish', { exchange: 'b' }),
      encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 5n }),
    ]);
    const inOneChunk = frameEvents([chunk], 1_000_000);
    expect(inOneChunk.map((e) => [e.ts, e.channel])).toEqual([
      [1_001_234, 1],
      [1_001_234, 2],
      [1_001_234, 1],
    ]);
    expect(written(inOneChunk, 1 << 20)).toBe(inOneChunk.map((e) => `${stringifyEvent(e)}\n`).join(''));
  });

  it('write arguments that are not in the spec order (or not all there) by their names', () => {
    const [publish] = frameEvents([encodeMethodFrame(1, 'basic.publish', { exchange: 'x', 'routing-key': 'k' })], 5);
    if (publish?.frame.type !== 'method') throw new Error('expected a method frame');
    const { method } = publish.frame;
    const variants: Record<string, unknown>[] = [
      { 'routing-key': 'k', exchange: 'x', ticket: 0, mandatory: false, immediate: true },
      { exchange: 'x', 'routing-key': 'k' },
      { ticket: 0, exchange: 'x', 'routing-key': 'k', mandatory: false, immediate: false, extra: 'kept' },
      {},
    ];
    const events = variants.map((args) => ({ ...publish, frame: { ...publish.frame, method: { ...method, args } } }) as FrameEvent);
    const lines = written(events, 1 << 20)
      .split('\n')
      .slice(0, -1);
    expect(lines).toEqual(events.map(stringifyEvent));
    expect(JSON.parse(lines[0]!).frame.method.args).toEqual(variants[0]);
    expect(JSON.parse(lines[3]!).frame.method.args).toEqual({});
  });

  it('hold large timestamps, sequence numbers and offsets as their exact digits', () => {
    const line = JSON.parse(written(events.slice(0, 1), 64)) as { ts: number; seq: number };
    expect(line.ts).toBe(events[0]!.ts);
    expect(String(line.ts)).toBe('9007199254001234');
  });
});

describe('base64 written in place', () => {
  it('matches Node for every length around the native cut-over, and each remainder', () => {
    const bytes = Uint8Array.from({ length: 1200 }, (_, i) => (i * 37 + 11) & 0xff);
    for (const n of [0, 1, 2, 3, 4, 5, 30, 31, 32, 509, 510, 511, 512, 513, 1100]) {
      const src = bytes.subarray(3, 3 + n);
      const dst = Buffer.alloc(base64Length(n) + 2, 0x21);
      const end = writeBase64(src, dst, 1);
      expect(end).toBe(1 + base64Length(n));
      expect(dst.subarray(1, end).toString('latin1')).toBe(Buffer.from(src).toString('base64'));
      expect(dst[0]).toBe(0x21);
      expect(dst[end]).toBe(0x21);
    }
  });
});

describe('integers written as digits', () => {
  it('match String(n) across digit counts, the 10^8 split, and values off the fast path', () => {
    const values = [
      0,
      1,
      9,
      10,
      11,
      99,
      100,
      101,
      12_345,
      99_999_999,
      100_000_000,
      100_000_001,
      2 ** 31,
      2 ** 32 + 7,
      1_795_778_781_892_619,
      Number.MAX_SAFE_INTEGER,
      -1,
      -0,
      1.5,
      2 ** 60,
      1e21,
    ];
    for (let n = 1; n < 1e8; n = n * 7 + 3) values.push(n, n - 1, n + 1);
    const out = new LineBuffers(16);
    for (const n of values) {
      out.beginLine();
      out.integer(n);
      out.endLine();
    }
    out.seal();
    const text = Buffer.concat(out.takeSealed().buffers).toString('latin1');
    expect(text).toBe(values.map((n) => `${String(n)}\n`).join(''));
  });
});

describe('line buffers given back after their write', () => {
  const line = (out: LineBuffers, text: string) => {
    out.beginLine();
    out.ascii(text);
    out.endLine();
  };

  it('are reused, and a region still out is never written over', () => {
    const out = new LineBuffers(64, 4);
    const texts = Array.from({ length: 40 }, (_, i) => `line ${i} ${'x'.repeat(i % 13)}`);
    const held: { buffers: Buffer[]; copy: string }[] = [];
    const backing = new Set<ArrayBufferLike>();
    for (const [i, text] of texts.entries()) {
      line(out, text);
      if (i % 3 !== 2) continue;
      out.seal();
      const taken = out.takeSealed();
      for (const b of taken.buffers) backing.add(b.buffer);
      held.push({ buffers: taken.buffers, copy: Buffer.concat(taken.buffers).toString('latin1') });
      // every other batch is given back at once (its write finished); the rest stay out
      if (held.length % 2 === 0) out.release(held[held.length - 2]!.buffers);
    }
    out.seal();
    const rest = out.takeSealed();
    held.push({ buffers: rest.buffers, copy: Buffer.concat(rest.buffers).toString('latin1') });
    // batches never given back still hold exactly what was written into them
    for (let i = 1; i < held.length; i += 2) expect(Buffer.concat(held[i]!.buffers).toString('latin1')).toBe(held[i]!.copy);
    expect(held.map((h) => h.copy).join('')).toBe(texts.map((t) => `${t}\n`).join(''));
    // ~1.2 KB went through 64-byte buffers: without reuse that is ~20 of them
    const fresh = new LineBuffers(64, 4);
    const freshBacking = new Set<ArrayBufferLike>();
    for (const text of texts) {
      line(fresh, text);
      fresh.seal();
      const taken = fresh.takeSealed();
      for (const b of taken.buffers) freshBacking.add(b.buffer);
      fresh.release(taken.buffers);
    }
    expect(freshBacking.size).toBeLessThanOrEqual(3);
    expect(backing.size).toBeGreaterThan(freshBacking.size);
  });

  it('are all reused when a write gives back as many buffers at once as it keeps', () => {
    // a slow disk: one write takes ten buffers' worth of lines and gives them all back at once
    const distinct = (keep: number, lines: number) => {
      const out = new LineBuffers(256, keep);
      const backing = new Set<ArrayBufferLike>();
      let inFlight: Buffer[] = [];
      for (let i = 0; i < lines; i++) {
        // five lines fill a buffer
        line(out, `line ${String(i).padStart(4, '0')} ${'y'.repeat(40)}`);
        if (i % 50 !== 49) continue;
        out.release(inFlight);
        out.seal();
        inFlight = out.takeSealed().buffers;
        for (const b of inFlight) backing.add(b.buffer);
      }
      return backing.size;
    };
    // ten in flight, ten being filled and one partly: no more however long it runs
    expect(distinct(12, 1000)).toBeLessThanOrEqual(22);
    expect(distinct(12, 3000)).toBe(distinct(12, 1000));
    // keeping too few: every write's return drops buffers, and fresh ones replace them
    expect(distinct(4, 3000)).toBeGreaterThan(distinct(4, 1000) + 100);
  });

  it('are not reused while the regions of a discarded batch may still be read', () => {
    const out = new LineBuffers(32, 4);
    line(out, 'a'.repeat(20));
    out.seal();
    const first = out.takeSealed().buffers;
    line(out, 'b'.repeat(20)); // moves to a new buffer; the first stays out
    out.discard();
    out.release([]); // nothing given back
    for (let i = 0; i < 10; i++) line(out, 'c'.repeat(20));
    expect(Buffer.concat(first).toString('latin1')).toBe(`${'a'.repeat(20)}\n`);
  });
});
