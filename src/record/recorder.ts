// The recording sink: events become lines, lines are batched into large buffers and written
// with one write at a time (positional to a file, sequential to a pipe or device). Memory
// stays bounded because the recorder says when it is behind (`overloaded`) and the source
// pauses its sockets until `onDrain`; it never drops an event it was given.

import fs from 'node:fs';
import nodePath from 'node:path';
import { nowMicros, type EventSink, type SpyEvent } from '../events.js';
import { LineBuffers } from '../output/line-buffers.js';
import { describeFsError } from '../source/errno.js';
import { makeRecordingHeader, recordingLine, writeFrameLine, type RecordingHeader } from './recording-format.js';
import { AmqpSpyError } from '../errors.js';

export class RecordingWriteError extends AmqpSpyError {
  override readonly exitCode: number = 1;
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    reason: string,
  ) {
    super(`cannot write the recording ${path}: ${reason}`);
    this.name = 'RecordingWriteError';
  }
}

export interface RecorderOptions {
  readonly path: string;
  /** the header line; a function is called when the file is opened (the moment recording starts) */
  readonly header: RecordingHeader | (() => RecordingHeader);
  /**
   * Open the file only when `open()` is called (a session calls it once it listens), so a
   * session that fails to start leaves an existing file untouched. Events given before are
   * kept and written after the header. The path is still checked at creation.
   */
  readonly deferOpen?: boolean;
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
  /** creates (or truncates) the file and writes the header; once, later calls do nothing */
  open(): void;
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

/** The recording path is a symbolic link: recordings hold message bodies, so links are not followed. */
export class RecordingLinkError extends RecordingWriteError {
  // the path given is wrong (usage), where a failed write is a failure while running
  override readonly exitCode = 2;
  constructor(
    path: string,
    readonly target: string,
    readonly realPath: string | undefined,
  ) {
    super(
      path,
      'ELOOP',
      `it is a symbolic link (to ${target}), which a recording does not follow; give the real path${realPath !== undefined ? `: --record ${realPath}` : ''}`,
    );
    this.name = 'RecordingLinkError';
  }
}

/** What a recording's write failures mean (the rest as for any file, see describeFsError). */
const RECORDING_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such directory',
  ENOSPC: 'no space left on the device',
  EPIPE: 'the pipe has no reader any more',
  // opening /dev/stdout when it is a socket (not a pipe) gives ENXIO
  ENXIO: 'no such device, or it is a socket (record to a file, FIFO or terminal)',
};

function describeWriteError(path: string, error: unknown): RecordingWriteError {
  return new RecordingWriteError(path, (error as NodeJS.ErrnoException).code, describeFsError(error, RECORDING_WORDS));
}

/** A write starts at once when this much is waiting; less waits up to WRITE_DELAY_MS. */
const MIN_WRITE_BYTES = 256 * 1024;
const WRITE_DELAY_MS = 10;

// O_NOFOLLOW: a link put at the path between the check and the open fails the open (ELOOP)
const { O_WRONLY, O_CREAT, O_TRUNC, O_APPEND } = fs.constants;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

interface RecordingFile {
  readonly fd: number;
  /** a regular file, written with positional writes; else a pipe or device, written in order */
  readonly seekable: boolean;
  /** false for stdout (`--record -`): never closed by the recorder */
  readonly owned: boolean;
}

/** `--record -`: the recording goes to stdout, for another program to read. */
export const STDOUT_PATH = '-';

/** Whether `path` leads to this process's own stdout or stderr (`/dev/stdout`, `/dev/fd/2`). */
function isOwnStream(path: string): boolean {
  let target: fs.Stats;
  try {
    target = fs.statSync(path);
  } catch {
    return false;
  }
  for (const fd of [1, 2]) {
    try {
      const s = fs.fstatSync(fd);
      if (s.dev === target.dev && s.ino === target.ino) return true;
    } catch {
      // not open
    }
  }
  return false;
}

