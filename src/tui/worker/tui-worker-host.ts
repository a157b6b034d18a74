// The session's side of the terminal UI on its own thread: the UI decodes and draws there, so
// forwarding (and the broker's socket work) never waits for a frame to be drawn. This side
// tees the source's observer calls into batches for it, sets the terminal's mode for it (that
// thread reads the keys and writes the screen on the process's terminal itself), and runs the
// session's stop when the user quits.

import type { BodyOptions } from '../../body/shared-decoder.js';
import { Worker } from 'node:worker_threads';
import type { ByteObserver } from '../../source/byte-observer.js';
import type { TuiDrawOptions } from '../draw-options.js';
import { applyFaultRequest } from '../fault-client.js';
import type { FromTui, ToTui, TuiWorkerData } from './messages.js';
import { UiFeed } from './ui-feed.js';

/**
 * Bytes the UI may be behind before whole frames are dropped for it (forwarding is never held).
 * 8 MiB: what waits is memory too, and under a flood a screen that far behind is stale anyway.
 */
const DEFAULT_BEHIND_BUDGET = 8 * 1024 * 1024;
/** How often the recording's size is sent to the UI's header. */
const RECORDING_INFO_MS = 250;
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

/** The UI's thread failed: the session was stopped, the terminal restored. */
export class TuiThreadError extends Error {
  constructor(reason: string) {
    super(`the terminal UI failed: ${reason}`);
    this.name = 'TuiThreadError';
  }
}

export interface TuiWorker {
  /** tee the source's observer calls into this (with the session's own observer) */
  readonly observer: ByteObserver;
  /** draws until the user quits (runs `onQuit` then); resolves once the terminal is restored */
  draw(options: TuiDrawOptions): Promise<void>;
  /** bytes of whole frames not given to the UI because it fell behind */
  notShown(): number;
}

export interface TuiWorkerOptions {
  /** events the UI keeps (its store's `--buffer`) */
  readonly bufferSize?: number;
  readonly showSecrets: boolean;
  /** how bodies are decoded (--proto, --proto-type) */
  readonly bodies?: BodyOptions;
  /** live --filter: the list starts filtered by it */
  readonly filter?: string;
  /** see DEFAULT_BEHIND_BUDGET */
  readonly behindBudget?: number;
}

