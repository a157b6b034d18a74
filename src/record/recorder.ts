// The recording sink: events become lines, lines are batched into large buffers and written
// with one positional write at a time. Memory stays bounded because the recorder says when it
// is behind (`overloaded`) and the source pauses its sockets until `onDrain`; it never drops
// an event it was given.

import fs from 'node:fs';
import { nowMicros, type EventSink, type SpyEvent } from '../events.js';
import { LineBuffers } from './line-buffers.js';
import { makeRecordingHeader, recordingLine, writeFrameLine, type RecordingHeader } from './recording-format.js';

export class RecordingWriteError extends Error {
  constructor(readonly path: string, readonly code: string | undefined, reason: string) {
    super(`cannot write the recording ${path}: ${reason}`);
    this.name = 'RecordingWriteError';
  }
}

export interface RecorderOptions {
  readonly path: string;
  readonly header: RecordingHeader;
  /** write credential frames unmasked (`--record-secrets`); the taps must keep secrets */
  readonly keepSecrets?: boolean;
  /** buffered bytes above which `overloaded` turns true (default 8 MiB) */
  readonly highWaterBytes?: number;
  /** size of the buffers lines are encoded into (default 1 MiB) */
  readonly batchBytes?: number;
  /** the first write error; the recorder stops recording after it */
  readonly onError?: (error: RecordingWriteError) => void;
}

export interface Recorder {
  readonly path: string;
  /** the event sink to subscribe to the session's bus */
  readonly sink: EventSink;
  /** more than the high-water mark is waiting for the disk: the source should pause reading */
  readonly overloaded: boolean;
  /** calls `callback` once the backlog is below half the high-water mark (at once if it is) */
  onDrain(callback: () => void): void;
  /** resolves when every event given so far is in the file */
  flush(): Promise<void>;
  /** flushes, then closes the file; later events are ignored */
  close(): Promise<void>;
  /** for `process.on('exit')`: writes what is left synchronously and closes */
  closeSync(): void;
  /** bytes in the file so far (header included) */
  readonly bytesWritten: number;
  readonly error: RecordingWriteError | undefined;
  /** events given to the recorder that are not in the file because writing failed */
  readonly eventsLost: number;
}

function describeWriteError(path: string, error: unknown): RecordingWriteError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'no such directory'
      : code === 'EACCES' ? 'permission denied'
        : code === 'EISDIR' ? 'it is a directory'
          : code === 'ENOSPC' ? 'no space left on the device'
            : (error as Error).message;
  return new RecordingWriteError(path, code, reason);
}

/** A write starts at once when this much is waiting; less waits up to WRITE_DELAY_MS. */
const MIN_WRITE_BYTES = 256 * 1024;
const WRITE_DELAY_MS = 10;