function linkError(path: string): RecordingLinkError {
  let target = '?';
  try {
    target = fs.readlinkSync(path);
  } catch {
    // replaced meanwhile
  }
  let realPath: string | undefined;
  try {
    realPath = fs.realpathSync(path);
  } catch {
    realPath = target === '?' ? undefined : nodePath.resolve(nodePath.dirname(path), target); // dangling: where it points
  }
  return new RecordingLinkError(path, target, realPath);
}

/** The path's own entry (a link is not followed), or undefined when there is none. */
function lstatIfExists(path: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return undefined;
  }
}

/**
 * Checks, without creating or changing anything, that the recording could be opened: the
 * errors `openRecordingFile` would give for a link, a missing directory, a directory or a
 * file or directory we may not write, so a deferred open fails before the session starts.
 */
function checkRecordingPath(path: string): void {
  if (path === STDOUT_PATH) return;
  const existing = lstatIfExists(path);
  if (existing?.isSymbolicLink()) {
    if (!isOwnStream(path)) throw linkError(path);
    return;
  }
  if (existing?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
  if (existing !== undefined) {
    fs.accessSync(path, fs.constants.W_OK);
    return;
  }
  const parent = nodePath.dirname(path);
  if (!fs.statSync(parent).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOENT' });
  fs.accessSync(parent, fs.constants.W_OK);
}

/**
 * Opens the recording: a new (or truncated) file with mode 0600, as it holds message bodies
 * and maybe credentials. A symbolic link at the path is refused (someone else's link in a
 * shared directory must not redirect or truncate another file), except a link to this
 * process's own stdout or stderr, which is written to where it goes. A FIFO or character
 * device is written to in order; opening a FIFO waits for its reader, as a shell does.
 */
function openRecordingFile(path: string): RecordingFile {
  if (path === STDOUT_PATH) {
    return { fd: 1, seekable: false, owned: false };
  }
  const existing = lstatIfExists(path);
  if (existing?.isSymbolicLink()) {
    if (!isOwnStream(path)) throw linkError(path);
    // appending: a redirected stdout file is not truncated under the shell's feet
    return { fd: fs.openSync(path, O_WRONLY | O_APPEND), seekable: false, owned: true };
  }
  let fd: number;
  try {
    fd = fs.openSync(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw linkError(path);
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    // an existing file of ours gets the same protection as a new one
    if (stat.isFile() && existing !== undefined && (stat.mode & 0o077) !== 0 && stat.uid === process.getuid?.()) fs.fchmodSync(fd, 0o600);
    return { fd, seekable: stat.isFile(), owned: true };
  } catch (error) {
    fs.closeSync(fd);
    throw error;
  }
}

/**
 * Creates (or truncates) the file and writes the header line before returning; with
 * `deferOpen`, only checks the path, and `open()` does that later.
 */
export function createRecorder(options: RecorderOptions): Recorder {
  const { path } = options;
  const keepSecrets = options.keepSecrets ?? false;
  const highWater = options.highWaterBytes ?? 8 * 1024 * 1024;
  const lowWater = Math.floor(highWater / 2);
  const batchBytes = options.batchBytes ?? 1024 * 1024;

  /** -1 until opened, and again once closed */
  let fd = -1;
  let opened = false;
  let seekable = false;
  let owned = false;
  /** bytes written or handed to a write so far: the next write's position in a file */
  let position = 0;

  const openFile = () => {
    if (opened) return;
    opened = true;
    let file: RecordingFile;
    try {
      file = openRecordingFile(path);
    } catch (error) {
      if (error instanceof RecordingWriteError) throw error;
      throw describeWriteError(path, error);
    }
    try {
      const header = typeof options.header === 'function' ? options.header() : options.header;
      const headerLine = Buffer.from(`${JSON.stringify(header)}\n`);
      writeAllSync(file.fd, [headerLine], file.seekable ? 0 : null);
      position = headerLine.length;
    } catch (error) {
      if (file.owned) fs.closeSync(file.fd);
      throw describeWriteError(path, error);
    }
    ({ fd, seekable, owned } = file);
  };

  if (options.deferOpen) {
    try {
      checkRecordingPath(path);
    } catch (error) {
      if (error instanceof RecordingWriteError) throw error;
      throw describeWriteError(path, error);
    }
  } else openFile();

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
      fs.writev(fd, after(job.buffers, done), seekable ? job.position + done : null, (error, written) => {
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
    open() {
      if (opened || closed) return;
      openFile();
      writeSoon();
    },
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
      if (!opened) {
        // never opened (the session did not start): the path is left as it was
        closed = true;
        out.discard();
        return;
      }
      await flush();
      closed = true;
      if (fd >= 0) {
        const toClose = fd;
        fd = -1;
        if (owned) await new Promise<void>((resolve) => fs.close(toClose, () => resolve()));
      }
    },
    closeSync() {
      closed = true;
      if (fd < 0) return;
      try {
        // Positional writes make rewriting the in-flight batch harmless if it did land. A
        // pipe can't tell how much of it did: its rest would repeat or interleave lines, so
        // the lines after it are left out (the file's last line may then be cut short).
        const inOrderAfter = seekable || inFlight === undefined;
        if (inFlight && seekable) {
          writeAllSync(fd, inFlight.buffers, inFlight.position);
          eventsRecorded += inFlight.events;
        }
        inFlight = undefined;
        out.seal();
        if (out.sealedBytes > 0 && !failed && inOrderAfter) {
          const rest = out.takeSealed();
          writeAllSync(fd, rest.buffers, seekable ? position : null);
          position += rest.bytes;
          eventsRecorded += eventsPending;
          eventsPending = 0;
        }
      } catch (error) {
        fail(error);
      }
      if (owned) fs.closeSync(fd);
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

/** Writes every byte; `position` null writes in order (a pipe or device). */
function writeAllSync(fd: number, buffers: Buffer[], position: number | null): void {
  for (const b of buffers) {
    for (let at = 0; at < b.length; ) at += fs.writeSync(fd, b, at, b.length - at, position === null ? null : position + at);
    if (position !== null) position += b.length;
  }
}

export interface SessionRecordingOptions {
  readonly path: string;
  readonly keepSecrets: boolean;
  readonly mode: 'proxy' | 'standalone' | 'capture';
  /** host:port clients connect to (a capture: what was read); a function is asked when the file opens (the port bound for 0) */
  readonly listen: string | (() => string);
  readonly upstream?: string;
  readonly tool: string;
  readonly notice: (line: string) => void;
  /** when the session started (µs), asked when the file is opened; default: now (a capture: its first packet) */
  readonly startedMicros?: () => number;
  /** the header says what was left out: --record-filter's expression, --record-bodies */
  readonly recordFilter?: string;
  readonly bodies?: string;
}

/**
 * The recorder for `--record FILE`: header from the session, write errors as one notice, and
 * a last synchronous flush on any process exit, so every event given to it reaches the file.
 * The path is checked now but the file is opened by `open()`, which the caller calls once the
 * session listens: a session that cannot listen must not truncate the recording already there.
 * The caller still awaits `close()` after stopping the session on SIGINT/SIGTERM.
 */
export function createSessionRecorder(options: SessionRecordingOptions): Recorder {
  const recorder = createRecorder({
    path: options.path,
    keepSecrets: options.keepSecrets,
    deferOpen: true,
    header: () =>
      makeRecordingHeader({
        tool: options.tool,
        startedMicros: options.startedMicros?.() ?? nowMicros(),
        mode: options.mode,
        listen: typeof options.listen === 'function' ? options.listen() : options.listen,
        ...(options.upstream !== undefined ? { upstream: options.upstream } : {}),
        secrets: options.keepSecrets ? 'kept' : 'masked',
        ...(options.recordFilter !== undefined ? { recordFilter: options.recordFilter } : {}),
        ...(options.bodies !== undefined ? { bodies: options.bodies } : {}),
      }),
    onError: (error) => options.notice(`${error.message}; recording stopped`),
  });
  const onExit = () => recorder.closeSync();
  process.once('exit', onExit);
  // a process that records many sessions (the package API in a test suite) keeps no listener per closed one
  const close = recorder.close.bind(recorder);
  return Object.assign(recorder, {
    close: () =>
      close().finally(() => {
        process.off('exit', onExit);
      }),
  });
}
