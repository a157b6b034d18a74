// Captures in, events out: synthetic captures of a recorded session (every file format and link
// layer, IPv4 and IPv6), then the same conversation reordered, retransmitted, cut by a snaplen,
// with segments lost, or joined mid-stream. The frames read back must be the session's own,
// and bytes the capture lacks must be reported, never invented.
import { describe, expect, it } from 'vitest';
import { CaptureFormatError } from '../../src/capture/capture-file.js';
import { readCapture, type CaptureReadResult } from '../../src/capture/read-capture.js';
import { EventBus, type DecodeErrorEvent, type FrameEvent, type SpyEvent } from '../../src/events.js';
import { createTapObserver } from '../../src/tap/tap-observer.js';
import { captureFile, conversation, type CaptureFileOptions, type FileFormat, type LinkLayer, SYN, type TcpPacket } from '../support/capture-builder.js';
import { decodeStream } from '../support/decode-stream.js';
import { capturedSession } from '../support/fixtures.js';

interface Read {
  readonly events: SpyEvent[];
  readonly notices: string[];
  readonly result: CaptureReadResult;
}

async function read(file: Buffer, options: { chunk?: number; ports?: number[]; maxConnections?: number; bufferBudget?: number } = {}): Promise<Read> {
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const bus = new EventBus([(e) => events.push(e)]);
  const observer = createTapObserver(bus, { keepUndecoded: true, frameMaxUntilTuneOk: 0, showSecrets: true });
  const chunk = options.chunk ?? 64 * 1024;
  async function* input(): AsyncGenerator<Buffer> {
    for (let at = 0; at < file.length; at += chunk) yield file.subarray(at, at + chunk);
  }
  const result = await readCapture({
    source: 'test.pcap',
    input: input(),
    observer,
    notice: (line) => notices.push(line),
    ...(options.ports ? { ports: options.ports } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.bufferBudget !== undefined ? { bufferBudget: options.bufferBudget } : {}),
  });
  return { events, notices, result };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const framesOf = (events: SpyEvent[], dir: 'c2s' | 's2c') => events.filter((e): e is FrameEvent => e.kind === 'frame' && e.dir === dir).map((e) => hex(e.raw));
const errorsOf = (events: SpyEvent[]) => events.filter((e): e is DecodeErrorEvent => e.kind === 'decode.error');

const { c2s, s2c } = capturedSession();
const expected = {
  c2s: decodeStream(c2s.subarray(8)).map((f) => hex(f.raw.raw)),
  s2c: decodeStream(s2c).map((f) => hex(f.raw.raw)),
};

describe('reading captures: formats and link layers', () => {
  const formats: FileFormat[] = ['pcap', 'pcap-be', 'pcap-ns', 'pcapng', 'pcapng-be'];
  const links: LinkLayer[] = ['ethernet', 'vlan', 'qinq', 'sll', 'sll2', 'null', 'raw'];
  const cases: CaptureFileOptions[] = [
    ...formats.map((format) => ({ format })),
    ...links.map((link) => ({ link })),
    { ip: 6 },
    { ip: 6, link: 'vlan', format: 'pcapng' },
    { ip: 6, link: 'sll2' },
  ];
  for (const options of cases) {
    it(`${options.format ?? 'pcap'} ${options.link ?? 'ethernet'} IPv${options.ip ?? 4}: the session's frames, both directions`, async () => {
      const { events, result, notices } = await read(captureFile(conversation(c2s, s2c), options), { chunk: 4093 });
      expect(notices).toEqual([]);
      expect(framesOf(events, 'c2s')).toEqual(expected.c2s);
      expect(framesOf(events, 's2c')).toEqual(expected.s2c);
      expect(errorsOf(events).filter((e) => e.error.code === 'not-decoded')).toEqual([]);
      expect(result.counters.amqpConnections).toBe(1);
      const open = events.find((e) => e.kind === 'conn.open');
      expect(open).toMatchObject(
        options.ip === 6
          ? { client: { address: '2001:db8::1', port: 40000 }, server: { address: '2001:db8::2', port: 5672 } }
          : { client: { address: '10.0.0.1', port: 40000 }, server: { address: '10.0.0.2', port: 5672 } },
      );
      const close = events.at(-1);
      expect(close).toMatchObject({ kind: 'conn.close', socket: { by: 'client', how: 'closed' } });
    });
  }

  it('timestamps are the packets’ (µs), nanosecond files included', async () => {
    const packets = conversation(c2s, s2c, { start: 1_750_000_000_123_456 });
    for (const format of ['pcap', 'pcap-ns', 'pcapng'] as const) {
      const { events } = await read(captureFile(packets, { format }));
      expect(events[0]).toMatchObject({ kind: 'conn.open', ts: 1_750_000_000_123_456 });
      const header = events.find((e) => e.kind === 'protocol-header')!;
      expect(header.ts).toBe(packets.find((p) => p.data.length > 0)!.ts);
    }
  });
});

describe('TCP reassembly', () => {
  const dataPackets = (packets: TcpPacket[]) => packets.map((p, i) => ({ p, i })).filter(({ p }) => p.data.length > 0);

  it('segments out of order are put back in order', async () => {
    const packets = conversation(c2s, s2c, { mss: 100 });
    // swap neighbouring server segments, and hold one client segment back by five packets
    const data = dataPackets(packets).filter(({ p }) => !p.fromClient);
    for (let k = 2; k + 2 < data.length; k += 6) {
      const a = data[k]!.i;
      const b = data[k + 2]!.i;
      [packets[a], packets[b]] = [packets[b]!, packets[a]!];
    }
    const { events, result } = await read(captureFile(packets));
    expect(framesOf(events, 'c2s')).toEqual(expected.c2s);
    expect(framesOf(events, 's2c')).toEqual(expected.s2c);
    expect(result.counters.outOfOrder).toBeGreaterThan(5);
    expect(result.counters.gaps).toBe(0);
  });

  it('retransmissions and overlapping segments are trimmed, never doubled', async () => {
    const packets = conversation(c2s, s2c, { mss: 300 });
    const out: TcpPacket[] = [];
    for (const p of packets) {
      out.push(p);
      if (p.data.length > 0 && p.seq % 3 === 0) out.push({ ...p, ts: p.ts }); // exact retransmission
      if (p.data.length > 20 && p.seq % 5 === 1) {
        // a repacketised retransmission: half of this segment again, starting 10 bytes in
        out.push({ ...p, seq: (p.seq + 10) >>> 0, data: p.data.subarray(10, 10 + Math.floor(p.data.length / 2)) });
      }
    }
    // a segment that overlaps the one before and goes beyond it (new bytes after old ones)
    const { events, result } = await read(captureFile(out));
    expect(framesOf(events, 'c2s')).toEqual(expected.c2s);
    expect(framesOf(events, 's2c')).toEqual(expected.s2c);
    expect(result.counters.retransmitted).toBeGreaterThan(0);
  });

  it('an overlapping segment that also carries new bytes delivers only the new ones', async () => {
    const packets = conversation(c2s, s2c, { mss: 200 });
    const out: TcpPacket[] = [];
    const serverData = packets.filter((p) => !p.fromClient && p.data.length > 0);
    const victim = serverData[3]!;
    const next = serverData[4]!;
    for (const p of packets) {
      if (p === next) {
        // the last 50 bytes of the victim again, glued to the next segment's bytes
        out.push({ ...p, seq: (victim.seq + victim.data.length - 50) >>> 0, data: Buffer.concat([victim.data.subarray(-50), next.data]) });
        continue;
      }
      out.push(p);
    }
    const { events, result } = await read(captureFile(out));
    expect(framesOf(events, 's2c')).toEqual(expected.s2c);
    expect(result.counters.overlapping).toBe(1);
  });

  it('a lost segment is a gap of its size: decoding resynchronises at the next frame, no byte invented', async () => {
    const packets = conversation(c2s, s2c, { mss: 120 });
    const serverData = packets.filter((p) => !p.fromClient && p.data.length > 0);
    const lost = serverData[6]!;
    const { events, result } = await read(captureFile(packets.filter((p) => p !== lost)));
    expect(result.counters.gaps).toBe(1);
    expect(result.counters.lostBytes).toBe(lost.data.length);
    const gapError = errorsOf(events).find((e) => e.dir === 's2c' && /missing from the capture/.test(e.error.text));
    expect(gapError?.error.text).toMatch(new RegExp(`^${lost.data.length} bytes missing from the capture`));
    expect(gapError?.stopped).toBe(false);
    // every frame shown is one of the session's, in order; only those around the gap are missing
    const got = framesOf(events, 's2c');
    let k = 0;
    for (const f of got) {
      k = expected.s2c.indexOf(f, k);
      expect(k).toBeGreaterThanOrEqual(0);
      k++;
    }
    expect(got.length).toBeGreaterThan(expected.s2c.length - 5);
    expect(got.at(-1)).toBe(expected.s2c.at(-1));
    expect(framesOf(events, 'c2s')).toEqual(expected.c2s);
  });

  it('a segment lost inside a frame of known size: exactly that frame is missing, no scan', async () => {
    const packets = conversation(c2s, s2c, { mss: 1400 });
    // the server's stream: a segment well inside one of the large body frames
    const frames = decodeStream(s2c);
    const big = frames.find((f) => f.raw.raw.length > 100_000)!;
    const start = big.raw.offset;
    const serverData = packets.filter((p) => !p.fromClient && p.data.length > 0);
    const base = serverData[0]!.seq;
    const lost = serverData.find((p) => p.seq - base > start + 20_000)!;
    const { events, result } = await read(captureFile(packets.filter((p) => p !== lost)));
    expect(result.counters.lostBytes).toBe(lost.data.length);
    const index = frames.indexOf(big);
    expect(framesOf(events, 's2c')).toEqual([...expected.s2c.slice(0, index), ...expected.s2c.slice(index + 1)]);
    const note = errorsOf(events).find((e) => e.dir === 's2c' && /missing from the capture/.test(e.error.text))!;
    expect(note.error.text).toBe(
      `${lost.data.length} bytes missing from the capture (and ${big.raw.raw.length - lost.data.length} captured bytes of the frames they cut skipped): decoding resynchronised at the next frame boundary`,
    );
    expect(note.error.offset).toBe(start);
  });

  it('a capture that starts mid-stream on --port resynchronises at a frame boundary and says so', async () => {
    const packets = conversation(c2s, s2c, { mss: 150 });
    // from the middle of the conversation, inside a segment of each side: no handshake
    const start = packets.findIndex((p, i) => i > 20 && p.data.length > 0);
    const { events, result } = await read(captureFile(packets.slice(start), { serverPort: 5673 }), { ports: [5673] });
    expect(result.counters.midStreamConnections).toBe(1);
    const notes = errorsOf(events).filter((e) => /capture starts in the middle/.test(e.error.text));
    expect(notes.map((e) => e.dir).sort()).toEqual(['c2s', 's2c']);
    for (const dir of ['c2s', 's2c'] as const) {
      const got = framesOf(events, dir);
      expect(got.length).toBeGreaterThan(3);
      // the frames read are the session's last ones
      expect(got).toEqual(expected[dir].slice(expected[dir].length - got.length));
    }
    // not on a port asked for: not followed
    const other = await read(captureFile(packets.slice(start), { serverPort: 5673 }));
    expect(other.result.counters.amqpConnections).toBe(0);
  });

  it('a snaplen cut is counted, and what it cut is a gap', async () => {
    const packets = conversation(c2s, s2c, { mss: 1400 });
    const { events, result } = await read(captureFile(packets, { snaplen: 300 }));
    expect(result.counters.truncatedPackets).toBeGreaterThan(0);
    expect(result.counters.lostBytes).toBeGreaterThan(0);
    expect(errorsOf(events).some((e) => /missing from the capture/.test(e.error.text))).toBe(true);
    for (const f of framesOf(events, 's2c')) expect(expected.s2c).toContain(f);
  });

  it('data acknowledged by the peer but never captured is reported when the ACK is seen', async () => {
    const packets = conversation(c2s, s2c, { mss: 100, fin: false });
    const clientData = packets.filter((p) => p.fromClient && p.data.length > 0);
    const lost = clientData[2]!;
    const { events, result } = await read(captureFile(packets.filter((p) => p !== lost)));
    expect(result.counters.lostBytes).toBe(lost.data.length);
    // told within a few packets of the ACK, not only when the capture ends
    const gap = events.findIndex((e) => e.kind === 'decode.error' && e.dir === 'c2s');
    expect(events.slice(gap).filter((e) => e.kind === 'frame' && e.dir === 'c2s').length).toBeGreaterThan(5);
  });
});

describe('connections on the same addresses and ports', () => {
  it('a new SYN (another ISN) starts a new connection, a retransmitted SYN does not', async () => {
    const first = conversation(c2s, s2c, { fin: false, clientIsn: 1000 });
    // the SYN sent twice
    first.splice(1, 0, { ...first[0]! });
    const second = conversation(c2s, s2c, { clientIsn: 777_777, start: 1_700_000_100_000_000 });
    const { events, result } = await read(captureFile([...first, ...second]));
    expect(result.counters.amqpConnections).toBe(2);
    const closes = events.filter((e) => e.kind === 'conn.close');
    expect(closes.map((e) => e.conn)).toEqual([1, 2]);
    for (const conn of [1, 2]) {
      const own = events.filter((e) => e.conn === conn);
      expect(framesOf(own, 'c2s')).toEqual(expected.c2s);
      expect(framesOf(own, 's2c')).toEqual(expected.s2c);
    }
  });
});

describe('what is not AMQP, and hostile captures', () => {
  it('TLS is reported as TLS, once, not decoded as garbage', async () => {
    const hello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 7)]);
    const { events, notices, result } = await read(captureFile(conversation(hello, Buffer.from([0x16, 0x03, 0x03, 0, 1, 0])), { serverPort: 5671 }));
    expect(events).toEqual([]);
    expect(result.counters.tlsConnections).toBe(1);
    expect(notices).toEqual([expect.stringMatching(/^connection 10\.0\.0\.1:40000 → 10\.0\.0\.2:5671 is TLS: .*cannot be decoded/)]);
  });

  it('other protocols on other ports are ignored; AMQP is found on any port by its header', async () => {
    const http = captureFile(conversation(Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), { clientIsn: 5 }), { serverPort: 80 });
    const amqp = captureFile(conversation(c2s, s2c), { serverPort: 15999 });
    const { events, result } = await read(Buffer.concat([http, amqp.subarray(24)]));
    expect(result.counters.otherConnections).toBe(1);
    expect(result.counters.amqpConnections).toBe(1);
    expect(framesOf(events, 's2c')).toEqual(expected.s2c);
  });

  it('a flood of connections is capped, with the rest counted', async () => {
    const packets: TcpPacket[] = [];
    const files: Buffer[] = [];
    for (let i = 0; i < 300; i++) packets.push({ ts: i, fromClient: true, seq: i, ack: 0, flags: SYN, data: new Uint8Array(0) });
    for (let port = 0; port < 3; port++) files.push(captureFile(packets, { clientPort: 20000 + port }));
    // 300 SYNs per client port reuse one 4-tuple; different ports make different connections
    const many: Buffer[] = [];
    for (let port = 0; port < 2000; port++) many.push(captureFile(packets.slice(0, 1), { clientPort: 10000 + port }).subarray(24));
    const { notices, result } = await read(Buffer.concat([files[0]!, ...many]), { maxConnections: 500 });
    expect(result.counters.unfollowedConnections).toBe(1501);
    expect(notices.filter((n) => /later ones are not followed/.test(n))).toHaveLength(1);
  });

  it('out-of-order bytes beyond the memory budget are given up as a gap, not held', async () => {
    const packets = conversation(c2s, s2c, { mss: 100 });
    // the first server data segment is held back to the very end: everything after it waits
    const first = packets.findIndex((p) => !p.fromClient && p.data.length > 0);
    const held = packets[first]!;
    const reordered = [...packets.slice(0, first), ...packets.slice(first + 1).map((p) => (p.fromClient ? { ...p, ack: held.seq } : p)), held];
    const { result } = await read(captureFile(reordered), { bufferBudget: 2000 });
    expect(result.budgetRefusals).toBeGreaterThan(0);
    expect(result.counters.lostBytes).toBeGreaterThan(0);
  });
});

