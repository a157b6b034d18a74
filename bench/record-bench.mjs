#!/usr/bin/env node
// node bench/record-bench.mjs (after npm run build) — the recorder alone: frames through a
// ConnectionTap into the recorder, written to a file in the OS temp dir. Prints the rate the
// file is written at (target ≥ 100 MB/s) and events per second, for small and 4 KB messages.
// Then the reader: the time to replay a recording whose one message makes a line of 64 and
// 256 MiB (it must grow linearly with the line: 4x the line, about 4x the time).
// Options (env): BENCH_MESSAGES (200000), BENCH_LONG_LINES_MIB (64,256; empty skips).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventBus } = await import(path.join(root, 'dist/events.js'));
const { ConnectionTap } = await import(path.join(root, 'dist/tap/connection-tap.js'));
const { createRecorder } = await import(path.join(root, 'dist/record/recorder.js'));
const { makeRecordingHeader } = await import(path.join(root, 'dist/record/recording-format.js'));
const { encodeMethodFrame, encodeContentFrames } = await import(path.join(root, 'dist/decoder/frame-codec.js'));
const { encodeProtocolHeader } = await import(path.join(root, 'dist/decoder/protocol-header.js'));
const { replayRecording } = await import(path.join(root, 'dist/record/replay.js'));

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const LONG_LINES_MIB = (process.env.BENCH_LONG_LINES_MIB ?? '64,256')
  .split(',')
  .filter((s) => s !== '')
  .map(Number);

async function run(bodySize) {
  const file = path.join(os.tmpdir(), `amqp-spy-record-bench-${process.pid}.jsonl`);
  const recorder = createRecorder({
    path: file,
    header: makeRecordingHeader({
      tool: 'bench',
      startedMicros: Date.now() * 1000,
      mode: 'proxy',
      listen: '127.0.0.1:5673',
      upstream: '127.0.0.1:5672',
      secrets: 'masked',
    }),
  });
  const bus = new EventBus([recorder.sink]);
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  tap.feed('c2s', encodeProtocolHeader());
  // 100 published messages per chunk, as a socket would deliver them
  const one = Buffer.concat([
    encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'bench.queue' }),
    ...encodeContentFrames(1, 60, { 'content-type': 'application/octet-stream' }, Buffer.alloc(bodySize, 0x61), 131072),
  ]);
  const chunk = Buffer.concat(Array.from({ length: 100 }, () => one));
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES / 100; i++) {
    tap.feed('c2s', chunk);
    // honour backpressure as the proxy does: stop reading until the recorder drains
    if (recorder.overloaded) await new Promise((r) => recorder.onDrain(r));
  }
  await recorder.close();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const size = fs.statSync(file).size;
  fs.rmSync(file, { force: true });
  console.log(
    `${String(bodySize).padStart(5)} B bodies: ${(size / seconds / 1e6).toFixed(1)} MB/s written, ${Math.round((MESSAGES * 3) / seconds)} frames/s, ${Math.round(MESSAGES / seconds)} msg/s (traffic ${((MESSAGES * one.length) / seconds / 1e6).toFixed(1)} MB/s), file ${(size / 1e6).toFixed(1)} MB`,
  );
}

console.log(`record-bench — ${MESSAGES} messages through a tap into the recorder`);
await run(16);
await run(4096);

/** A recording with one body frame whose line is `mib` MiB (base64 is 4/3 of the body), replayed. */
async function replayLongLine(mib) {
  const file = path.join(os.tmpdir(), `amqp-spy-record-bench-line-${process.pid}.jsonl`);
  const recorder = createRecorder({
    path: file,
    header: makeRecordingHeader({
      tool: 'bench',
      startedMicros: Date.now() * 1000,
      mode: 'proxy',
      listen: '127.0.0.1:5673',
      upstream: '127.0.0.1:5672',
      secrets: 'masked',
    }),
  });
  const bus = new EventBus([recorder.sink]);
  bus.emit({
    kind: 'conn.open',
    seq: bus.nextSeq(),
    ts: Date.now() * 1000,
    conn: 1,
    client: { address: '127.0.0.1', port: 40001 },
    server: { address: '127.0.0.1', port: 5672 },
  });
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  tap.feed('c2s', encodeProtocolHeader());
  const bodySize = Math.floor((mib * 1024 * 1024 * 3) / 4);
  tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'bench.queue' }));
  for (const frame of encodeContentFrames(1, 60, {}, Buffer.alloc(bodySize, 0x61), bodySize + 8)) tap.feed('c2s', frame);
  tap.close('bench over');
  await recorder.close();
  const size = fs.statSync(file).size;
  let messages = 0;
  const start = process.hrtime.bigint();
  await replayRecording({
    path: file,
    sinks: [
      (e) => {
        if (e.kind === 'message') messages++;
      },
    ],
  });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  fs.rmSync(file, { force: true });
  if (messages !== 1) throw new Error(`replayed ${messages} messages, expected 1`);
  console.log(`${String(mib).padStart(4)} MiB line (file ${(size / 1024 / 1024).toFixed(1)} MiB): replayed in ${seconds.toFixed(2)} s`);
}

if (LONG_LINES_MIB.length > 0) console.log('replay of one long line (the reader joins a line that spans reads once)');
for (const mib of LONG_LINES_MIB) await replayLongLine(mib);
