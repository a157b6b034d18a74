// The terminal UI's thread: it reads the session's observer calls back from batches, decodes
// them with its own taps into its own event store, and draws with ink on the process's terminal,
// reading its keys and writing its screen itself. Nothing here can hold a socket.

import tty from 'node:tty';
import { parentPort, workerData } from 'node:worker_threads';
import { EventBus, sinkFailureNotices } from '../../events.js';
import { readObserverBatch } from '../../tap/observer-batch.js';
import { createTapObserver } from '../../tap/tap-observer.js';
import { LineFeed, NoticeRouter } from '../draw-options.js';
import { openTui } from '../run-tui.js';
import type { FaultClient, FaultReply } from '../fault-client.js';
import { configureBodies } from '../../body/shared-decoder.js';
import type { FromTui, ToTui, TuiWorkerData } from './messages.js';

/** Until when decoding waits for the screen to answer a key (performance.now() ms; 0: not). */
let keyHeldUntil = 0;
const KEY_HOLD_MS = 150;

const port = parentPort!;
const data = workerData as TuiWorkerData;
const send = (message: FromTui): void => port.postMessage(message);

/**
 * The terminal's screen, written by this thread itself: a key's answer never waits for the
 * session's thread, whose event loop a flood keeps busy (a key took up to 1.7 s to be read
 * there), and the session's thread never spends time writing frames. Writes to a terminal
 * block (Node makes them so): only this thread waits for a slow terminal.
 */
