#!/usr/bin/env node
// Capture reading benchmark: amqp-spy against tshark on the same generated capture, same run.
//
//   npm run bench:pcap              (builds first)
//   node bench/pcap-bench.mjs [--mb 200] [--rss-mb 1024] [--connections 4] [--hostile 1000000] [--keep]
//
// A classic pcap (Ethernet, IPv4) of `--connections` AMQP connections one after another is
// written to a temporary file: the handshake of a recorded amqplib session, then publishes
// (basic.publish + content header + 64-byte body) in segments of up to 1448 bytes, and the
// broker's multiple acks, until the file is `--mb` MB. Then, each on that file:
//   amqp-spy (in-process)  readCapture → taps → a counting sink: the whole decode pipeline
//                          (reassembly, frames, messages, insight), nothing printed
//   amqp-spy read (CLI)    the command with a filter that matches nothing: the pipeline plus
//                          the filter, no output
//   tshark                 tshark -r FILE -d tcp.port==5672,amqp -Y amqp -T fields -e amqp.type
//                          (Wireshark's dissector with its TCP reassembly; frames counted from
//                          its output)
// and frames/s for each (frames: AMQP frames in the file, both directions). Then peak RSS of
// the CLI reading a `--rss-mb` capture (0: skipped), and of a hostile capture of `--hostile`
// AMQP connections opened (SYN, protocol header) and never closed (0: skipped): at most 10,000
// are followed at once, the rest counted. Numbers only; no assertions.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const MB = arg('mb', 200);
const RSS_MB = arg('rss-mb', 1024);
const CONNECTIONS = arg('connections', 4);
const HOSTILE = arg('hostile', 1_000_000);
const KEEP = args.includes('--keep');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'dist/cli.js');

// --- the capture -------------------------------------------------------------------------

/** A frame's bytes. */
function frame(type, channel, payload) {
  const b = Buffer.alloc(8 + payload.length);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[7 + payload.length] = 0xce;
  return b;
}
const shortstr = (s) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
const u16 = (v) => Buffer.from([v >> 8, v & 0xff]);
const u64 = (v) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};

/** The recorded fixture session's handshake and channel setup: its frames before its first message. */
function handshake(file, start) {
  const bytes = fs.readFileSync(path.join(ROOT, 'fixtures/sessions', file));
  let at = start;
  while (at + 11 <= bytes.length) {
    // a content method (publish, return, deliver, get-ok) starts a message: stop before it
    const content = bytes[at] === 1 && bytes.readUInt16BE(at + 7) === 60 && [40, 50, 60, 71].includes(bytes.readUInt16BE(at + 9));
    if (content) break;
    at += 8 + bytes.readUInt32BE(at + 3);
  }
  return bytes.subarray(0, at);
}
const C2S_HANDSHAKE = handshake('amqplib-rabbitmq.c2s.bin', 8);
const S2C_HANDSHAKE = handshake('amqplib-rabbitmq.s2c.bin', 0);

const PUBLISH = Buffer.concat([
  frame(1, 1, Buffer.concat([u16(60), u16(40), u16(0), shortstr(''), shortstr('bench.orders'), Buffer.from([0])])),
  frame(2, 1, Buffer.concat([u16(60), u16(0), u64(64), u16(0x8000), shortstr('text/plain')])),
  frame(3, 1, Buffer.alloc(64, 0x61)),
]);
const PUBLISH_FRAMES = 3;
const ACK_EVERY = 100;

const SEGMENT = 1448;
const ETH_IP_TCP = 14 + 20 + 20;

