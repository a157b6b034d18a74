#!/usr/bin/env node
// Decode benchmark: cuts and decodes a recorded AMQP 0-9-1 session held in memory, fed in
// 64 KB chunks as a socket delivers them.
//
//   npm run bench:decode            (builds first)
//   node bench/decode-bench.mjs [--rounds 7] [--warmup 2] [--scale 1] [--body 16|4096|262144]
//   node --cpu-prof bench/decode-bench.mjs --body 16      (profile one workload)
//
// Per workload (16 B, 4 KB and 256 KB message bodies) both directions of a session are built:
// handshake, channel setup, a consumer, then publishes (method + header + body frames, bodies
// split at frame-max 131072), deliveries, acks and heartbeats. Three passes are timed:
//   baseline  sums every byte of every chunk (the cost of merely touching the data),
//   parser    FrameParser.push only,
//   decode    FrameParser.push + decodeFrame on every frame.
// Each is warmed up, repeated, and its median reported. Numbers only; no assertions.
//
// The session's frames are encoded here by hand from the spec, not with the project's own
// encoder, so a decode error printed below is a real disagreement.

// index.js is the decoder's public entry; fall back to the parser module alone while the rest
// of the decoder is not built.
const decoder = await import('../dist/decoder/index.js').catch((error) => {
  console.log(`cannot load dist/decoder/index.js (${error.code ?? error.message}): parser only`);
  return {};
});
const FrameParser = decoder.FrameParser ?? (await import('../dist/decoder/frame-parser.js')).FrameParser;
const decodeFrame = typeof decoder.decodeFrame === 'function' ? decoder.decodeFrame : undefined;

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = arg('rounds', 7);
const WARMUP = arg('warmup', 2);
const SCALE = arg('scale', 1);
const ONLY_BODY = arg('body', 0);
const CHUNK = 64 * 1024;
const FRAME_MAX = 131072;

// ---- a minimal hand-written 0-9-1 encoder (bench setup, not timed) --------------------------