class ScreenStream extends tty.WriteStream {
  override _write(chunk: unknown, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // the screen has answered the last key: decoding may go on
    keyHeldUntil = 0;
    super._write(chunk, encoding, callback);
  }
  /** SIGWINCH reaches the session's thread only: it sends the new size */
  resize(columns: number, rows: number): void {
    if (columns === this.columns && rows === this.rows) return;
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

/**
 * The terminal's keys, read by this thread itself. Raw mode stays with the session's thread,
 * which restores the terminal however this thread ends.
 */
class KeyStream extends tty.ReadStream {
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    // a key: decoding waits until the screen has answered it
    if (chunk !== null) keyHeldUntil = performance.now() + KEY_HOLD_MS;
    return super.push(chunk, encoding);
  }
  override setRawMode(on: boolean): this {
    send({ type: 'raw-mode', on });
    return this;
  }
}

// the session's thread opened this UI only on a terminal (stdin and stdout both)
const stdout = new ScreenStream(1);
const stdin = new KeyStream(0);
const notices = new NoticeRouter((line) => send({ type: 'stderr', line }));
notices.holdForTui();
const progress = new LineFeed();
let recording: { path: string; bytes: number } | undefined;
let quitDone: (() => void) | undefined;
const abort = new AbortController();

// the session's thread checked these options already: loading them again cannot fail anew
if (data.bodies !== undefined) configureBodies(data.bodies);
const tui = openTui(data.bufferSize, data.filter);

/** The fault panel's requests, answered by the session's thread. */
const faultReplies = new Map<number, (reply: FaultReply) => void>();
let nextFaultRequest = 1;
const faultClient: FaultClient = {
  request: (request) =>
    new Promise((resolve) => {
      const id = nextFaultRequest++;
      faultReplies.set(id, resolve);
      send({ type: 'fault-request', id, request });
    }),
};
const bus = new EventBus([tui.sink], sinkFailureNotices(notices.notice, ['the terminal UI']));
const taps = createTapObserver(bus, { showSecrets: data.showSecrets, keepSecrets: false, keepUndecoded: true });

/**
 * Batches wait here and are decoded in slices of at most SLICE_MS, with the event loop's turn
 * between slices: a key, a resize or a draw never waits behind the traffic queued before it.
 * After a key, decoding waits until the screen has answered it (or KEY_HOLD_MS at most), so on
 * a busy machine the little CPU time this thread gets goes to the key first.
 */
const waitingBatches: Uint8Array[] = [];
let waitingHead = 0;
/** bytes in waitingBatches, shown in the header while the UI catches up */
let waitingBytes = 0;
let decodeScheduled = false;
const SLICE_MS = 8;

/**
 * Decoding (and the store work it drives) may take this many ms of each second: a flood costs
 * this thread at most ~15% of a core, which the client, the broker and forwarding keep on a
 * machine whose cores they share. Past it, batches wait; once 8 MiB wait, the forwarding thread
 * leaves whole frames out for the UI (the header counts them as not shown).
 * This budget, not a lower priority, is what bounds the UI's share: a thread at nice +10 used
 * its small share on decoding and then waited behind the traffic when a key came (CFS charges
 * a niced thread's time ~9x): under a flood a key took p95 650-700 ms to be answered, 180-260 ms
 * at the session's priority with this budget, with the same throughput for the traffic.
 */
const DECODE_MS_PER_SECOND = 150;
/** No batch for this long: the traffic paused, so the backlog is decoded at full speed. */
const CALM_MS = 200;
let budgetWindowStart = 0;
let budgetUsed = 0;
let lastBatchAt = 0;

/** How long decoding must wait: for the screen to answer a key, or for the next second's budget. */
function decodeDelay(now: number): number {
  if (now - budgetWindowStart >= 1000) {
    budgetWindowStart = now;
    budgetUsed = 0;
  }
  const calm = now - lastBatchAt >= CALM_MS;
  const forBudget = !calm && budgetUsed >= DECODE_MS_PER_SECOND ? Math.min(budgetWindowStart + 1000, lastBatchAt + CALM_MS) - now : 0;
  return Math.max(keyHeldUntil - now, forBudget, 0);
}

function scheduleDecode(): void {
  if (decodeScheduled) return;
  decodeScheduled = true;
  const delay = decodeDelay(performance.now());
  if (delay > 0) setTimeout(decodeSlice, delay);
  else setImmediate(decodeSlice);
}

/** Decodes every waiting batch now: what follows (the session's end) must come after them. */
function decodeAll(): void {
  keyHeldUntil = 0;
  while (waitingHead < waitingBatches.length) decodeNext();
}

function decodeNext(): void {
  const batch = waitingBatches[waitingHead]!;
  waitingBatches[waitingHead++] = EMPTY;
  waitingBytes -= batch.length;
  readObserverBatch(batch, taps);
  send({ type: 'ack', length: batch.length });
  if (waitingHead === waitingBatches.length) {
    waitingBatches.length = 0;
    waitingHead = 0;
  }
}

function decodeSlice(): void {
  decodeScheduled = false;
  if (waitingBatches.length === 0) return; // decodeAll took them
  const start = performance.now();
  if (decodeDelay(start) > 0) {
    scheduleDecode();
    return;
  }
  const sliceEnd = start + (start - lastBatchAt >= CALM_MS ? SLICE_MS : Math.max(1, Math.min(SLICE_MS, DECODE_MS_PER_SECOND - budgetUsed)));
  do decodeNext();
  while (waitingBatches.length > 0 && performance.now() < sliceEnd);
  budgetUsed += performance.now() - start;
  tui.setBacklog(waitingBytes);
  if (waitingBatches.length > 0) scheduleDecode();
}
const EMPTY = new Uint8Array(0);

port.on('message', (message: ToTui) => {
  switch (message.type) {
    case 'batch':
      waitingBatches.push(message.batch);
      waitingBytes += message.batch.length;
      lastBatchAt = performance.now();
      scheduleDecode();
      break;
    case 'draw':
      stdout.resize(message.columns, message.rows);
      void draw(message.mode, message.faults);
      break;
    case 'fault-reply':
      faultReplies.get(message.id)?.(message.reply);
      faultReplies.delete(message.id);
      break;
    case 'resize':
      stdout.resize(message.columns, message.rows);
      break;
    case 'notice':
      notices.notice(message.line);
      break;
    case 'progress':
      progress.set(message.line);
      break;
    case 'recording':
      recording = message.recording;
      break;
    case 'quit-done':
      decodeAll();
      quitDone?.();
      break;
    case 'abort':
      abort.abort();
      break;
  }
});

async function draw(mode: string, faults: boolean): Promise<void> {
  let error: string | undefined;
  try {
    await tui.draw({
      mode,
      ...(faults ? { faults: faultClient } : {}),
      recording: () => recording,
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
      notices: (sink) => notices.attach(sink),
      progress: (sink) => progress.attach(sink),
      // the session's stop runs on its own thread; the closes it causes come before the answer
      onQuit: () =>
        new Promise<void>((resolve) => {
          quitDone = resolve;
          send({ type: 'quit' });
        }),
      signal: abort.signal,
      patchConsole: false,
    });
  } catch (failure) {
    error = failure instanceof Error ? failure.message : String(failure);
  }
  notices.release();
  send(error === undefined ? { type: 'exited' } : { type: 'exited', error });
  port.close();
}
