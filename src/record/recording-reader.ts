// Reads a recording line by line (bounded memory), checking the header and each line. Bad
// input becomes one RecordingError naming the file and, for a bad line, its number.

import fs from 'node:fs';
import { DECODE_ERROR_CODES, type DecodeErrorCode } from '../decoder/errors.js';
import type { DecodeErrorEvent, Direction, Endpoint, FaultMark, SocketEnd } from '../events.js';
import { LineCutter } from './line-cutter.js';
import { RECORDING_FORMAT, RECORDING_VERSION, type RecordingHeader } from './recording-format.js';
import { describeFsError } from '../source/errno.js';
import { isPcap } from '../source/pcap.js';
import { AmqpSpyError } from '../errors.js';

export class RecordingError extends AmqpSpyError {
  override readonly exitCode = 2;
  constructor(
    readonly path: string,
    /** 1-based line number, when one line is at fault */
    readonly line: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RecordingError';
  }
}

/** Bytes a tap was fed: a frame, a protocol header, undecoded bytes or an undecodable frame. */
export interface RecordedBytes {
  readonly kind: 'bytes';
  readonly source: 'frame' | 'protocol-header' | 'bytes' | 'decode.error';
  readonly line: number;
  readonly ts: number;
  readonly conn: number;
  readonly dir: Direction;
  readonly channel?: number;
  readonly raw: Buffer;
  /** a frame a fault rule injected or suppressed */
  readonly fault?: FaultMark;
  /** a body frame the recording cut short (--record-bodies): the bytes left out */
  readonly omitted?: number;
}

export interface RecordedOpen {
  readonly kind: 'conn.open';
  readonly line: number;
  readonly ts: number;
  readonly conn: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
}

export interface RecordedClose {
  readonly kind: 'conn.close';
  readonly line: number;
  readonly ts: number;
  readonly conn: number;
  readonly reason: string;
  /** how the sockets ended; absent in recordings made before it was recorded (the reason's words tell) */
  readonly socket?: SocketEnd;
}

/** Client bytes the recording withheld (they may hold credentials): their count, not the bytes. */
export interface RecordedWithheld {
  readonly kind: 'withheld';
  readonly line: number;
  readonly ts: number;
  readonly conn: number;
  readonly dir: Direction;
  readonly length: number;
}

/**
 * Where decoding of a direction stopped, as recorded. Replay works such errors out again
 * from the bytes, except when the bytes after them were withheld: then it uses this.
 */
export interface RecordedStop {
  readonly kind: 'decode.stop';
  readonly line: number;
  readonly ts: number;
  readonly conn: number;
  readonly dir: Direction;
  readonly error: DecodeErrorEvent['error'];
}

/** What replay acts on; derived lines (messages, errors about frame order) come back from the bytes. */
export type RecordedEntry = RecordedBytes | RecordedOpen | RecordedClose | RecordedWithheld | RecordedStop;

export interface OpenRecordingOptions {
  /** skip corrupt lines with a warning instead of failing */
  readonly lenient?: boolean;
  readonly onWarning?: (line: string) => void;
}

export interface OpenRecording {
  readonly path: string;
  readonly header: ReadRecordingHeader;
  /** the entries after the header, in recorded order; throws RecordingError on a bad line */
  entries(): AsyncGenerator<RecordedEntry>;
}

const READ_CHUNK = 1024 * 1024;

/** Why the start of a file says it is not a recording, or undefined when it may be one. */
function sniffNonRecording(path: string, head: Buffer): string | undefined {
  const decodeHint = `; to decode raw AMQP bytes use: amqp-spy decode ${path}`;
  if (isPcap(head)) {
    return `${path} is a pcap capture, not an amqp-spy recording: read it with amqp-spy read ${path} (add --record out.jsonl to convert it)`;
  }
  if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'AMQP') {
    return `${path} holds raw AMQP bytes, not an amqp-spy recording${decodeHint}`;
  }
  const first = head[0];
  if (first === 1 || first === 2 || first === 3 || first === 8 || head.subarray(0, Math.min(head.length, 512)).includes(0)) {
    return `${path} holds binary data, not an amqp-spy recording${decodeHint}`;
  }
  return undefined;
}

/** A recording's header as read: what describes the session is there only if the file says it. */
export type ReadRecordingHeader = Pick<RecordingHeader, 'format' | 'version' | 'secrets'> & Partial<Omit<RecordingHeader, 'format' | 'version' | 'secrets'>>;