/** Starts the UI's thread (it loads ink meanwhile); give `observer` to the source before it starts. */
export function startTuiWorker(options: TuiWorkerOptions): TuiWorker {
  const workerData: TuiWorkerData = {
    bufferSize: options.bufferSize,
    showSecrets: options.showSecrets,
    ...(options.bodies ? { bodies: options.bodies } : {}),
    ...(options.filter !== undefined ? { filter: options.filter } : {}),
  };
  // A smaller young generation than V8's default: the UI's heap under a flood went from 60-74 MB
  // to 38-48 MB, its garbage being short-lived render strings.
  // No old generation limit: at 256 MB V8 lets the heap grow only 1.3x between collections, and
  // the peak RSS under tui-flood-bench fell from 318-378 to 277-311 MB, but this thread's GC
  // time doubled (3.8 -> 8.1 s over the flood), keys took ~50 ms longer at p95 and 4 KB traffic
  // cost 15-20 us/msg more CPU: the traffic's cores pay for it.
  const worker = new Worker(new URL('./tui-worker.js', import.meta.url), { workerData, resourceLimits: { maxYoungGenerationSizeMb: 12 } });
  // the session's life is the draw's: a UI thread never keeps the process up by itself
  worker.unref();
  const post = (message: ToTui, transfer?: ArrayBuffer[]): void => worker.postMessage(message, transfer);
  let failure: Error | undefined;
  let gone = false;
  const feed = new UiFeed({
    post: (batch) => post({ type: 'batch', batch }, [batch.buffer as ArrayBuffer]),
    budget: options.behindBudget ?? DEFAULT_BEHIND_BUDGET,
  });
  const onAck = (message: FromTui): void => {
    if (message.type === 'ack') feed.ack(message.length);
  };
  worker.on('message', onAck);
  const onGone = (error?: Error): void => {
    failure ??= error ?? new Error('its thread exited');
    gone = true;
    feed.stop();
  };
  worker.once('error', onGone);
  worker.once('exit', () => {
    if (!gone) onGone();
  });

  return {
    observer: feed,
    notShown: () => feed.notShown,
    draw: (draw) =>
      new Promise<void>((resolve, reject) => {
        // the process's terminal: the UI's thread opens it too (fds 0 and 1)
        const stdin = process.stdin;
        const stdout = process.stdout;
        let quitRan: Promise<void> | undefined;
        let quitError: unknown;
        const runQuit = (): Promise<void> =>
          (quitRan ??= draw.onQuit().catch((error: unknown) => {
            quitError ??= error;
          }));
        // the UI's thread reads the keys and writes the screen itself; the terminal's mode stays
        // here, so it is restored however that thread ends
        const setRawMode = (on: boolean): void => {
          if (stdin.isTTY) stdin.setRawMode(on);
        };
        const onResize = (): void => post({ type: 'resize', columns: stdout.columns ?? 80, rows: stdout.rows ?? 24 });
        const sendRecording = (): void => post({ type: 'recording', recording: draw.recording?.() });
        const recordingTimer = setInterval(sendRecording, RECORDING_INFO_MS);
        recordingTimer.unref();
        const onAbort = (): void => post({ type: 'abort' });

        let finished = false;
        const finish = (error?: string): void => {
          if (finished) return;
          finished = true;
          worker.off('message', onMessage);
          worker.off('error', onFailure);
          worker.off('exit', onExit);
          stdout.off('resize', onResize);
          draw.signal?.removeEventListener('abort', onAbort);
          clearInterval(recordingTimer);
          setRawMode(false);
          detachNotices();
          detachProgress?.();
          draw.notices.release();
          feed.stop();
          const thread = failure ?? (error !== undefined ? new Error(error) : undefined);
          // a thread that died drew over the screen: give the shell its screen back
          if (failure !== undefined) stdout.write(LEAVE_ALT_SCREEN);
          void worker
            .terminate()
            .then(runQuit)
            .then(() => {
              if (thread !== undefined) reject(new TuiThreadError(thread.message));
              else if (quitError !== undefined) reject(quitError);
              else resolve();
            });
        };
        const onMessage = (message: FromTui): void => {
          switch (message.type) {
            case 'raw-mode':
              setRawMode(message.on);
              break;
            case 'quit':
              void runQuit().then(() => {
                // every close the stop caused is batched: send it before the answer
                feed.flush();
                if (!gone) post({ type: 'quit-done' });
              });
              break;
            case 'stderr':
              process.stderr.write(`${message.line}\n`);
              break;
            case 'exited':
              finish(message.error);
              break;
            case 'fault-request': {
              const faults = draw.faults;
              const reply = faults
                ? applyFaultRequest(faults, message.request, draw.notices.notice)
                : { faults: [], error: 'fault rules act on a live session only (--upstream or --standalone)' };
              post({ type: 'fault-reply', id: message.id, reply });
              break;
            }
            case 'ack':
              break;
          }
        };
        const onFailure = (): void => finish();
        const onExit = (): void => finish();

        draw.notices.holdForTui();
        const detachNotices = draw.notices.attach((line) => post({ type: 'notice', line }));
        const detachProgress = draw.progress?.attach((line) => post({ type: 'progress', line }));
        worker.on('message', onMessage);
        worker.once('error', onFailure);
        worker.once('exit', onExit);
        stdout.on('resize', onResize);
        if (draw.signal?.aborted) onAbort();
        else draw.signal?.addEventListener('abort', onAbort, { once: true });
        if (gone) {
          finish();
          return;
        }
        sendRecording();
        feed.flush();
        post({ type: 'draw', mode: draw.mode, columns: stdout.columns ?? 80, rows: stdout.rows ?? 24, faults: draw.faults !== undefined });
      }),
  };
}
