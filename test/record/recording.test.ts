import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type Direction, type SpyEvent, type UndecodedBytesEvent } from '../../src/events.js';
import { stringifyEvent } from '../../src/output/event-json.js';
import { createRecorder, type Recorder } from '../../src/record/recorder.js';
import { makeRecordingHeader, recordingLine } from '../../src/record/recording-format.js';
import { openRecording, RecordingError } from '../../src/record/recording-reader.js';
import { replayRecording } from '../../src/record/replay.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { parseFilter } from '../../src/view/filter.js';
import { capturedSession } from '../support/fixtures.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-record-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const tmpFile = (name = 'session.jsonl') => path.join(dir, `${++fileNo}-${name}`);

const header = (secrets: 'masked' | 'kept' = 'masked') =>
  makeRecordingHeader({
    tool: 'amqp-spy test',
    startedMicros: 1_700_000_000_000_000,
    mode: 'proxy',
    listen: '127.0.0.1:5673',
    upstream: '127.0.0.1:5672',
    secrets,
  });

interface LiveSession {
  readonly events: SpyEvent[];
  readonly recorder: Recorder;
  readonly bus: EventBus;
  open(conn: number): ConnectionTap;
}

/** A bus as the proxy session builds it: taps feed it, a collector and the recorder listen. */
function liveSession(file: string, options: { keepSecrets?: boolean; highWaterBytes?: number; batchBytes?: number } = {}): LiveSession {
  const events: SpyEvent[] = [];
  const recorder = createRecorder({
    path: file,
    header: header(options.keepSecrets ? 'kept' : 'masked'),
    keepSecrets: options.keepSecrets ?? false,
    ...(options.highWaterBytes !== undefined ? { highWaterBytes: options.highWaterBytes } : {}),
    ...(options.batchBytes !== undefined ? { batchBytes: options.batchBytes } : {}),
  });
  const bus = new EventBus([(e) => events.push(e), recorder.sink], (f) => {
    throw f.error;
  });
  return {
    events,
    recorder,
    bus,
    open(conn) {
      const tap = new ConnectionTap(conn, bus, { keepUndecoded: true, keepSecrets: options.keepSecrets ?? false });
      bus.emit({
        kind: 'conn.open',
        seq: bus.nextSeq(),
        ts: 1_700_000_000_000_000 + conn,
        conn,
        client: { address: '127.0.0.1', port: 40000 + conn },
        server: { address: '127.0.0.1', port: 5672 },
      });
      return tap;
    },
  };
}

/** Feeds both directions of a captured session in alternating chunks, with advancing times. */
function feedCaptured(tap: ConnectionTap, c2s: Uint8Array, s2c: Uint8Array, chunk: number, ts0: number): number {
  let ts = ts0;
  for (let at = 0; at < Math.max(c2s.length, s2c.length); at += chunk) {
    if (at < c2s.length) tap.feed('c2s', c2s.subarray(at, at + chunk), (ts += 137));
    if (at < s2c.length) tap.feed('s2c', s2c.subarray(at, at + chunk), (ts += 211));
  }
  return ts;
}

async function replayed(
  file: string,
  options: { lenient?: boolean; filter?: string; showSecrets?: boolean } = {},
): Promise<{ events: SpyEvent[]; warnings: string[] }> {
  const events: SpyEvent[] = [];
  const warnings: string[] = [];
  await replayRecording({
    path: file,
    sinks: [(e) => events.push(e)],
    lenient: options.lenient ?? false,
    showSecrets: options.showSecrets ?? false,
    ...(options.filter !== undefined ? { filter: parseFilter(options.filter) } : {}),
    onWarning: (w) => warnings.push(w),
  });
  return { events, warnings };
}

function startOk(user: string, password: string): Uint8Array {
  return encodeMethodFrame(0, 'connection.start-ok', {
    'client-properties': { entries: [] },
    mechanism: 'PLAIN',
    response: Buffer.from(`\0${user}\0${password}`),
    locale: 'en_US',
  });
}