describe('bad input', () => {
  const failure = async (file: Buffer) => {
    try {
      await read(file);
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected a failure');
  };

  it('not a capture, an empty file, a truncated header: one-line errors (exit code 2)', async () => {
    const notCapture = await failure(Buffer.from('{"format":"amqp-spy"}\n'));
    expect(notCapture).toBeInstanceOf(CaptureFormatError);
    expect(notCapture.message).toBe('test.pcap: is not a pcap or pcapng capture (unknown magic number)');
    expect((notCapture as CaptureFormatError).exitCode).toBe(2);
    expect((await failure(Buffer.alloc(0))).message).toMatch(/empty or too short/);
    expect((await failure(captureFile([]).subarray(0, 10))).message).toMatch(/ends inside the capture file header/);
  });

  it('a file cut inside a packet: the packets before are read, the cut is one warning', async () => {
    const file = captureFile(conversation(c2s, s2c));
    const { events, notices } = await read(file.subarray(0, file.length - 30));
    expect(notices).toEqual([expect.stringMatching(/^warning: the capture ends inside a packet record at byte \d+ \(truncated file\)/)]);
    expect(framesOf(events, 'c2s')).toEqual(expected.c2s);
  });

  it('an unknown link type is refused in one line', async () => {
    const file = captureFile(conversation(c2s, s2c));
    file.writeUInt32LE(147, 20);
    expect((await failure(file)).message).toBe(
      'test.pcap: link type 147 is not supported (supported: Ethernet (with VLAN tags), Linux cooked SLL and SLL2, BSD/OpenBSD loopback, raw IP)',
    );
  });

  it('a corrupt pcapng block: one line naming where', async () => {
    const file = captureFile(conversation(c2s, s2c), { format: 'pcapng' });
    // the third block's trailing length
    const shb = file.readUInt32LE(4);
    const idb = file.readUInt32LE(shb + 4);
    const at = shb + idb;
    const len = file.readUInt32LE(at + 4);
    file.writeUInt32LE(len + 4, at + len - 4);
    expect((await failure(file)).message).toMatch(new RegExp(`^test.pcap: corrupt pcapng block at byte ${at}: its trailing length`));
    const huge = captureFile(conversation(c2s, s2c));
    huge.writeUInt32LE(0x7fffffff, 24 + 8);
    expect((await failure(huge)).message).toBe('test.pcap: corrupt packet record at byte 24: it claims 2147483647 bytes');
  });
});
