// Every byte fed to a tap is in exactly one event (a frame's or protocol header's raw, a
// decode.error's raw, an undecoded span's data or withheld count), whatever the corruption
// and wherever the chunks split; and replaying the recording of those events shows the same
// events again, the same decode errors included.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeHeartbeatFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type Direction, type SpyEvent } from '../../src/events.js';
import { makeRecordingHeader, recordingLine } from '../../src/record/recording-format.js';
import { replayRecording } from '../../src/record/replay.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';

const m = encodeMethodFrame;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-every-byte-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** One direction of a session as its frames, so corruptions can aim at a frame's parts. */
type Stream = Uint8Array[];

function session(frameMax: number, publishes: readonly number[]): Record<Direction, Stream> {
  const c2s: Stream = [
    encodeProtocolHeader(),
    m(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\0alice\0s3cret!', locale: 'en_US' }),
    m(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': frameMax, heartbeat: 0 }),
    m(0, 'connection.open', { 'virtual-host': '/' }),
    m(1, 'channel.open', {}),
    m(1, 'confirm.select', {}),
  ];
  const s2c: Stream = [
    m(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN', locales: 'en_US' }),
    m(0, 'connection.tune', { 'channel-max': 0, 'frame-max': frameMax, heartbeat: 0 }),
    m(0, 'connection.open-ok', {}),
    m(1, 'channel.open-ok', {}),
    m(1, 'confirm.select-ok', {}),
  ];
  publishes.forEach((size, i) => {
    const body = Buffer.alloc(size, i + 1);
    c2s.push(
      m(1, 'basic.publish', { exchange: '', 'routing-key': 'q' }),
      ...encodeContentFrames(1, 60, { 'content-type': 'text/plain' }, body, frameMax || 4096),
    );
    s2c.push(
      m(1, 'basic.ack', { 'delivery-tag': BigInt(i + 1) }),
      m(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': BigInt(i + 1), exchange: '', 'routing-key': 'q' }),
      ...encodeContentFrames(1, 60, {}, body, frameMax || 4096),
    );
    if (i % 2 === 0) c2s.push(encodeHeartbeatFrame());
    c2s.push(m(0, 'connection.update-secret', { 'new-secret': `token-${i}`, reason: 'r' }));
  });
  c2s.push(m(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 }));
  s2c.push(m(0, 'connection.close-ok', {}));
  return { c2s, s2c };
}

/** Where and how a stream is broken: `frame` and `at` pick a frame and a byte in it. */
interface Corruption {
  readonly dir: Direction;
  readonly kind: 'frame-end' | 'type' | 'size' | 'flip' | 'insert' | 'cut';
  readonly frame: number;
  readonly at: number;
  readonly value: number;
  readonly bytes: Uint8Array;
}

function corrupt(stream: Stream, c: Corruption): Stream {
  const frames = stream.map((f) => Buffer.from(f));
  const i = c.frame % frames.length;
  const f = frames[i]!;
  const isHeader = f[0] === 0x41; // 'A': the protocol header is not a frame
  switch (c.kind) {
    case 'frame-end':
      f[f.length - 1] = c.value === 0xce ? 0 : c.value;
      break;
    case 'type':
      f[0] = [0, 4, 5, 9, 0x41, 0xff][c.value % 6]!;
      break;
    case 'size':
      // a frame an earlier cut left shorter than its size field has none to corrupt
      if (f.length < 7) break;
      if (isHeader) f[c.at % 8]! ^= 0xff;
      // a little off (the next frame's bytes are read as this one's), or far too large
      else f.writeUInt32BE(c.value % 2 === 0 ? Math.max(0, f.readUInt32BE(3) + (c.value % 17) - 8) : 0x7fffff00 + c.value, 3);
      break;
    case 'flip':
      f[c.at % f.length]! ^= c.value || 1;
      break;
    case 'insert':
      frames.splice(i, 0, Buffer.from(c.bytes));
      break;
    case 'cut':
      frames[i] = f.subarray(0, c.at % f.length);
      frames.length = i + 1;
      break;
  }
  return frames;
}

/** Cuts `bytes` at the given fractions (0..1) into chunks. */
function chunks(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].filter((n) => n > 0 && n < bytes.length).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.subarray(from, to));
    from = to;
  }
  return out.filter((c) => c.length > 0);
}