/** Writes the capture; returns the number of AMQP frames in it. */
function writeCapture(file, megabytes) {
  const fd = fs.openSync(file, 'w');
  const batch = Buffer.alloc(8 * 1024 * 1024);
  let used = 0;
  let written = 0;
  const flush = () => {
    fs.writeSync(fd, batch, 0, used);
    written += used;
    used = 0;
  };
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  header.copy(batch, 0);
  used = 24;
  let ts = 1_764_000_000_000_000;
  let frames = 0;
  const budget = megabytes * 1024 * 1024;
  const perConnection = budget / CONNECTIONS;
  for (let c = 0; c < CONNECTIONS; c++) {
    const clientPort = 40000 + c;
    let cseq = 1000 + c;
    let sseq = 900000 + c;
    const packet = (fromClient, flags, data) => {
      const length = ETH_IP_TCP + data.length;
      if (used + 16 + length > batch.length) flush();
      const p = used;
      batch.writeUInt32LE(Math.floor(ts / 1e6), p);
      batch.writeUInt32LE(ts % 1e6, p + 4);
      batch.writeUInt32LE(length, p + 8);
      batch.writeUInt32LE(length, p + 12);
      const e = p + 16;
      batch.fill(2, e, e + 12);
      batch.writeUInt16BE(0x0800, e + 12);
      const ip = e + 14;
      batch.fill(0, ip, ip + 40);
      batch[ip] = 0x45;
      batch.writeUInt16BE(40 + data.length, ip + 2);
      batch[ip + 8] = 64;
      batch[ip + 9] = 6;
      batch.set(fromClient ? [10, 0, 0, 1, 10, 0, 0, 2] : [10, 0, 0, 2, 10, 0, 0, 1], ip + 12);
      const t = ip + 20;
      batch.writeUInt16BE(fromClient ? clientPort : 5672, t);
      batch.writeUInt16BE(fromClient ? 5672 : clientPort, t + 2);
      batch.writeUInt32BE(fromClient ? cseq : sseq, t + 4);
      batch.writeUInt32BE(fromClient ? sseq : cseq, t + 8);
      batch[t + 12] = 0x50;
      batch[t + 13] = flags;
      batch.writeUInt16BE(65535, t + 14);
      data.copy(batch, t + 20);
      used = t + 20 + data.length;
      const advance = data.length + (flags & 0x03 ? 1 : 0);
      if (fromClient) cseq = (cseq + advance) >>> 0;
      else sseq = (sseq + advance) >>> 0;
      ts += 20;
    };
    const empty = Buffer.alloc(0);
    const send = (fromClient, bytes) => {
      for (let at = 0; at < bytes.length; at += SEGMENT) packet(fromClient, 0x18, bytes.subarray(at, at + SEGMENT));
    };
    packet(true, 0x02, empty);
    packet(false, 0x12, empty);
    packet(true, 0x10, empty);
    send(true, Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    send(true, C2S_HANDSHAKE.subarray(8));
    send(false, S2C_HANDSHAKE);
    frames += countFrames(C2S_HANDSHAKE.subarray(8)) + countFrames(S2C_HANDSHAKE);
    // publishes in segments of whole MSS, acks every ACK_EVERY messages
    const chunkMessages = ACK_EVERY;
    const chunk = Buffer.concat(Array.from({ length: chunkMessages }, () => PUBLISH));
    let tag = 0;
    const start = written + used;
    while (written + used - start < perConnection) {
      send(true, chunk);
      tag += chunkMessages;
      frames += chunkMessages * PUBLISH_FRAMES;
      send(false, frame(1, 1, Buffer.concat([u16(60), u16(80), u64(tag), Buffer.from([1])])));
      frames++;
    }
    packet(true, 0x11, empty);
    packet(false, 0x11, empty);
    packet(true, 0x10, empty);
  }
  flush();
  fs.closeSync(fd);
  return frames;
}

/** `n` connections that send their SYN and protocol header, and never close. */
function writeHostileCapture(file, n) {
  const fd = fs.openSync(file, 'w');
  const batch = Buffer.alloc(8 * 1024 * 1024);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(101, 20); // raw IP
  fs.writeSync(fd, header);
  let used = 0;
  const amqp = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');
  for (let i = 0; i < n; i++) {
    const src = [10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff];
    for (const data of [Buffer.alloc(0), amqp]) {
      const length = 40 + data.length;
      if (used + 16 + length > batch.length) {
        fs.writeSync(fd, batch, 0, used);
        used = 0;
      }
      batch.writeUInt32LE(1_764_000_000 + Math.floor(i / 1000), used);
      batch.writeUInt32LE((i % 1000) * 1000, used + 4);
      batch.writeUInt32LE(length, used + 8);
      batch.writeUInt32LE(length, used + 12);
      const ip = used + 16;
      batch.fill(0, ip, ip + 40);
      batch[ip] = 0x45;
      batch.writeUInt16BE(length, ip + 2);
      batch[ip + 8] = 64;
      batch[ip + 9] = 6;
      batch.set([...src, 10, 255, 0, 1], ip + 12);
      batch.writeUInt16BE(40000 + (i % 20000), ip + 20);
      batch.writeUInt16BE(5672, ip + 22);
      batch.writeUInt32BE(data.length === 0 ? 99 : 100, ip + 24);
      batch[ip + 32] = 0x50;
      batch[ip + 33] = data.length === 0 ? 0x02 : 0x18;
      data.copy(batch, ip + 40);
      used = ip + length;
    }
  }
  fs.writeSync(fd, batch, 0, used);
  fs.closeSync(fd);
}

function countFrames(bytes) {
  let n = 0;
  for (let at = 0; at + 7 <= bytes.length; at += 8 + bytes.readUInt32BE(at + 3)) n++;
  return n;
}

// --- the readers -------------------------------------------------------------------------

async function readInProcess(file) {
  const { readCapture } = await import('../dist/capture/read-capture.js');
  const { createTapObserver } = await import('../dist/tap/tap-observer.js');
  const { EventBus } = await import('../dist/events.js');
  let frames = 0;
  let messages = 0;
  const bus = new EventBus([
    (e) => {
      if (e.kind === 'frame') frames++;
      else if (e.kind === 'message') messages++;
    },
  ]);
  const observer = createTapObserver(bus, { keepUndecoded: true, frameMaxUntilTuneOk: 0 });
  const t0 = performance.now();
  await readCapture({ source: file, input: fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), observer, notice: () => {} });
  return { frames, messages, ms: performance.now() - t0 };
}

