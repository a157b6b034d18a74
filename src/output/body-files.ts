// Message bodies to files: `replay FILE --export-bodies DIR` (one file per message, with a
// JSON sidecar of its properties and routing) and the TUI's save key (the selected message's
// body into the current directory). Bodies are written as they came (a gzip'd body stays
// gzip'd, `.gz` says so), mode 0600 like a recording: they are the payloads.

import fs from 'node:fs';
import nodePath from 'node:path';
import type { EventSink, MessageEvent, SpyEvent } from '../events.js';
import { AmqpSpyError } from '../errors.js';
import { methodToJson, valueToJson, type Json } from './event-json.js';
import { describeFsError } from '../source/errno.js';

export class ExportError extends AmqpSpyError {
  constructor(
    readonly path: string,
    message: string,
    override readonly exitCode: number = 1,
  ) {
    super(message);
    this.name = 'ExportError';
  }
}

/** File name extensions by media type; others (and none) are `.bin`. */
const EXTENSIONS: Readonly<Record<string, string>> = {
  'application/json': 'json',
  'text/json': 'json',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/csv': 'csv',
  'text/xml': 'xml',
  'application/xml': 'xml',
  'application/yaml': 'yaml',
  'text/yaml': 'yaml',
  'application/msgpack': 'msgpack',
  'application/x-msgpack': 'msgpack',
  'application/vnd.msgpack': 'msgpack',
  'application/cbor': 'cbor',
  'application/protobuf': 'pb',
  'application/x-protobuf': 'pb',
  'application/vnd.google.protobuf': 'pb',
  'application/pdf': 'pdf',
  'image/png': 'png',
  'image/jpeg': 'jpg',
};
const ENCODING_EXTENSIONS: Readonly<Record<string, string>> = { gzip: 'gz', 'x-gzip': 'gz', deflate: 'zz', br: 'br' };

/** `json`, `txt`, `json.gz`, `bin`: from the content-type, plus the content-encoding when it compresses. */
export function bodyExtension(event: MessageEvent): string {
  const type = event.properties['content-type'];
  const media = typeof type === 'string' ? (type.split(';')[0] ?? '').trim().toLowerCase() : '';
  const base = EXTENSIONS[media] ?? (media.endsWith('+json') ? 'json' : media.endsWith('+xml') ? 'xml' : media.startsWith('text/') ? 'txt' : 'bin');
  const encoding = event.properties['content-encoding'];
  const compressed = typeof encoding === 'string' ? ENCODING_EXTENSIONS[encoding.trim().toLowerCase()] : undefined;
  return compressed !== undefined ? `${base}.${compressed}` : base;
}

/** `c3-ch1-000042`: connection, channel and the message's event number. */
export function bodyBaseName(event: MessageEvent): string {
  return `c${event.conn}-ch${event.channel}-${String(event.seq).padStart(6, '0')}`;
}

/** The sidecar: what the message was, so a body file can be understood (and searched) alone. */
export function bodySidecar(event: MessageEvent, bodyFile: string): { [key: string]: Json } {
  const properties: { [key: string]: Json } = {};
  for (const key of Object.keys(event.properties))
    Object.defineProperty(properties, key, { value: valueToJson(event.properties[key]!), enumerable: true, writable: true, configurable: true });
  const method = methodToJson(event.method);
  const args = event.method.args;
  const text = (name: string) => (typeof args[name] === 'string' ? (args[name] as string) : undefined);
  return {
    seq: event.seq,
    ts: event.ts,
    time: new Date(Math.floor(event.ts / 1000)).toISOString(),
    conn: event.conn,
    channel: event.channel,
    dir: event.dir,
    method: event.method.name,
    ...(text('exchange') !== undefined ? { exchange: text('exchange')! } : {}),
    ...(text('routing-key') !== undefined ? { routingKey: text('routing-key')! } : {}),
    args: method['args']!,
    properties,
    bodySize: event.header !== undefined ? Number(event.header.bodySize) : event.body.length,
    bodyFile,
    ...(event.bodyOmitted !== undefined ? { bodyOmitted: event.bodyOmitted } : {}),
    ...(event.incomplete !== undefined ? { incomplete: event.incomplete } : {}),
  };
}

const { O_WRONLY, O_CREAT, O_TRUNC, O_EXCL } = fs.constants;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** Writes a whole file, refusing to follow a link at the path (`replace`: else refusing any file there). */
function writeFileSafely(path: string, data: Uint8Array | string, replace: boolean): void {
  const fd = fs.openSync(path, O_WRONLY | O_CREAT | O_NOFOLLOW | (replace ? O_TRUNC : O_EXCL), 0o600);
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Checks the directory for an export: created when missing; an existing one must be empty
 * unless `force`. Throws ExportError (exit 2) before anything is replayed.
 */
export function prepareExportDir(dir: string, force: boolean): void {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExportError(dir, `cannot export to ${dir}: ${describeFsError(error)}`, 2);
  }
  if (stat === undefined) {
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ExportError(dir, `cannot create ${dir}: ${describeFsError(error)}`, 2);
    }
    return;
  }
  if (!stat.isDirectory()) throw new ExportError(dir, `cannot export to ${dir}: it is not a directory`, 2);
  if (!force && fs.readdirSync(dir).length > 0)
    throw new ExportError(dir, `${dir} is not empty: give an empty or new directory, or --force to write into it`, 2);
}

export interface BodyExporter {
  readonly sink: EventSink;
  /** messages exported so far */
  readonly count: number;
}

/** A sink writing each message's body and sidecar into `dir` (prepared by prepareExportDir). */
export function createBodyExporter(dir: string, force: boolean): BodyExporter {
  let count = 0;
  const sink: EventSink = (event: SpyEvent) => {
    if (event.kind !== 'message') return;
    const base = bodyBaseName(event);
    const bodyFile = `${base}.${bodyExtension(event)}`;
    try {
      writeFileSafely(nodePath.join(dir, bodyFile), event.body, force);
      writeFileSafely(nodePath.join(dir, `${base}.meta.json`), `${JSON.stringify(bodySidecar(event, bodyFile), null, 2)}\n`, force);
    } catch (error) {
      throw new ExportError(dir, `cannot write ${nodePath.join(dir, bodyFile)}: ${describeFsError(error)}`);
    }
    count++;
  };
  return {
    sink,
    get count() {
      return count;
    },
  };
}

/**
 * The TUI's save key: the message's body into `dir` (the current directory) as
 * `c3-ch1-000042.json`, never over an existing file (`-1`, `-2`... then). Returns the path.
 */
export function saveBody(event: MessageEvent, dir: string): string {
  const base = bodyBaseName(event);
  const ext = bodyExtension(event);
  for (let n = 0; n < 100; n++) {
    const path = nodePath.join(dir, `${base}${n === 0 ? '' : `-${n}`}.${ext}`);
    try {
      writeFileSafely(path, event.body, false);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new ExportError(path, `cannot save the body to ${path}: ${describeFsError(error)}`);
    }
  }
  throw new ExportError(dir, `cannot save the body: ${base}.${ext} and 99 numbered copies exist in ${dir}`);
}