function checkHeader(path: string, text: string): ReadRecordingHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RecordingError(path, 1, `${path} is not an amqp-spy recording: line 1 is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new RecordingError(path, 1, `${path} is not an amqp-spy recording: line 1 is not a JSON object`);
  }
  const header = json as Record<string, unknown>;
  if (header['format'] !== RECORDING_FORMAT) {
    const hint = 'kind' in header && 'seq' in header ? ' (it looks like --json output; record with --record FILE)' : '';
    throw new RecordingError(path, 1, `${path} is not an amqp-spy recording: line 1 has no "format":"${RECORDING_FORMAT}"${hint}`);
  }
  const version = header['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new RecordingError(path, 1, `${path}: the header's "version" is ${JSON.stringify(version)}, expected ${RECORDING_VERSION}`);
  }
  if (version > RECORDING_VERSION) {
    throw new RecordingError(
      path,
      1,
      `${path} was written by a newer amqp-spy (recording format version ${version}; this one reads version ${RECORDING_VERSION}): upgrade amqp-spy`,
    );
  }
  // only what the file really holds: a hand-made or older header may lack the descriptions
  const stringField = (key: string): string | undefined => (typeof header[key] === 'string' ? header[key] : undefined);
  const tool = stringField('tool');
  const started = stringField('started');
  const listen = stringField('listen');
  const upstream = stringField('upstream');
  const mode = stringField('mode');
  const recordFilter = stringField('recordFilter');
  const bodies = stringField('bodies');
  return {
    format: RECORDING_FORMAT,
    version,
    ...(tool !== undefined ? { tool } : {}),
    ...(started !== undefined ? { started } : {}),
    ...(typeof header['startedMicros'] === 'number' ? { startedMicros: header['startedMicros'] } : {}),
    ...(mode === 'proxy' || mode === 'standalone' || mode === 'capture' ? { mode } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(upstream !== undefined ? { upstream } : {}),
    secrets: header['secrets'] === 'kept' ? 'kept' : 'masked',
    ...(recordFilter !== undefined ? { recordFilter } : {}),
    ...(bodies !== undefined ? { bodies } : {}),
  };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isDir = (v: unknown): v is Direction => v === 'c2s' || v === 's2c';
const isEndpoint = (v: unknown): v is Endpoint =>
  typeof v === 'object' && v !== null && typeof (v as Endpoint).address === 'string' && isInt((v as Endpoint).port);

/** One event line as an entry, undefined for a derived line, or a reason it is corrupt. */
function toEntry(json: unknown, line: number): RecordedEntry | undefined | string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not a JSON object';
  const e = json as Record<string, unknown>;
  const { kind, ts, conn } = e;
  if (!isInt(ts)) return 'no "ts" (microseconds)';
  if (!isInt(conn)) return 'no "conn" (connection id)';
  switch (kind) {
    case 'conn.open':
      if (!isEndpoint(e['client']) || !isEndpoint(e['server'])) return 'conn.open without client and server addresses';
      return {
        kind,
        line,
        ts,
        conn,
        client: { address: e['client'].address, port: e['client'].port },
        server: { address: e['server'].address, port: e['server'].port },
      };
    case 'conn.close': {
      const socket = toSocketEnd(e['socket']);
      return { kind, line, ts, conn, reason: typeof e['reason'] === 'string' ? e['reason'] : 'closed', ...(socket ? { socket } : {}) };
    }
    case 'frame':
    case 'protocol-header':
    case 'bytes':
    case 'decode.error': {
      const dir = e['dir'];
      if (!isDir(dir)) return `${kind} without "dir" (c2s or s2c)`;
      const field = kind === 'bytes' ? 'data' : 'raw';
      const b64 = e[field];
      if (b64 === undefined && kind === 'bytes' && isInt(e['withheld'])) return { kind: 'withheld', line, ts, conn, dir, length: e['withheld'] };
      if (b64 === undefined && kind === 'decode.error') {
        if (e['stopped'] !== true) return undefined; // derived: comes back from the bytes
        const error = toDecodeError(e['error']);
        // one this reader cannot use (say, a newer code) is left to come back from the bytes
        return error === undefined ? undefined : { kind: 'decode.stop', line, ts, conn, dir, error };
      }
      if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return `${kind} without base64 "${field}"`;
      const raw = Buffer.from(b64, 'base64');
      const channel = e['channel'];
      const fault = kind === 'frame' && (e['fault'] === 'injected' || e['fault'] === 'suppressed') ? e['fault'] : undefined;
      const omitted = kind === 'frame' && isInt(e['bodyOmitted']) && e['bodyOmitted'] > 0 ? e['bodyOmitted'] : undefined;
      return {
        kind: 'bytes',
        source: kind,
        line,
        ts,
        conn,
        dir,
        raw,
        ...(isInt(channel) ? { channel } : {}),
        ...(fault ? { fault } : {}),
        ...(omitted !== undefined ? { omitted } : {}),
      };
    }
    case 'message':
      return undefined; // derived; replay assembles messages again
    default:
      return `unknown "kind" ${JSON.stringify(kind)}`;
  }
}

