#!/usr/bin/env node
// node bench/record-bench.mjs (after npm run build) — the recorder alone: frames through a
// ConnectionTap into the recorder, written to a file in the OS temp dir. Prints the rate the
// file is written at (target ≥ 100 MB/s) and events per second, for small and 4 KB messages.
// Options (env): BENCH_MESSAGES (200000).
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

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);

async function run(bodySize) {
  const file = path.join(os.tmpdir(), `amqp-spy-record-bench-${process.pid}.jsonl`);
  const recorder = createRecorder({
    path: file,
    header: makeRecordingHeader({ tool: 'bench', startedMicros: Date.now() * 1000, mode: 'proxy', listen: '127.0.0.1:5673', upstream: '127.0.0.1:5672', secrets: 'masked' }),
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
  console.log(`${String(bodySize).padStart(5)} B bodies: ${(size / seconds / 1e6).toFixed(1)} MB/s written, ${Math.round((MESSAGES * 3) / seconds)} frames/s, ${Math.round(MESSAGES / seconds)} msg/s (traffic ${((MESSAGES * one.length) / seconds / 1e6).toFixed(1)} MB/s), file ${(size / 1e6).toFixed(1)} MB`);
}

console.log(`record-bench — ${MESSAGES} messages through a tap into the recorder`);
await run(16);
await run(4096);
