#!/usr/bin/env node
// Settling benchmark: what `basic.ack multiple=true` costs the tap with many deliveries (or
// publishes awaiting confirms) outstanding on a channel. The tap does this work on the
// forwarding path, so it must grow with what an ack settles, not with what is outstanding.
//
//   npm run build && node bench/settle-bench.mjs [--sizes 5000,10000,20000,40000]
//
// Per size N: a channel gets N deliveries (method + header + body frames, not timed), then
// the client acks them one at a time, each with multiple=true (timed: N ack frames through
// ConnectionTap.feed in 64 KB chunks). The same for publisher confirms: N publishes in confirm
// mode, then N server acks with multiple=true. Numbers only; no assertions.

import { encodeContentFrames, encodeMethodFrame } from '../dist/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../dist/decoder/protocol-header.js';
import { EventBus } from '../dist/events.js';
import { ConnectionTap } from '../dist/tap/connection-tap.js';

const args = process.argv.slice(2);
const sizesArg = args.indexOf('--sizes');
const SIZES = sizesArg >= 0 ? args[sizesArg + 1].split(',').map(Number) : [5000, 10000, 20000, 40000];
const CHUNK = 64 * 1024;

function feedAll(tap, dir, frames) {
  const all = Buffer.concat(frames);
  for (let at = 0; at < all.length; at += CHUNK) tap.feed(dir, all.subarray(at, at + CHUNK), 0);
}

function newTap() {
  let settled = 0;
  const bus = new EventBus([
    (e) => {
      if (e.kind === 'frame' && e.insight) settled += (e.insight.settles?.deliverySeqs.length ?? 0) + (e.insight.confirms?.publishSeqs.length ?? 0);
    },
  ]);
  const tap = new ConnectionTap(1, bus, {});
  feedAll(tap, 'c2s', [encodeProtocolHeader(), encodeMethodFrame(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 0 })]);
  feedAll(tap, 'c2s', [encodeMethodFrame(1, 'channel.open', {})]);
  feedAll(tap, 's2c', [encodeMethodFrame(1, 'channel.open-ok', {})]);
  return { tap, settled: () => settled };
}

const content = encodeContentFrames(1, 60, {}, Buffer.from('x'), 131072);

function acks(n) {
  const { tap, settled } = newTap();
  feedAll(tap, 'c2s', [encodeMethodFrame(1, 'basic.consume', { queue: 'q', 'consumer-tag': 'c' })]);
  const deliveries = [];
  for (let tag = 1; tag <= n; tag++)
    deliveries.push(encodeMethodFrame(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': BigInt(tag), exchange: '', 'routing-key': 'q' }), ...content);
  feedAll(tap, 's2c', deliveries);
  const ackFrames = [];
  for (let tag = 1; tag <= n; tag++) ackFrames.push(encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': BigInt(tag), multiple: true }));
  const start = performance.now();
  feedAll(tap, 'c2s', ackFrames);
  const ms = performance.now() - start;
  if (settled() !== n) throw new Error(`acks settled ${settled()} deliveries, expected ${n}`);
  return ms;
}

function confirms(n) {
  const { tap, settled } = newTap();
  feedAll(tap, 'c2s', [encodeMethodFrame(1, 'confirm.select', {})]);
  feedAll(tap, 's2c', [encodeMethodFrame(1, 'confirm.select-ok', {})]);
  const publishes = [];
  for (let i = 1; i <= n; i++) publishes.push(encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'q' }), ...content);
  feedAll(tap, 'c2s', publishes);
  const ackFrames = [];
  for (let tag = 1; tag <= n; tag++) ackFrames.push(encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': BigInt(tag), multiple: true }));
  const start = performance.now();
  feedAll(tap, 's2c', ackFrames);
  const ms = performance.now() - start;
  if (settled() !== n) throw new Error(`confirms settled ${settled()} publishes, expected ${n}`);
  return ms;
}

console.log(`settle bench: node ${process.version}; N outstanding, then N acks with multiple=true, one tag at a time`);
console.log('outstanding   client acks (ms)   publisher confirms (ms)');
for (const n of SIZES) {
  acks(Math.min(n, 1000)); // warm-up
  confirms(Math.min(n, 1000));
  console.log(`${String(n).padStart(11)}   ${acks(n).toFixed(1).padStart(16)}   ${confirms(n).toFixed(1).padStart(23)}`);
}