/** Creates (or truncates) the file and writes the header line before returning. */
export function createRecorder(options: RecorderOptions): Recorder {
  const { path } = options;
  const keepSecrets = options.keepSecrets ?? false;
  const highWater = options.highWaterBytes ?? 8 * 1024 * 1024;
  const lowWater = Math.floor(highWater / 2);
  const batchBytes = options.batchBytes ?? 1024 * 1024;

  let fd: number;
  let position = 0;
  try {
    fd = fs.openSync(path, 'w');
    const headerLine = Buffer.from(`${JSON.stringify(options.header)}\n`);
    position = fs.writeSync(fd, headerLine, 0, headerLine.length, 0);
  } catch (error) {
    throw describeWriteError(path, error);
  }

  // Lines are encoded straight into large buffers; sealed regions wait for the write in flight.
  // Up to the high-water mark can be waiting, plus the buffer being filled and a partial one.
  const out = new LineBuffers(batchBytes, Math.ceil(highWater / batchBytes) + 2);
  let inFlight: { buffers: Buffer[]; bytes: number; position: number; events: number } | undefined;
  let closed = false;
  let failed: RecordingWriteError | undefined;
  let overloaded = false;
  let drainCallbacks: (() => void)[] = [];
  let flushWaiters: (() => void)[] = [];
  // events taken, encoded but not yet handed to a write, and known to be in the file
  let eventsTaken = 0;
  let eventsPending = 0;
  let eventsRecorded = 0;

  const backlog = () => out.sealedBytes + out.unsealedBytes + (inFlight?.bytes ?? 0);

  const settle = () => {
    if (overloaded && (backlog() <= lowWater || failed)) {
      overloaded = false;
      const callbacks = drainCallbacks;
      drainCallbacks = [];
      for (const cb of callbacks) cb();
    }
    if (inFlight === undefined && ((out.sealedBytes === 0 && out.unsealedBytes === 0) || failed)) {
      const waiters = flushWaiters;
      flushWaiters = [];
      for (const w of waiters) w();
    }
  };

  const fail = (error: unknown) => {
    if (failed) return;
    failed = describeWriteError(path, error);
    out.discard();
    inFlight = undefined;
    options.onError?.(failed);
    settle();
  };

  /** The buffers after the first `skip` bytes (a partial write's rest). */
  const after = (buffers: Buffer[], skip: number): Buffer[] => {
    const rest: Buffer[] = [];
    for (const b of buffers) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    return rest;
  };

  // Small writes are gathered for a moment: one write per event-loop turn cost the main
  // thread more than encoding did. SIGINT/SIGTERM and exit flush at once.
  let writeTimer: NodeJS.Timeout | undefined;
  const scheduleWrite = () => {
    if (writeTimer !== undefined || inFlight !== undefined) return;
    writeTimer = setTimeout(writeNext, WRITE_DELAY_MS);
    writeTimer.unref();
  };
  const writeSoon = () => {
    if (out.sealedBytes + out.unsealedBytes >= MIN_WRITE_BYTES || flushWaiters.length > 0) writeNext();
    else if (out.sealedBytes + out.unsealedBytes > 0) scheduleWrite();
  };

  const writeNext = () => {
    if (writeTimer !== undefined) {
      clearTimeout(writeTimer);
      writeTimer = undefined;
    }
    if (inFlight !== undefined || failed || fd < 0) return;
    out.seal();
    if (out.sealedBytes === 0) return;
    const job = { ...out.takeSealed(), position, events: eventsPending };
    eventsPending = 0;
    position += job.bytes;
    inFlight = job;
    const writeFrom = (done: number) => {
      fs.writev(fd, after(job.buffers, done), job.position + done, (error, written) => {
        if (inFlight !== job) return; // closed synchronously meanwhile, or failed
        if (error) return fail(error);
        if (done + written < job.bytes) return writeFrom(done + written);
        inFlight = undefined;
        eventsRecorded += job.events;
        out.release(job.buffers);
        writeSoon();
        settle();
      });
    };
    writeFrom(0);
  };

  const sink: EventSink = (event: SpyEvent) => {
    if (closed) return;
    if (event.kind === 'frame') {
      eventsTaken++;
      // after a write error the file is gone for good: count what it misses, encode nothing
      if (failed) return;
      writeFrameLine(out, event, keepSecrets);
    } else {
      const line = recordingLine(event, keepSecrets);
      if (line === undefined) return;
      eventsTaken++;
      if (failed) return;
      out.beginLine();
      out.utf8(line);
      out.endLine();
    }
    eventsPending++;
    if (!overloaded && backlog() > highWater) overloaded = true;
    if (inFlight === undefined) writeSoon();
  };

  const flush = () =>
    new Promise<void>((resolve) => {
      flushWaiters.push(resolve);
      if (inFlight === undefined) writeNext();
      settle();
    });

  return {
    path,
    sink,
    get overloaded() {
      return overloaded;
    },
    onDrain(callback) {
      if (!overloaded) callback();
      else drainCallbacks.push(callback);
    },
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      if (fd >= 0) {
        const toClose = fd;
        fd = -1;
        await new Promise<void>((resolve) => fs.close(toClose, () => resolve()));
      }
    },
    closeSync() {
      closed = true;
      if (fd < 0) return;
      try {
        // positional writes make rewriting the in-flight batch harmless if it did land
        if (inFlight) {
          writeAllSync(fd, inFlight.buffers, inFlight.position);
          eventsRecorded += inFlight.events;
        }
        inFlight = undefined;
        out.seal();
        if (out.sealedBytes > 0 && !failed) {
          const rest = out.takeSealed();
          writeAllSync(fd, rest.buffers, position);
          position += rest.bytes;
          eventsRecorded += eventsPending;
          eventsPending = 0;
        }
      } catch (error) {
        fail(error);
      }
      fs.closeSync(fd);
      fd = -1;
    },
    get bytesWritten() {
      return position - (inFlight?.bytes ?? 0);
    },
    get error() {
      return failed;
    },
    get eventsLost() {
      return failed ? eventsTaken - eventsRecorded : 0;
    },
  };
}

function writeAllSync(fd: number, buffers: Buffer[], position: number): void {
  for (const b of buffers) {
    for (let at = 0; at < b.length; ) at += fs.writeSync(fd, b, at, b.length - at, position + at);
    position += b.length;
  }
}

export interface SessionRecordingOptions {
  readonly path: string;
  readonly keepSecrets: boolean;
  readonly mode: 'proxy' | 'standalone';
  /** host:port clients connect to */
  readonly listen: string;
  readonly upstream?: string;
  readonly tool: string;
  readonly notice: (line: string) => void;
}

/**
 * The recorder for `--record FILE`: header from the session, write errors as one notice, and
 * a last synchronous flush on any process exit, so every event given to it reaches the file.
 * The caller still awaits `close()` after stopping the session on SIGINT/SIGTERM.
 */
export function createSessionRecorder(options: SessionRecordingOptions): Recorder {
  const recorder = createRecorder({
    path: options.path,
    keepSecrets: options.keepSecrets,
    header: makeRecordingHeader({
      tool: options.tool,
      startedMicros: nowMicros(),
      mode: options.mode,
      listen: options.listen,
      ...(options.upstream !== undefined ? { upstream: options.upstream } : {}),
      secrets: options.keepSecrets ? 'kept' : 'masked',
    }),
    onError: (error) => options.notice(`${error.message}; recording stopped`),
  });
  process.once('exit', () => recorder.closeSync());
  return recorder;
}