function allRawBytes(file: string): Buffer {
  const parts: Buffer[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
    if (line === '') continue;
    const json = JSON.parse(line) as { raw?: string; data?: string };
    const b64 = json.raw ?? json.data;
    if (b64 !== undefined) parts.push(Buffer.from(b64, 'base64'));
  }
  return Buffer.concat(parts);
}

describe('recording and replay', () => {
  it('replays a real captured session as the same events, seq for seq and byte for byte', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const { c2s, s2c } = capturedSession();
    const tap1 = live.open(1);
    const tap2 = live.open(2);
    // two connections interleaved, in odd chunk sizes, so frames span chunks
    let ts = feedCaptured(tap1, c2s.subarray(0, 300), s2c.subarray(0, 700), 97, 1_700_000_000_001_000);
    ts = feedCaptured(tap2, c2s, s2c, 1013, ts);
    feedCaptured(tap1, c2s.subarray(300), s2c.subarray(700), 4096, ts);
    tap2.close('client closed', ts + 5);
    tap1.close('upstream closed', ts + 9);
    await live.recorder.close();

    expect(live.events.filter((e) => e.kind === 'message').length).toBeGreaterThan(0);
    const { events, warnings } = await replayed(file);
    expect(warnings).toEqual([]);
    expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
    // every forwarded byte is in the file, per connection and direction
    const lines = fs
      .readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as { conn: number; dir?: Direction; raw?: string; kind: string });
    const stream = (conn: number, d: Direction) =>
      Buffer.concat(
        lines.filter((l) => l.conn === conn && l.dir === d && l.raw !== undefined && l.kind !== 'decode.error').map((l) => Buffer.from(l.raw!, 'base64')),
      );
    // the client's stream differs only where its password was masked
    const recordedC2s = stream(2, 'c2s');
    expect(recordedC2s.length).toBe(c2s.length);
    const differing = [...recordedC2s.keys()].filter((i) => recordedC2s[i] !== c2s[i]);
    expect(differing.length).toBeGreaterThan(0);
    expect(differing.every((i) => recordedC2s[i] === 0x2a)).toBe(true);
    expect(stream(2, 's2c').equals(s2c)).toBe(true);
    // derived message events are not written
    expect(lines.some((l) => l.kind === 'message')).toBe(false);
  });

  it('writes frame lines in exactly the --json schema', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const { c2s, s2c } = capturedSession();
    feedCaptured(live.open(1), c2s, s2c, 777, 1);
    await live.recorder.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(1);
    const recorded = live.events.filter((e) => e.kind !== 'message');
    expect(recorded.some((e) => e.kind === 'frame' && e.insight !== undefined)).toBe(true);
    expect(lines).toEqual(recorded.map((e) => recordingLine(e, false)));
    expect(lines).toEqual(recorded.map(stringifyEvent));
  });

  it('writes the header first, with format, version, tool, start time, listen and upstream', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    await live.recorder.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.length).toBe(2);
    expect(JSON.parse(lines[0]!)).toEqual({
      format: 'amqp-spy',
      version: 1,
      tool: 'amqp-spy test',
      started: '2023-11-14T22:13:20.000Z',
      startedMicros: 1_700_000_000_000_000,
      mode: 'proxy',
      listen: '127.0.0.1:5673',
      upstream: '127.0.0.1:5672',
      secrets: 'masked',
    });
    const recording = await openRecording(file);
    expect(recording.header.listen).toBe('127.0.0.1:5673');
  });

  it('masks passwords in the raw bytes with the same length by default; --record-secrets keeps them', async () => {
    const password = 'hunter2-very-secret';
    for (const keepSecrets of [false, true]) {
      const file = tmpFile();
      const live = liveSession(file, { keepSecrets });
      const tap = live.open(1);
      tap.feed('c2s', encodeProtocolHeader(), 1);
      tap.feed('c2s', startOk('alice', password), 2);
      tap.feed('c2s', encodeMethodFrame(0, 'connection.update-secret', { 'new-secret': Buffer.from('token-abcdef'), reason: 'refresh' }), 3);
      tap.close('client closed', 4);
      await live.recorder.close();
      const text = fs.readFileSync(file, 'utf8');
      const raw = allRawBytes(file);
      expect(text.includes(password)).toBe(false); // the decoded form is always masked
      expect(raw.includes(password)).toBe(keepSecrets);
      expect(raw.includes('token-abcdef')).toBe(keepSecrets);
      expect(raw.includes('alice')).toBe(true);
      // same length: the masked frame is still a well-formed frame of the same size
      const frameLine = text.split('\n').find((l) => l.includes('connection.start-ok'))!;
      expect(Buffer.from((JSON.parse(frameLine) as { raw: string }).raw, 'base64').length).toBe(startOk('alice', password).length);
      // replay shows the same masked events unless asked to show secrets
      const { events } = await replayed(file);
      expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
      const shown = await replayed(file, { showSecrets: true });
      expect(shown.events.map(stringifyEvent).join('\n').includes(password)).toBe(keepSecrets);
    }
  });

  it('keeps undecodable bytes: a stream that stops decoding replays to the same events', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const tap = live.open(1);
    tap.feed('c2s', encodeProtocolHeader(), 10);
    tap.feed(
      'c2s',
      Buffer.concat([encodeMethodFrame(0, 'connection.start-ok', { mechanism: 'PLAIN', response: 'x', locale: 'en_US' }), Buffer.from('GET / HTTP/1.1\r\n')]),
      11,
    );
    tap.feed('c2s', Buffer.from('Host: example\r\n\r\n'), 12);
    tap.close('client closed', 13);
    await live.recorder.close();
    expect(live.events.some((e) => e.kind === 'decode.error' && e.stopped)).toBe(true);
    expect(live.events.filter((e) => e.kind === 'bytes').length).toBe(2);
    const { events } = await replayed(file);
    expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
  });

  it('replays lines longer than a read (1 MiB): a 3 MiB body between small frames', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const tap = live.open(1);
    tap.feed('c2s', encodeProtocolHeader(), 10);
    // frames this large need a negotiated frame-max (before tune-ok the tap allows 4 KiB)
    tap.feed('c2s', encodeMethodFrame(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': 4 * 1024 * 1024, heartbeat: 0 }), 10);
    const body = Buffer.alloc(3 * 1024 * 1024 - 5, 0x5a);
    for (const size of [10, body.length, 20]) {
      tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'e', 'routing-key': `r${size}` }), 11);
      for (const frame of encodeContentFrames(1, 60, {}, body.subarray(0, size), 4 * 1024 * 1024)) tap.feed('c2s', frame, 12);
    }
    tap.close('client closed', 13);
    await live.recorder.close();
    expect(fs.statSync(file).size).toBeGreaterThan(4 * 1024 * 1024);
    const { events, warnings } = await replayed(file);
    expect(warnings).toEqual([]);
    expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
    expect(events.flatMap((e) => (e.kind === 'message' ? [e.body.length] : []))).toEqual([10, body.length, 20]);
  });

  it('applies the filter language to replayed events', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const { c2s, s2c } = capturedSession();
    feedCaptured(live.open(1), c2s, s2c, 512, 1);
    feedCaptured(live.open(2), c2s, s2c, 512, 10_000_000);
    await live.recorder.close();
    const { events } = await replayed(file, { filter: 'conn:2 dir:c2s' });
    const expected = live.events.filter((e) => e.conn === 2 && 'dir' in e && e.dir === 'c2s');
    expect(expected.length).toBeGreaterThan(3);
    expect(events.map(stringifyEvent)).toEqual(expected.map(stringifyEvent));
  });

  it('batches writes, reports overload past its high-water mark and drains; loses nothing', async () => {
    const file = tmpFile();
    const live = liveSession(file, { highWaterBytes: 64 * 1024, batchBytes: 16 * 1024 });
    const tap = live.open(1);
    tap.feed('c2s', encodeProtocolHeader(), 1);
    const publish = encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' });
    let sawOverload = false;
    for (let i = 0; i < 3000; i++) {
      tap.feed('c2s', publish, 2 + i);
      if (live.recorder.overloaded) sawOverload = true;
    }
    expect(sawOverload).toBe(true);
    await new Promise<void>((resolve) => live.recorder.onDrain(resolve));
    expect(live.recorder.overloaded).toBe(false);
    await live.recorder.close();
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBe(1 + 1 + 1 + 3000); // header, conn.open, protocol header, frames
    expect(live.recorder.bytesWritten).toBe(fs.statSync(file).size);
  });

  it('closeSync writes everything still buffered (the exit path)', () => {
    const file = tmpFile();
    const live = liveSession(file);
    const tap = live.open(1);
    tap.feed('c2s', encodeProtocolHeader(), 1);
    for (let i = 0; i < 100; i++) tap.feed('c2s', encodeMethodFrame(1, 'basic.qos', { 'prefetch-count': i }), 2 + i);
    live.recorder.closeSync();
    expect(fs.readFileSync(file, 'utf8').trimEnd().split('\n').length).toBe(1 + 2 + 100);
  });

  it('fails to create a recording in a missing directory with one clear line', () => {
    expect(() => createRecorder({ path: path.join(dir, 'no/such/dir/s.jsonl'), header: header() })).toThrow(
      /cannot write the recording .*s\.jsonl: no such directory/,
    );
  });
});

