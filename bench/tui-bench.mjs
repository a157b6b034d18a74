#!/usr/bin/env node
// TUI benchmark: feeds the event store 500,000 events at full speed while the real ink app
// (header, windowed list, detail pane) draws to a null stream, as `runTui` would on a terminal.
//
//   npm run bench:tui              (builds first)
//   node bench/tui-bench.mjs [--events 500000] [--buffer 100000] [--batch 2000] [--filter "rk:order.#"]
//
// The events are real: a session (handshake, confirm channel, publishes with JSON bodies,
// deliveries, acks, heartbeats) is encoded and cut by the project's own ConnectionTap once;
// the feed then replays those events with fresh seqs (shallow copies sharing their bytes, as
// events from a busy connection would). Events are pushed in batches, yielding to the event
// loop between batches so the render throttle's timers run as they would under load.
// Prints events/s ingested, renders/s (throttle-triggered and ink frames), peak RSS, and ink's text caches.
// Targets: ingestion >= 200,000 events/s, RSS < 300 MB. Numbers only; no assertions.

import { Writable, Readable } from 'node:stream';
import { monitorEventLoopDelay } from 'node:perf_hooks';

// React's production build, as `runTui` selects it (the development build is several times slower)
process.env.NODE_ENV ??= 'production';
// ink's text caches bounded as `runTui` bounds them (BENCH_INK_CACHES=plain: ink's own, unbounded)
const { boundInkTextCaches, inkTextCaches } = await import('../dist/tui/ink-text-caches.js');
if (process.env.BENCH_INK_CACHES !== 'plain') await boundInkTextCaches();
const { createElement } = await import('react');
const { render } = await import('ink');
const { EventBus } = await import('../dist/events.js');
const { ConnectionTap } = await import('../dist/tap/connection-tap.js');
const { encodeContentFrames, encodeHeartbeatFrame, encodeMethodFrame } = await import('../dist/decoder/frame-codec.js');
const { fieldTable } = await import('../dist/decoder/field-table.js');
const { encodeProtocolHeader } = await import('../dist/decoder/protocol-header.js');
const { EventStore } = await import('../dist/tui/event-store.js');
const { App } = await import('../dist/tui/app.js');
const { RenderCost } = await import('../dist/tui/hooks/use-store-snapshot.js');
const { parseFilter } = await import('../dist/view/filter.js');

const args = process.argv.slice(2);
const arg = (name, def) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : def;
};
const TOTAL = Number(arg('events', 500_000));
const BUFFER = Number(arg('buffer', 100_000));
const BATCH = Number(arg('batch', 2000));
const FILTER = arg('filter', '');
const PACED_RATE = Number(arg('paced-rate', 50_000));
const PACED_SECONDS = Number(arg('paced-seconds', 3));

// --- one real session's events -----------------------------------------------------------

function sessionEvents() {
  const events = [];
  const bus = new EventBus([(e) => events.push(e)], (failure) => {
    throw failure.error;
  });
  const tap = new ConnectionTap(1, bus);
  let ts = Date.now() * 1000;
  const send = (dir, ...frames) => {
    for (const f of frames) tap.feed(dir, f, (ts += 20));
  };
  const m = encodeMethodFrame;
  send('c2s', encodeProtocolHeader());
  send('s2c', m(0, 'connection.start', { 'server-properties': fieldTable({ product: 'RabbitMQ' }), mechanisms: 'PLAIN', locales: 'en_US' }));
  send(
    'c2s',
    m(0, 'connection.start-ok', {
      'client-properties': fieldTable({ product: 'bench' }),
      mechanism: 'PLAIN',
      response: '\u0000guest\u0000guest',
      locale: 'en_US',
    }),
  );
  send('s2c', m(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 }));
  send('c2s', m(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 }));
  send('c2s', m(0, 'connection.open', { 'virtual-host': '/' }));
  send('s2c', m(0, 'connection.open-ok', {}));
  send('c2s', m(1, 'channel.open', {}));
  send('s2c', m(1, 'channel.open-ok', {}));
  send('c2s', m(1, 'confirm.select', {}));
  send('s2c', m(1, 'confirm.select-ok', {}));
  send('c2s', m(1, 'basic.consume', { queue: 'jobs' }));
  send('s2c', m(1, 'basic.consume-ok', { 'consumer-tag': 'ctag-1' }));
  const template = [];
  const start = events.length;
  for (let i = 1; i <= 200; i++) {
    const body = new TextEncoder().encode(JSON.stringify({ id: i, item: 'book', price: 12.5, tags: ['a', 'b'] }));
    send(
      'c2s',
      m(1, 'basic.publish', { exchange: 'orders', 'routing-key': `order.created.${i % 7}` }),
      ...encodeContentFrames(1, 60, { 'content-type': 'application/json', 'delivery-mode': 2 }, body, 131072),
    );
    send('s2c', m(1, 'basic.ack', { 'delivery-tag': BigInt(i) }));
    send(
      's2c',
      m(1, 'basic.deliver', { 'consumer-tag': 'ctag-1', 'delivery-tag': BigInt(i), exchange: 'orders', 'routing-key': `order.created.${i % 7}` }),
      ...encodeContentFrames(1, 60, { 'content-type': 'application/json' }, body, 131072),
    );
    send('c2s', m(1, 'basic.ack', { 'delivery-tag': BigInt(i) }));
    if (i % 50 === 0) send('c2s', encodeHeartbeatFrame());
  }
  template.push(...events.slice(start));
  return { setup: events.slice(0, start), template };
}