class Writer {
  constructor() {
    this.buf = Buffer.alloc(64);
    this.len = 0;
    this.bitOctet = -1; // index of the octet packing consecutive bits
    this.bitCount = 0;
  }
  ensure(n) {
    if (this.len + n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
  }
  endBits() {
    this.bitOctet = -1;
    this.bitCount = 0;
  }
  octet(v) {
    this.endBits();
    this.ensure(1);
    this.buf[this.len++] = v;
    return this;
  }
  short(v) {
    this.endBits();
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }
  long(v) {
    this.endBits();
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
    return this;
  }
  longlong(v) {
    this.endBits();
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.len);
    this.len += 8;
    return this;
  }
  bit(v) {
    if (this.bitOctet < 0 || this.bitCount === 8) {
      this.ensure(1);
      this.bitOctet = this.len;
      this.buf[this.len++] = 0;
      this.bitCount = 0;
    }
    if (v) this.buf[this.bitOctet] |= 1 << this.bitCount;
    this.bitCount++;
    return this;
  }
  bytes(b) {
    this.endBits();
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  shortstr(s) {
    const b = Buffer.from(s, 'utf8');
    return this.octet(b.length).bytes(b);
  }
  longstr(s) {
    const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
    return this.long(b.length).bytes(b);
  }
  /** entries: [key, tag, value]; tags S, t, I, l, F (nested entries) */
  table(entries) {
    const inner = new Writer();
    for (const [key, tag, value] of entries) {
      inner.shortstr(key).octet(tag.charCodeAt(0));
      if (tag === 'S') inner.longstr(value);
      else if (tag === 't') inner.octet(value ? 1 : 0);
      else if (tag === 'I') {
        inner.ensure(4);
        inner.buf.writeInt32BE(value, inner.len);
        inner.len += 4;
      } else if (tag === 'l') inner.longlong(value);
      else if (tag === 'F') inner.table(value);
      else throw new Error(`bench encoder: tag ${tag}`);
    }
    return this.long(inner.len).bytes(inner.done());
  }
  done() {
    return this.buf.subarray(0, this.len);
  }
}

function frame(type, channel, payload) {
  const out = Buffer.alloc(payload.length + 8);
  out[0] = type;
  out.writeUInt16BE(channel, 1);
  out.writeUInt32BE(payload.length, 3);
  out.set(payload, 7);
  out[out.length - 1] = 0xce;
  return out;
}

const method = (channel, classId, methodId, fill) => {
  const w = new Writer().short(classId).short(methodId);
  fill?.(w);
  return frame(1, channel, w.done());
};
const heartbeat = () => frame(8, 0, new Uint8Array(0));

/** header frame: basic class, content-type, delivery-mode, message-id, timestamp */
function contentHeader(channel, bodySize, id) {
  const flags = (1 << 15) | (1 << 12) | (1 << 7) | (1 << 6);
  const w = new Writer().short(60).short(0).longlong(bodySize).short(flags);
  w.shortstr('application/json')
    .octet(2)
    .shortstr(`msg-${id}`)
    .longlong(1_700_000_000 + id);
  return frame(2, channel, w.done());
}

function bodyFrames(channel, body) {
  const max = FRAME_MAX - 8;
  const frames = [];
  for (let at = 0; at < body.length; at += max) frames.push(frame(3, channel, body.subarray(at, at + max)));
  return frames;
}

const capabilities = [
  ['publisher_confirms', 't', true],
  ['exchange_exchange_bindings', 't', true],
  ['basic.nack', 't', true],
  ['consumer_cancel_notify', 't', true],
  ['connection.blocked', 't', true],
  ['consumer_priorities', 't', true],
  ['authentication_failure_close', 't', true],
  ['per_consumer_qos', 't', true],
  ['direct_reply_to', 't', true],
];

/** Both directions of one session; `messages` publishes of `bodySize` bytes, each delivered back and acked. */
function buildSession(bodySize, messages) {
  const c2s = [Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1])];
  const s2c = [];
  s2c.push(
    method(0, 10, 10, (w) =>
      w
        .octet(0)
        .octet(9)
        .table([
          ['capabilities', 'F', capabilities],
          ['cluster_name', 'S', 'rabbit@bench'],
          ['copyright', 'S', 'Copyright (c) 2007-2024 Broadcom Inc and/or its subsidiaries'],
          ['information', 'S', 'Licensed under the MPL 2.0. Website: https://rabbitmq.com'],
          ['platform', 'S', 'Erlang/OTP 26.2.5'],
          ['product', 'S', 'RabbitMQ'],
          ['version', 'S', '3.13.7'],
        ])
        .longstr('AMQPLAIN PLAIN')
        .longstr('en_US'),
    ),
  );
  c2s.push(
    method(0, 10, 11, (w) =>
      w
        .table([
          ['product', 'S', 'amqp-spy bench'],
          ['platform', 'S', 'Node.JS'],
          ['capabilities', 'F', capabilities.slice(0, 4)],
          ['connection_name', 'S', 'decode-bench'],
        ])
        .shortstr('PLAIN')
        .longstr(Buffer.from('\0guest\0guest'))
        .shortstr('en_US'),
    ),
  );
  s2c.push(method(0, 10, 30, (w) => w.short(2047).long(FRAME_MAX).short(60)));
  c2s.push(method(0, 10, 31, (w) => w.short(2047).long(FRAME_MAX).short(60)));
  c2s.push(method(0, 10, 40, (w) => w.shortstr('/').shortstr('').bit(false)));
  s2c.push(method(0, 10, 41, (w) => w.shortstr('')));
  c2s.push(method(1, 20, 10, (w) => w.shortstr('')));
  s2c.push(method(1, 20, 11, (w) => w.longstr('')));
  c2s.push(method(1, 60, 10, (w) => w.long(0).short(100).bit(false)));
  s2c.push(method(1, 60, 11));
  c2s.push(
    method(1, 60, 20, (w) =>
      w
        .short(0)
        .shortstr('bench.queue')
        .shortstr('ctag-1')
        .bit(false)
        .bit(false)
        .bit(false)
        .bit(false)
        .table([['x-priority', 'I', 5]]),
    ),
  );
  s2c.push(method(1, 60, 21, (w) => w.shortstr('ctag-1')));

  const body = Buffer.alloc(bodySize);
  for (let i = 0; i < bodySize; i++) body[i] = 0x20 + (i % 90);
  const bodies = bodyFrames(1, body);
  for (let i = 0; i < messages; i++) {
    c2s.push(
      method(1, 60, 40, (w) =>
        w
          .short(0)
          .shortstr('amq.topic')
          .shortstr(`orders.eu.${i % 16}`)
          .bit(false)
          .bit(false),
      ),
    );
    c2s.push(contentHeader(1, bodySize, i), ...bodies);
    s2c.push(
      method(1, 60, 60, (w) =>
        w
          .shortstr('ctag-1')
          .longlong(i + 1)
          .bit(false)
          .shortstr('amq.topic')
          .shortstr(`orders.eu.${i % 16}`),
      ),
    );
    s2c.push(contentHeader(1, bodySize, i), ...bodies);
    c2s.push(method(1, 60, 80, (w) => w.longlong(i + 1).bit(false)));
    if (i % 1000 === 999) {
      c2s.push(heartbeat());
      s2c.push(heartbeat());
    }
  }
  return { c2s: Buffer.concat(c2s), s2c: Buffer.concat(s2c) };
}