describe('withheld client bytes', () => {
  // 0-8 is not decoded: the start-ok after its header cannot be masked
  const ZERO_EIGHT = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0]);
  const password = 'pw-undecodable-08';

  function recordZeroEight(keepSecrets: boolean): Promise<{ file: string; live: LiveSession }> {
    const file = tmpFile();
    const live = liveSession(file, { keepSecrets });
    const tap = live.open(1);
    tap.feed('c2s', ZERO_EIGHT, 10);
    tap.feed('c2s', startOk('alice', password), 11);
    tap.feed('s2c', Buffer.from('server bytes'), 12);
    tap.close('client closed', 13);
    return live.recorder.close().then(() => ({ file, live }));
  }

  it('are recorded as their count ("withheld"), never their bytes, and replay to the same events', async () => {
    const { file, live } = await recordZeroEight(false);
    const text = fs.readFileSync(file, 'utf8');
    expect(allRawBytes(file).includes(password)).toBe(false);
    expect(text).not.toContain(password);
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l['kind'] === 'bytes')).toEqual([
      { seq: 4, ts: 11, conn: 1, kind: 'bytes', dir: 'c2s', offset: 8, withheld: startOk('alice', password).length },
      { seq: 6, ts: 12, conn: 1, kind: 'bytes', dir: 's2c', offset: 0, data: Buffer.from('server bytes').toString('base64') },
    ]);
    const { events, warnings } = await replayed(file);
    expect(warnings).toEqual([]);
    expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
    // --show-secrets cannot show what was never recorded
    const shown = await replayed(file, { showSecrets: true });
    expect(shown.events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
  });

  it('--record-secrets records them (header "kept"); replay shows them only with --show-secrets', async () => {
    const { file, live } = await recordZeroEight(true);
    expect(JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!)).toMatchObject({ secrets: 'kept' });
    expect(allRawBytes(file).includes(password)).toBe(true);
    // what every other sink saw: withheld
    expect(live.events.map(stringifyEvent).join('\n')).not.toContain(Buffer.from(startOk('alice', password)).toString('base64'));
    const masked = await replayed(file);
    expect(masked.events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
    const shown = await replayed(file, { showSecrets: true });
    const bytes = shown.events.find((e): e is UndecodedBytesEvent => e.kind === 'bytes' && e.dir === 'c2s')!;
    expect(Buffer.from(bytes.data!).includes(password)).toBe(true);
  });

  it('a credential frame cut short by the close replays to the same events', async () => {
    const file = tmpFile();
    const live = liveSession(file);
    const tap = live.open(1);
    tap.feed('c2s', encodeProtocolHeader(), 1);
    const update = encodeMethodFrame(0, 'connection.update-secret', { 'new-secret': 'token-cut-short', reason: 'refresh' });
    tap.feed('c2s', update.subarray(0, 30), 2);
    tap.close('client closed', 3);
    await live.recorder.close();
    expect(fs.readFileSync(file, 'utf8')).toContain('"withheld":30');
    expect(allRawBytes(file).includes('token')).toBe(false);
    const { events } = await replayed(file);
    expect(events.map(stringifyEvent)).toEqual(live.events.map(stringifyEvent));
    expect(events.map((e) => e.kind)).toEqual(['conn.open', 'protocol-header', 'decode.error', 'bytes', 'conn.close']);
  });

  it('replay --to sends what precedes them and warns that the rest of the connection is not replayed', async () => {
    const { startBroker } = await import('../../src/broker/broker-server.js');
    const { replayTo } = await import('../../src/commands/replay-to/replay-to.js');
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    try {
      const file = tmpFile();
      const live = liveSession(file);
      const tap = live.open(1);
      tap.feed('c2s', encodeProtocolHeader(), 1);
      tap.feed('s2c', encodeMethodFrame(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN', locales: 'en_US' }), 2);
      tap.feed('c2s', startOk('guest', 'guest'), 3);
      tap.feed('s2c', encodeMethodFrame(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 }), 4);
      tap.feed(
        'c2s',
        Buffer.concat([
          encodeMethodFrame(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 0 }),
          encodeMethodFrame(0, 'connection.open', { 'virtual-host': '/' }),
        ]),
        5,
      );
      tap.feed('s2c', encodeMethodFrame(0, 'connection.open-ok', {}), 6);
      // garbage stops decoding; an update-secret follows in the same bytes
      tap.feed('c2s', Buffer.concat([Buffer.of(9, 9, 9), encodeMethodFrame(0, 'connection.update-secret', { 'new-secret': 'token-x', reason: 'r' })]), 7);
      tap.feed('c2s', encodeMethodFrame(1, 'channel.open', {}), 8);
      tap.close('client closed', 9);
      await live.recorder.close();
      const warnings: string[] = [];
      const result = await replayTo({
        path: file,
        target: { host: '127.0.0.1', port: broker.address.port, tls: false },
        timeoutMs: 2000,
        onWarning: (w) => warnings.push(w),
      });
      expect(warnings).toEqual([
        expect.stringMatching(
          /line \d+: connection #1: the recording withheld \d+ client bytes that may hold credentials \(record with --record-secrets to replay them\); the rest of this connection is not replayed/,
        ),
      ]);
      expect(result.differences).toEqual([]);
      expect(result.compared).toBe(3); // start, tune, open-ok
      expect(result.framesSent).toBe(4); // header, start-ok, tune-ok, open: nothing after the withheld bytes
    } finally {
      await broker.close();
    }
  });
});