const SOCKET_BY: readonly unknown[] = ['client', 'server', 'proxy'] satisfies SocketEnd['by'][];
const SOCKET_HOW: readonly unknown[] = ['closed', 'reset', 'error', 'unreachable', 'stopped', 'capture-ended'] satisfies SocketEnd['how'][];

/** A recorded conn.close's `socket`, if it is one this reader knows (else the reason's words are used). */
function toSocketEnd(v: unknown): SocketEnd | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (!SOCKET_BY.includes(e['by']) || !SOCKET_HOW.includes(e['how'])) return undefined;
  const detail = e['detail'];
  return { by: e['by'] as SocketEnd['by'], how: e['how'] as SocketEnd['how'], ...(typeof detail === 'string' ? { detail } : {}) };
}

const isCode = (v: unknown): v is DecodeErrorCode => (DECODE_ERROR_CODES as readonly unknown[]).includes(v);

/** A recorded decode.error's `error` object, if it is one this reader knows. */
function toDecodeError(v: unknown): DecodeErrorEvent['error'] | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (!isCode(e['code']) || !isInt(e['offset']) || typeof e['text'] !== 'string') return undefined;
  const { channel, classId, methodId } = e;
  return {
    code: e['code'],
    offset: e['offset'],
    text: e['text'],
    ...(isInt(channel) ? { channel } : {}),
    ...(isInt(classId) ? { classId } : {}),
    ...(isInt(methodId) ? { methodId } : {}),
  };
}

export async function openRecording(path: string, options: OpenRecordingOptions = {}): Promise<OpenRecording> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (error) {
    throw new RecordingError(path, undefined, `cannot read ${path}: ${describeFsError(error)}`);
  }
  let stat: fs.Stats;
  try {
    stat = await handle.stat();
    if (stat.isDirectory()) throw new RecordingError(path, undefined, `cannot read ${path}: it is a directory`);
    if (stat.size === 0) throw new RecordingError(path, undefined, `${path} is empty: not a recording (was the session recorded with --record ${path}?)`);
  } catch (error) {
    await handle.close();
    if (error instanceof RecordingError) throw error;
    throw new RecordingError(path, undefined, `cannot read ${path}: ${describeFsError(error)}`);
  }

  // the header line, read on its own (it is short)
  let headerText: string;
  let bodyStart: number;
  try {
    const head = Buffer.alloc(Math.min(stat.size, 64 * 1024));
    await handle.read(head, 0, head.length, 0);
    const reason = sniffNonRecording(path, head);
    if (reason) throw new RecordingError(path, undefined, reason);
    const newline = head.indexOf(0x0a);
    if (newline < 0 && head.length < stat.size) throw new RecordingError(path, 1, `${path} is not an amqp-spy recording: line 1 is not a header`);
    headerText = head.toString('utf8', 0, newline < 0 ? head.length : newline);
    bodyStart = newline < 0 ? head.length : newline + 1;
  } catch (error) {
    await handle.close();
    throw error;
  }
  await handle.close();
  const header = checkHeader(path, headerText);

  const warn = options.onWarning ?? (() => {});
  const lenient = options.lenient ?? false;

  async function* entries(): AsyncGenerator<RecordedEntry> {
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(path, 'r');
    } catch (error) {
      throw new RecordingError(path, undefined, `cannot read ${path}: ${describeFsError(error)}`);
    }
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    const lines = new LineCutter();
    let position = bodyStart;
    let lineNo = 1;
    const corrupt = (line: number, reason: string) => {
      const text = `${path}: line ${line} is corrupt: ${reason}`;
      if (!lenient) throw new RecordingError(path, line, `${text} (--lenient skips corrupt lines)`);
      warn(`${text}; skipped`);
    };
    const parseLine = (bytes: Buffer, start: number, end: number, line: number, last: boolean): RecordedEntry | undefined => {
      if (end > start && bytes[end - 1] === 0x0d) end--; // CRLF
      if (end === start) return undefined;
      let json: unknown;
      try {
        json = JSON.parse(bytes.toString('utf8', start, end));
      } catch {
        if (last) {
          warn(`${path}: the last line (${line}) is cut short, as when recording was killed; ignored`);
          return undefined;
        }
        corrupt(line, 'not valid JSON');
        return undefined;
      }
      const entry = toEntry(json, line);
      if (typeof entry === 'string') {
        corrupt(line, entry);
        return undefined;
      }
      return entry;
    };
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        // lines are parsed before the next read overwrites `buffer`; the cutter keeps the rest
        lines.feed(buffer.subarray(0, bytesRead));
        while (lines.next()) {
          lineNo++;
          const entry = parseLine(lines.bytes, lines.start, lines.end, lineNo, false);
          if (entry) yield entry;
        }
      }
      if (lines.finish()) {
        const entry = parseLine(lines.bytes, lines.start, lines.end, lineNo + 1, true);
        if (entry) yield entry;
      }
    } finally {
      await handle.close();
    }
  }

  return { path, header, entries };
}