/** 64 KB chunks, each in its own buffer as a socket read gives them. */
function chunksOf(stream) {
  const chunks = [];
  for (let at = 0; at < stream.length; at += CHUNK) chunks.push(Buffer.from(stream.subarray(at, at + CHUNK)));
  return chunks;
}

// ---- timed passes ---------------------------------------------------------------------------

function baselinePass(streams) {
  let sum = 0;
  for (const chunks of streams) {
    for (const chunk of chunks) {
      for (let i = 0; i < chunk.length; i++) sum += chunk[i];
    }
  }
  return { frames: 0, check: sum };
}

function parserPass(streams) {
  let frames = 0;
  let bytes = 0;
  for (const chunks of streams) {
    const parser = new FrameParser();
    for (const chunk of chunks) {
      for (const item of parser.push(chunk)) {
        if (item.kind === 'frame') {
          frames++;
          bytes += item.frame.payload.length;
        } else if (item.kind === 'error') throw item.error;
      }
    }
  }
  return { frames, check: bytes };
}

function decodePass(streams) {
  let frames = 0;
  let methods = 0;
  for (const chunks of streams) {
    const parser = new FrameParser();
    for (const chunk of chunks) {
      for (const item of parser.push(chunk)) {
        if (item.kind === 'frame') {
          const decoded = decodeFrame(item.frame);
          frames++;
          if (decoded.type === 'method') methods++;
        } else if (item.kind === 'error') throw item.error;
      }
    }
  }
  return { frames, check: methods };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs the passes in rotation, round after round, so that load from other processes on the
 * machine falls on all of them alike; returns each pass's median time.
 */
function measureAll(passes, streams) {
  const results = passes.map((pass) => ({ pass, times: [], frames: 0, check: undefined }));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const r of results) {
      const t0 = process.hrtime.bigint();
      const out = r.pass(streams);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (r.check !== undefined && out.check !== r.check) throw new Error(`${r.pass.name}: result changed between rounds`);
      r.check = out.check;
      r.frames = out.frames;
      if (round >= WARMUP) r.times.push(seconds);
    }
  }
  return results.map((r) => ({ seconds: median(r.times), frames: r.frames }));
}

// ---- run ------------------------------------------------------------------------------------

const workloads = [
  { name: '16 B bodies', bodySize: 16, messages: Math.round(100_000 * SCALE) },
  { name: '4 KB bodies', bodySize: 4096, messages: Math.round(10_000 * SCALE) },
  { name: '256 KB bodies', bodySize: 256 * 1024, messages: Math.round(200 * SCALE) },
];

const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log(`decode bench: node ${process.version}, 64 KB chunks, frame-max ${FRAME_MAX}, median of ${ROUNDS} interleaved rounds after ${WARMUP} warm-up`);
if (decodeFrame === undefined) console.log('decodeFrame is not exported by dist/decoder/index.js yet: parser only');
console.log('');
console.log(
  `${'workload'.padEnd(15)} ${'pass'.padEnd(9)} ${'frames'.padStart(9)} ${'MB'.padStart(7)} ${'frames/s'.padStart(12)} ${'MB/s'.padStart(8)} ${'vs baseline'.padStart(12)}`,
);
for (const workload of workloads.filter((w) => ONLY_BODY === 0 || w.bodySize === ONLY_BODY)) {
  const session = buildSession(workload.bodySize, workload.messages);
  const streams = [chunksOf(session.c2s), chunksOf(session.s2c)];
  const megabytes = (session.c2s.length + session.s2c.length) / 1e6;
  const passes = [
    ['baseline', baselinePass],
    ['parser', parserPass],
  ];
  if (decodeFrame !== undefined) passes.push(['decode', decodePass]);
  const measured = measureAll(
    passes.map(([, pass]) => pass),
    streams,
  );
  const rows = passes.map(([name], index) => [name, measured[index]]);
  const baseline = measured[0];
  const frames = rows[1][1].frames;
  for (const [name, r] of rows) {
    const mbps = megabytes / r.seconds;
    console.log(
      `${workload.name.padEnd(15)} ${name.padEnd(9)} ${fmt(frames).padStart(9)} ${fmt(megabytes, 1).padStart(7)} ` +
        `${(name === 'baseline' ? '-' : fmt(frames / r.seconds)).padStart(12)} ${fmt(mbps).padStart(8)} ` +
        `${(baseline.seconds / r.seconds).toFixed(2).padStart(11)}x`,
    );
  }
}
console.log('');
console.log('vs baseline: throughput relative to a pass that only sums every byte of every chunk (>1 = faster).');
console.log('Targets: >= 1,000,000 frames/s decoding 16 B messages; >= 1 GB/s cutting 256 KB bodies.');