describe('reading bad recordings', () => {
  async function recordedFile(): Promise<string> {
    const file = tmpFile();
    const live = liveSession(file);
    const { c2s, s2c } = capturedSession();
    const tap = live.open(1);
    feedCaptured(tap, c2s, s2c, 4096, 1);
    tap.close('client closed', 99_999_999);
    await live.recorder.close();
    return file;
  }

  async function failure(file: string, options: { lenient?: boolean } = {}): Promise<RecordingError> {
    try {
      await replayed(file, options);
    } catch (error) {
      expect(error).toBeInstanceOf(RecordingError);
      expect((error as Error).message).not.toContain('\n');
      return error as RecordingError;
    }
    throw new Error('replay accepted the file');
  }

  const write = (content: string | Buffer, name?: string) => {
    const file = tmpFile(name);
    fs.writeFileSync(file, content);
    return file;
  };

  it('a missing file, an empty file, a directory', async () => {
    expect((await failure(path.join(dir, 'nope.jsonl'))).message).toMatch(/cannot read .*nope\.jsonl: no such file/);
    expect((await failure(write(''))).message).toMatch(/is empty/);
    expect((await failure(dir)).message).toMatch(/it is a directory/);
  });

  it('not JSON, another format, --json output, a newer version', async () => {
    expect((await failure(write('hello world\n'))).message).toMatch(/not an amqp-spy recording: line 1 is not JSON/);
    expect((await failure(write('{"format":"pcapng"}\n'))).message).toMatch(/line 1 has no "format":"amqp-spy"/);
    expect((await failure(write('{"seq":1,"ts":1,"conn":1,"kind":"conn.open"}\n'))).message).toMatch(/looks like --json output/);
    const newer = await failure(write('{"format":"amqp-spy","version":2}\n'));
    expect(newer.message).toMatch(/newer amqp-spy \(recording format version 2; this one reads version 1\)/);
    expect(newer.line).toBe(1);
  });

  it('a pcap suggests amqp-spy read, raw AMQP bytes amqp-spy decode', async () => {
    const pcap = Buffer.alloc(24);
    pcap.writeUInt32LE(0xa1b2c3d4, 0);
    expect((await failure(write(pcap, 'capture.pcap'))).message).toMatch(
      /is a pcap capture, not an amqp-spy recording: read it with amqp-spy read .*capture\.pcap/,
    );
    const { c2s, s2c } = capturedSession();
    expect((await failure(write(c2s, 'c2s.bin'))).message).toMatch(/raw AMQP bytes.*amqp-spy decode/);
    expect((await failure(write(s2c, 's2c.bin'))).message).toMatch(/binary data.*amqp-spy decode/);
  });

  it('a corrupt line: its number, and --lenient skips it with a warning', async () => {
    const file = await recordedFile();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[5] = lines[5]!.slice(0, 20);
    lines[7] = '{"kind":"frame","ts":1,"conn":1,"dir":"up","raw":""}';
    const corrupt = write(lines.join('\n'));
    const error = await failure(corrupt);
    expect(error.line).toBe(6);
    expect(error.message).toMatch(/line 6 is corrupt: not valid JSON \(--lenient skips corrupt lines\)/);
    const { events, warnings } = await replayed(corrupt, { lenient: true });
    expect(warnings).toEqual([expect.stringMatching(/line 6 is corrupt.*skipped/), expect.stringMatching(/line 8 is corrupt: frame without "dir".*skipped/)]);
    expect(events.length).toBeGreaterThan(10);
  });

  it('a last line cut short (as after SIGKILL) replays with a warning', async () => {
    const file = await recordedFile();
    const text = fs.readFileSync(file, 'utf8');
    const whole = await replayed(file);
    const cut = write(text.slice(0, text.length - 40));
    const { events, warnings } = await replayed(cut);
    expect(warnings).toEqual([
      expect.stringMatching(/the last line \(\d+\) is cut short.*ignored/),
      expect.stringMatching(/the recording ends while connection #1 is open \(it was stopped abruptly\)/),
    ]);
    // everything before the cut line replays as it did
    const n = text.trimEnd().split('\n').length;
    expect(warnings[0]).toContain(`(${n})`);
    expect(events.map(stringifyEvent)).toEqual(whole.events.slice(0, events.length).map(stringifyEvent));
    expect(events.length).toBeLessThan(whole.events.length);
  });
});