interface Run {
  readonly input: Record<Direction, Buffer>;
  readonly events: SpyEvent[];
}

function feed(input: Record<Direction, Buffer>, cuts: Record<Direction, readonly number[]>, order: readonly boolean[], showSecrets: boolean): Run {
  const events: SpyEvent[] = [];
  const bus = new EventBus([(e) => events.push(e)], (f) => {
    throw f.error;
  });
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true, showSecrets });
  let ts = 1_700_000_000_000_000;
  bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts, conn: 1, client: { address: '127.0.0.1', port: 40000 }, server: { address: '127.0.0.1', port: 5672 } });
  const queues = { c2s: chunks(input.c2s, cuts.c2s), s2c: chunks(input.s2c, cuts.s2c) };
  let turn = 0;
  while (queues.c2s.length > 0 || queues.s2c.length > 0) {
    const preferred: Direction = order[turn++ % Math.max(1, order.length)] ? 'c2s' : 's2c';
    const dir: Direction = queues[preferred].length > 0 ? preferred : preferred === 'c2s' ? 's2c' : 'c2s';
    tap.feed(dir, queues[dir].shift()!, (ts += 100));
  }
  tap.close('test over', ts + 1);
  return { input, events };
}

/** The bytes each event accounts for, per direction, in order; a withheld span as its length. */
function accounted(events: readonly SpyEvent[], dir: Direction): { offset: number | undefined; bytes: Uint8Array | number }[] {
  const out: { offset: number | undefined; bytes: Uint8Array | number }[] = [];
  for (const e of events) {
    if (!('dir' in e) || e.dir !== dir) continue;
    if (e.kind === 'frame' || e.kind === 'protocol-header') out.push({ offset: e.offset, bytes: e.raw });
    else if (e.kind === 'decode.error' && e.raw) out.push({ offset: undefined, bytes: e.raw });
    else if (e.kind === 'bytes') out.push({ offset: e.offset, bytes: e.data ?? e.withheld ?? 0 });
  }
  return out;
}

function expectEveryByteOnce(run: Run, exact: Record<Direction, boolean>): void {
  for (const dir of ['c2s', 's2c'] as const) {
    const parts = accounted(run.events, dir);
    let at = 0;
    for (const part of parts) {
      if (part.offset !== undefined) expect(part.offset, `${dir} event at offset ${part.offset}, expected ${at}`).toBe(at);
      at += typeof part.bytes === 'number' ? part.bytes : part.bytes.length;
    }
    expect(at, `${dir}: bytes in events`).toBe(run.input[dir].length);
    if (exact[dir]) {
      const joined = Buffer.concat(parts.map((p) => (typeof p.bytes === 'number' ? Buffer.alloc(p.bytes) : p.bytes)));
      expect(joined.equals(run.input[dir]), `${dir}: the events' bytes are the input`).toBe(true);
    }
  }
}

/** What replay must show again: everything but seq and time. */
function shape(events: readonly SpyEvent[]): unknown[] {
  return events.map((e) => {
    switch (e.kind) {
      case 'frame':
        return [e.kind, e.dir, e.offset, Buffer.from(e.raw).toString('hex'), e.insight ?? null];
      case 'protocol-header':
        return [e.kind, e.dir, e.offset, Buffer.from(e.raw).toString('hex')];
      case 'message':
        return [e.kind, e.dir, e.channel, Buffer.from(e.body).toString('hex')];
      case 'decode.error':
        return [e.kind, e.dir, e.error, e.stopped, e.raw ? Buffer.from(e.raw).toString('hex') : null];
      case 'bytes':
        return [e.kind, e.dir, e.offset, e.data ? Buffer.from(e.data).toString('hex') : null, e.withheld ?? null];
      case 'conn.open':
        return [e.kind];
      case 'conn.close':
        return [e.kind, e.unanswered.map((u) => u.name)];
      default:
        return [];
    }
  });
}