// --- a terminal that throws its output away ------------------------------------------------

let bytesWritten = 0;
let writes = 0;
const stdout = new Writable({
  write(chunk, _encoding, callback) {
    bytesWritten += chunk.length;
    writes++;
    callback();
  },
});
Object.assign(stdout, { columns: 120, rows: 40, isTTY: false });
const stdin = new Readable({ read() {} });
Object.assign(stdin, { isTTY: true, setRawMode() {}, ref() {}, unref() {} });

// --- run ---------------------------------------------------------------------------------------

const { setup, template } = sessionEvents();
const frameShare = template.filter((e) => e.kind === 'frame').length / template.length;
const store = new EventStore(BUFFER);
if (FILTER) store.setView({ mode: 'messages', hideHeartbeats: false, filter: parseFilter(FILTER) });
const renderCost = new RenderCost();
let inkFrames = 0;
let inkRenderMs = 0;
const instance = render(createElement(App, { store, mode: 'bench (null terminal 120x40)', onQuit: async () => {}, columns: 120, rows: 40, renderCost }), {
  stdout,
  stdin,
  exitOnCtrlC: false,
  patchConsole: false,
  onRender: ({ renderTime }) => {
    inkFrames++;
    inkRenderMs += renderTime;
    renderCost.record(renderTime);
  },
});

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

let seq = 0;
for (const e of setup) store.push({ ...e, seq: ++seq });
await new Promise((r) => setTimeout(r, 100));
const framesBefore = inkFrames;
const started = performance.now();
let fed = 0;
let pushTime = 0;
while (fed < TOTAL) {
  const t0 = performance.now();
  const n = Math.min(BATCH, TOTAL - fed);
  for (let i = 0; i < n; i++) {
    const e = template[(fed + i) % template.length];
    store.push({ ...e, seq: ++seq });
  }
  fed += n;
  pushTime += performance.now() - t0;
  // yield so timers (the render throttle, the RSS sampler) run between batches
  await new Promise((r) => setImmediate(r));
}
const elapsed = (performance.now() - started) / 1000;
// let the last throttled render happen, then measure memory once more
await new Promise((r) => setTimeout(r, 200));
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const renders = inkFrames - framesBefore;

// a steady 50,000 events/s for a few seconds: renders/s and event-loop delay show whether the
// UI keeps up (a growing lag would show as a growing delay)
const pacedFramesBefore = inkFrames;
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
const pacedStart = performance.now();
let pacedFed = 0;
while (performance.now() - pacedStart < PACED_SECONDS * 1000) {
  const due = Math.floor(((performance.now() - pacedStart) / 1000) * PACED_RATE);
  for (; pacedFed < due; pacedFed++) store.push({ ...template[pacedFed % template.length], seq: ++seq });
  await new Promise((r) => setTimeout(r, 5));
}
const pacedElapsed = (performance.now() - pacedStart) / 1000;
delay.disable();
const pacedRenders = inkFrames - pacedFramesBefore;
await new Promise((r) => setTimeout(r, 100));
peakRss = Math.max(peakRss, process.memoryUsage().rss);
clearInterval(sampler);
instance.unmount();
instance.cleanup();

const mb = (b) => `${(b / (1024 * 1024)).toFixed(1)} MB`;
console.log(
  `tui-bench: ${TOTAL.toLocaleString('en-US')} events (${Math.round(frameShare * 100)}% frames, the rest assembled messages), buffer ${BUFFER.toLocaleString('en-US')}, batches of ${BATCH}${FILTER ? `, filter "${FILTER}"` : ''}`,
);
console.log(`  ingested        ${Math.round(TOTAL / elapsed).toLocaleString('en-US')} events/s over ${elapsed.toFixed(2)} s (wall, renders included)`);
console.log(`  push only       ${Math.round(TOTAL / (pushTime / 1000)).toLocaleString('en-US')} events/s (time inside store.push)`);
console.log(
  `  renders         ${renders} ink renders in ${elapsed.toFixed(2)} s = ${(renders / elapsed).toFixed(1)} renders/s (throttle: at most ~20/s, fewer when a render is costly)`,
);
console.log(`  ink output      ${(inkRenderMs / Math.max(1, inkFrames)).toFixed(1)} ms per render on average (layout and text of the whole screen)`);
console.log(`  output          ${writes} writes, ${mb(bytesWritten)} to the null terminal`);
console.log(
  `  store           ${store.size.toLocaleString('en-US')} events kept, ${store.evicted.toLocaleString('en-US')} evicted (older, not kept), ${store.viewLength().toLocaleString('en-US')} rows in view`,
);
console.log(
  `  paced           ${pacedFed.toLocaleString('en-US')} events at ${Math.round(pacedFed / pacedElapsed).toLocaleString('en-US')}/s for ${pacedElapsed.toFixed(1)} s: ${(pacedRenders / pacedElapsed).toFixed(1)} renders/s, event-loop delay p50 ${(delay.percentile(50) / 1e6).toFixed(1)} ms p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms max ${(delay.max / 1e6).toFixed(1)} ms`,
);
console.log(`  peak RSS        ${mb(peakRss)} (target < 300 MB)`);
const caches = Object.entries(inkTextCaches()).map(([name, cache]) => `${name} ${cache.size} texts (${cache.chars.toLocaleString('en-US')} chars)`);
console.log(`  ink caches      ${caches.length > 0 ? caches.join(', ') : "ink's own (unbounded)"}`);
process.exit(0);