function timeCli(file) {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, 'read', '--no-tui', '--filter', 'method:connection.blocked', file], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  const lines = r.stderr.trim().split('\n');
  const rssKb = Number(lines.at(-1));
  const summary = lines.find((l) => l.includes('summary:')) ?? '';
  const m = /C→S (\d+) frames.*S→C (\d+) frames/.exec(summary);
  return { ms, rssKb, frames: m ? Number(m[1]) + Number(m[2]) : Number.NaN, status: r.status };
}

function timeTshark(file) {
  const t0 = performance.now();
  const out = execFileSync('tshark', ['-r', file, '-d', 'tcp.port==5672,amqp', '-Y', 'amqp', '-T', 'fields', '-e', 'amqp.type'], {
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const ms = performance.now() - t0;
  let frames = 0;
  for (const line of out.split('\n')) if (line !== '') frames += line.split(',').length;
  return { ms, frames };
}

const rate = (frames, ms) => Math.round(frames / (ms / 1000));
const fmt = (n) => n.toLocaleString('en-US');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-pcap-bench-'));
try {
  const file = path.join(dir, 'bench.pcap');
  let t0 = performance.now();
  const frames = writeCapture(file, MB);
  const size = fs.statSync(file).size;
  console.log(
    `capture: ${(size / 1024 / 1024).toFixed(0)} MB, ${CONNECTIONS} connections, ${fmt(frames)} AMQP frames (written in ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  const ours = await readInProcess(file);
  console.log(
    `amqp-spy in-process: ${fmt(ours.frames)} frames, ${fmt(ours.messages)} messages in ${(ours.ms / 1000).toFixed(2)} s: ${fmt(rate(ours.frames, ours.ms))} frames/s`,
  );
  const cli = timeCli(file);
  console.log(
    `amqp-spy read (CLI): ${fmt(cli.frames)} frames in ${(cli.ms / 1000).toFixed(2)} s: ${fmt(rate(cli.frames, cli.ms))} frames/s, peak RSS ${fmt(Math.round(cli.rssKb / 1024))} MB`,
  );
  const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
  if (hasTshark) {
    const theirs = timeTshark(file);
    console.log(`tshark -Y amqp:      ${fmt(theirs.frames)} frames in ${(theirs.ms / 1000).toFixed(2)} s: ${fmt(rate(theirs.frames, theirs.ms))} frames/s`);
    console.log(
      `ratio: in-process ${(rate(ours.frames, ours.ms) / rate(theirs.frames, theirs.ms)).toFixed(1)}x tshark, CLI ${(rate(cli.frames, cli.ms) / rate(theirs.frames, theirs.ms)).toFixed(1)}x tshark (target 3x)`,
    );
  } else console.log('tshark: not installed, no comparison');
  if (RSS_MB > 0) {
    fs.rmSync(file);
    t0 = performance.now();
    const bigFrames = writeCapture(file, RSS_MB);
    const bigSize = fs.statSync(file).size;
    const big = timeCli(file);
    console.log(
      `memory: amqp-spy read of a ${(bigSize / 1024 / 1024).toFixed(0)} MB capture (${fmt(bigFrames)} frames): peak RSS ${fmt(Math.round(big.rssKb / 1024))} MB (bound 300 MB), ${(big.ms / 1000).toFixed(1)} s, ${fmt(rate(big.frames, big.ms))} frames/s`,
    );
  }
  if (HOSTILE > 0) {
    fs.rmSync(file, { force: true });
    writeHostileCapture(file, HOSTILE);
    const t1 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, CLI, 'read', '--no-tui', '--filter', 'method:connection.blocked', file], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const lines = r.stderr.trim().split('\n');
    const counts = lines.find((l) => l.includes('packets')) ?? '';
    console.log(
      `hostile: ${fmt(HOSTILE)} connections never closed (${(fs.statSync(file).size / 1024 / 1024).toFixed(0)} MB): peak RSS ${fmt(Math.round(Number(lines.at(-1)) / 1024))} MB, ${((performance.now() - t1) / 1000).toFixed(1)} s; ${counts.replace(/^amqp-spy: [^:]*: /, '')}`,
    );
  }
  if (KEEP) console.log(`kept ${file}`);
} finally {
  if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
}