let fileNo = 0;
async function replayed(events: readonly SpyEvent[], showSecrets: boolean): Promise<SpyEvent[]> {
  const file = path.join(tmp, `${++fileNo}.jsonl`);
  const header = makeRecordingHeader({
    tool: 'amqp-spy test',
    startedMicros: 1_700_000_000_000_000,
    mode: 'proxy',
    listen: '127.0.0.1:5673',
    upstream: '127.0.0.1:5672',
    secrets: showSecrets ? 'kept' : 'masked',
  });
  const lines = [JSON.stringify(header), ...events.map((e) => recordingLine(e, showSecrets)).filter((l): l is string => l !== undefined)];
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const out: SpyEvent[] = [];
  await replayRecording({
    path: file,
    sinks: [(e) => out.push(e)],
    showSecrets,
    onWarning: (w) => {
      throw new Error(w);
    },
  });
  return out;
}

const corruption: fc.Arbitrary<Corruption> = fc.record({
  dir: fc.constantFrom<Direction>('c2s', 's2c'),
  kind: fc.constantFrom<Corruption['kind']>('frame-end', 'frame-end', 'type', 'size', 'size', 'flip', 'insert', 'cut'),
  frame: fc.nat(),
  at: fc.nat(),
  value: fc.integer({ min: 0, max: 255 }),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 24 }),
});

const scenario = fc.record({
  frameMax: fc.constantFrom(4096, 8192, 0),
  publishes: fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 4 }),
  corruptions: fc.array(corruption, { minLength: 1, maxLength: 2 }),
  cuts: fc.record({
    c2s: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
    s2c: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
  }),
  order: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
});

function inputOf(s: {
  readonly frameMax: number;
  readonly publishes: readonly number[];
  readonly corruptions: readonly Corruption[];
}): Record<Direction, Buffer> {
  const streams = session(s.frameMax, s.publishes);
  for (const c of s.corruptions) streams[c.dir] = corrupt(streams[c.dir], c);
  return { c2s: Buffer.concat(streams.c2s), s2c: Buffer.concat(streams.s2c) };
}

describe('ConnectionTap accounts for every byte', () => {
  it('a frame-end error in a frame that spans chunks: its first bytes are in the undecoded span', () => {
    const streams = session(4096, [100]);
    const publishBody = streams.c2s.length - 4; // the body frame of the publish
    const input = inputOf({
      frameMax: 4096,
      publishes: [100],
      corruptions: [{ dir: 'c2s', kind: 'frame-end', frame: publishBody, at: 0, value: 0x00, bytes: new Uint8Array(1) }],
    });
    const end = input.c2s.length - streams.c2s.slice(publishBody + 1).reduce((n, f) => n + f.length, 0);
    // the body frame is split; its bad end byte is in the second chunk
    const run = feed(input, { c2s: [(end - 20) / input.c2s.length], s2c: [] }, [true], true);
    const error = run.events.find((e) => e.kind === 'decode.error');
    expect(error).toMatchObject({ dir: 'c2s', stopped: true, error: { code: 'frame-end', offset: end - 1 } });
    expectEveryByteOnce(run, { c2s: true, s2c: true });
  });

  it('whatever the corruption and the chunks, with secrets shown: the exact bytes', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const run = feed(inputOf(s), s.cuts, s.order, true);
        expectEveryByteOnce(run, { c2s: true, s2c: true });
        expect(shape(await replayed(run.events, true))).toEqual(shape(run.events));
      }),
      { numRuns: 150 },
    );
  });

  it('with secrets masked: withheld spans count by length, and replay stops where the live tap did', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const run = feed(inputOf(s), s.cuts, s.order, false);
        // credential frames are masked in place (same length); the server's bytes are exact
        expectEveryByteOnce(run, { c2s: false, s2c: true });
        expect(shape(await replayed(run.events, false))).toEqual(shape(run.events));
      }),
      { numRuns: 100 },
    );
  });
});
