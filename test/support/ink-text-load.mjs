// Lays out many distinct texts with ink in a worker thread (the live UI draws in one) and
// prints one JSON line: ink's text caches and the worker's heap growth after full collections.
//
//   node --expose-gc test/support/ink-text-load.mjs <bounded|plain> [texts]
//
// bounded: the worker first draws the built TUI (dist/tui/run-tui.js, which registers the
// cache hook before it imports ink), then lays out the texts with that same ink; plain: ink
// is imported directly, its caches as ink made them.
import v8 from 'node:v8';
import { PassThrough, Writable } from 'node:stream';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

if (isMainThread) {
  const mode = process.argv[2];
  if (mode !== 'bounded' && mode !== 'plain') throw new Error(`mode must be bounded or plain, not ${mode}`);
  const worker = new Worker(new URL(import.meta.url), { workerData: { mode, texts: Number(process.argv[3] ?? 20_000) } });
  worker.on('message', (result) => process.stdout.write(`${JSON.stringify(result)}\n`));
  worker.on('error', (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exitCode = 1;
  });
} else {
  process.env.NODE_ENV = 'production';
  const { mode, texts } = workerData;
  const sink = (columns, rows) => {
    const stream = new Writable({
      write(chunk, _encoding, callback) {
        stream.written += chunk.length;
        callback();
      },
    });
    return Object.assign(stream, { columns, rows, written: 0 });
  };
  let registered;
  if (mode === 'bounded') {
    const { openTui } = await import('../../dist/tui/run-tui.js');
    const { boundInkTextCaches } = await import('../../dist/tui/ink-text-caches.js');
    const stdout = sink(100, 30);
    const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin, ref: () => stdin, unref: () => stdin });
    const abort = new AbortController();
    const drawn = openTui(100).draw({ mode: 'ink-text-load', stdin, stdout, onQuit: async () => {}, signal: abort.signal, patchConsole: false });
    while (stdout.written === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    abort.abort();
    await drawn;
    // already registered by run-tui: this answers whether it could be
    registered = await boundInkTextCaches();
  }
  const { createElement: h } = await import('react');
  const { render, Box, Text } = await import('ink');
  const stdout = sink(100, 40);
  const ROWS = 20;
  // rows like the event list's: every one distinct (seq, time, rate), wider than the box
  const frame = (f) =>
    h(
      Box,
      { flexDirection: 'column', width: 80 },
      ...Array.from({ length: ROWS }, (_, i) =>
        h(Text, { key: i, wrap: 'truncate-end' }, `#${f * ROWS + i} 12:34:56.${f} c2s basic.publish exchange=orders routing-key=order.created.eu rate=${f}/s`),
      ),
    );
  const instance = render(frame(-1), { stdout, patchConsole: false, exitOnCtrlC: false });
  for (let f = 2; f <= 50; f++) instance.rerender(frame(-f));
  globalThis.gc();
  globalThis.gc();
  const before = v8.getHeapStatistics().used_heap_size;
  const frames = Math.ceil(texts / ROWS);
  for (let f = 0; f < frames; f++) instance.rerender(frame(f));
  globalThis.gc();
  globalThis.gc();
  const heapGrowth = v8.getHeapStatistics().used_heap_size - before;
  const caches = globalThis[Symbol.for('amqp-spy.inkTextCaches')];
  instance.unmount();
  instance.cleanup();
  parentPort.postMessage({
    mode,
    registered,
    texts: frames * ROWS,
    heapGrowth,
    caches:
      caches === undefined ? undefined : Object.fromEntries(Object.entries(caches).map(([name, cache]) => [name, { size: cache.size, chars: cache.chars }])),
  });
}
