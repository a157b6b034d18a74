// The recording file: line 1 a header, then one event per line in the `--json` schema
// (event-json.ts). Raw bytes are the source of truth; replay feeds them to a fresh tap, so
// derived events (messages, assembly errors) are not written and come back on replay.

import { isFieldTable } from '../decoder/field-table.js';
import { perMethod } from '../decoder/spec.js';
import type { Direction, FrameEvent, SpyEvent } from '../events.js';
import type { ArgumentValue } from '../decoder/types.js';
import { base64, bigintToJson, eventToJson, valueToJson, type Json } from '../output/event-json.js';
import type { LineBuffers } from '../output/line-buffers.js';

export const RECORDING_FORMAT = 'amqp-spy';
export const RECORDING_VERSION = 1;

export interface RecordingHeader {
  readonly format: typeof RECORDING_FORMAT;
  readonly version: number;
  /** e.g. `amqp-spy 0.1.0` */
  readonly tool: string;
  /** ISO 8601, and the same instant in microseconds since the epoch */
  readonly started: string;
  readonly startedMicros: number;
  /** capture: read from a pcap/pcapng file or tcpdump (`listen` names it) */
  readonly mode: 'proxy' | 'standalone' | 'capture';
  /** host:port clients connected to (a capture: the file, or `sniff IFACE:PORT`) */
  readonly listen: string;
  /** host:port (or amqps://host:port) of the broker; absent in standalone mode */
  readonly upstream?: string;
  /** whether credentials are in the raw bytes (`--record-secrets`) or masked */
  readonly secrets: 'masked' | 'kept';
  /** --record-filter: only the events it matched are recorded (with their connection and channel setup) */
  readonly recordFilter?: string;
  /** --record-bodies: `none` or `head:N`; absent when bodies are whole */
  readonly bodies?: string;
}

export function makeRecordingHeader(
  fields: Omit<RecordingHeader, 'format' | 'version' | 'started' | 'startedMicros'> & { startedMicros: number },
): RecordingHeader {
  return {
    format: RECORDING_FORMAT,
    version: RECORDING_VERSION,
    tool: fields.tool,
    started: new Date(Math.floor(fields.startedMicros / 1000)).toISOString(),
    startedMicros: fields.startedMicros,
    mode: fields.mode,
    listen: fields.listen,
    ...(fields.upstream !== undefined ? { upstream: fields.upstream } : {}),
    secrets: fields.secrets,
    ...(fields.recordFilter !== undefined ? { recordFilter: fields.recordFilter } : {}),
    ...(fields.bodies !== undefined ? { bodies: fields.bodies } : {}),
  };
}

/** Whether an event is written to a recording: everything but what replay derives again. */
export function isRecorded(event: SpyEvent): boolean {
  if (event.kind === 'message') return false;
  // assembly errors (no raw) come back from the frames; a frame that failed to decode keeps its bytes
  if (event.kind === 'decode.error') return event.raw !== undefined || event.stopped;
  return true;
}

/** One event as a recording line (no newline), or undefined for derived events. */
export function recordingLine(event: SpyEvent, keepSecrets: boolean): string | undefined {
  if (!isRecorded(event)) return undefined;
  const json = eventToJson(event);
  if (keepSecrets) {
    if (event.kind === 'frame' && event.secretRaw !== undefined) json['raw'] = base64(event.secretRaw);
    else if (event.kind === 'bytes' && event.secretData !== undefined) {
      // the withheld bytes themselves, as a line of shown bytes
      delete json['withheld'];
      json['data'] = base64(event.secretData);
    }
  }
  return stringify(json);
}

/**
 * The hot path: a frame line written into the recorder's buffers field by field, byte for
 * byte what `recordingLine` gives (same keys, same order), without building the JSON object
 * or its string. With `keepSecrets`, a credential frame's unmasked bytes replace the masked.
 */
export function writeFrameLine(out: LineBuffers, event: FrameEvent, keepSecrets: boolean): void {
  out.beginLine();
  out.bytes(PIECE.seq);
  out.integer(event.seq);
  out.bytes(framePlace(event.ts, event.conn, event.dir, event.channel));
  out.integer(event.offset);
  out.bytes(PIECE.raw);
  out.base64(keepSecrets && event.secretRaw !== undefined ? event.secretRaw : event.raw);
  const frame = event.frame;
  switch (frame.type) {
    case 'body':
      out.bytes(PIECE.body);
      out.integer(frame.body.length);
      if (event.insight === undefined && event.fault === undefined && event.bodyOmitted === undefined) {
        out.bytes(PIECE.closeTwo); // the usual body line ends here
        out.endLine();
        return;
      }
      out.byte(CLOSE_BRACE);
      break;
    case 'heartbeat':
      out.bytes(PIECE.heartbeat);
      break;
    case 'method': {
      const pieces = methodPieces(frame.method.spec);
      out.bytes(pieces.prefix);
      writeArguments(out, frame.method.args, pieces);
      out.bytes(PIECE.closeTwo);
      break;
    }
    case 'header': {
      const h = frame.header;
      out.bytes(PIECE.header);
      out.integer(h.classId);
      out.bytes(PIECE.weight);
      out.integer(h.weight);
      out.bytes(PIECE.bodySize);
      writeBigint(out, h.bodySize);
      out.bytes(PIECE.properties);
      writeValues(out, h.properties);
      out.byte(CLOSE_BRACE);
      break;
    }
  }
  if (event.insight) {
    out.bytes(PIECE.insight);
    writeJson(out, event.insight as unknown as Json);
  }
  if (event.fault !== undefined) out.bytes(event.fault === 'injected' ? PIECE.injected : PIECE.suppressed);
  if (event.bodyOmitted !== undefined) {
    out.bytes(PIECE.bodyOmitted);
    out.integer(event.bodyOmitted);
  }
  out.byte(CLOSE_BRACE);
  out.endLine();
}

const asciiBytes = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

// The frames of one chunk share their time, connection and direction, and mostly their
// channel: `,"ts":…,"conn":…,"kind":"frame","dir":…,"channel":…,"offset":` is made once for
// them (one copy per line instead of two).
let lastTs = -1;
let lastConn = -1;
let lastDir: Direction | undefined;
let lastChannel = -1;
let lastPlace: Uint8Array = new Uint8Array(0);
function framePlace(ts: number, conn: number, dir: Direction, channel: number): Uint8Array {
  if (ts !== lastTs || conn !== lastConn || dir !== lastDir || channel !== lastChannel) {
    lastTs = ts;
    lastConn = conn;
    lastDir = dir;
    lastChannel = channel;
    lastPlace = Buffer.from(`,"ts":${ts},"conn":${conn},"kind":"frame","dir":"${dir}","channel":${channel},"offset":`, 'latin1');
  }
  return lastPlace;
}

const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
// the fixed pieces of a frame line, encoded once
const PIECE = {
  seq: asciiBytes('{"seq":'),
  raw: asciiBytes(',"raw":"'),
  // each frame kind's piece starts with the `","frame":` that ends the raw bytes
  body: asciiBytes('","frame":{"type":"body","size":'),
  heartbeat: asciiBytes('","frame":{"type":"heartbeat"}'),
  closeTwo: asciiBytes('}}'),
  header: asciiBytes('","frame":{"type":"header","classId":'),
  weight: asciiBytes(',"weight":'),
  bodySize: asciiBytes(',"bodySize":'),
  properties: asciiBytes(',"properties":'),
  insight: asciiBytes(',"insight":'),
  injected: asciiBytes(',"fault":"injected"'),
  suppressed: asciiBytes(',"fault":"suppressed"'),
  bodyOmitted: asciiBytes(',"bodyOmitted":'),
  emptyObject: asciiBytes('{}'),
  true: asciiBytes('true'),
  false: asciiBytes('false'),
  null: asciiBytes('null'),
};

// Per method, once: `","frame":{"type":"method","method":{"name":…,"classId":…,"methodId":…,"args":`
// and its arguments' `{"name":` / `,"name":` in spec order (decoded arguments come in it).
interface MethodPieces {
  readonly prefix: Uint8Array;
  readonly names: readonly string[];
  readonly keys: readonly Uint8Array[];
}
const methodPieces = perMethod((spec): MethodPieces => {
  const names = spec.fields.map((f) => f.name);
  return {
    prefix: Buffer.from(
      `","frame":{"type":"method","method":{"name":${JSON.stringify(spec.name)},"classId":${spec.classId},"methodId":${spec.methodId},"args":`,
    ),
    names,
    keys: names.map((name, i) => keyPrefix(name, i === 0)),
  };
});

// `{"key":` and `,"key":` once per argument, property or insight name (a fixed, small set:
// the names come from the spec and the insight type)
const FIRST_KEY_PREFIXES = new Map<string, Uint8Array>();
const NEXT_KEY_PREFIXES = new Map<string, Uint8Array>();
function keyPrefix(key: string, first: boolean): Uint8Array {
  const cache = first ? FIRST_KEY_PREFIXES : NEXT_KEY_PREFIXES;
  let prefix = cache.get(key);
  if (prefix === undefined) {
    prefix = Buffer.from(`${first ? '{' : ','}${JSON.stringify(key)}:`);
    cache.set(key, prefix);
  }
  return prefix;
}

/** A plain JSON value (no bigint) as JSON.stringify writes it, straight into the buffers. */
function writeJson(out: LineBuffers, value: Json | undefined): void {
  switch (typeof value) {
    case 'number':
      if (Number.isFinite(value)) out.integer(value);
      else out.bytes(PIECE.null);
      return;
    case 'string':
      out.jsonString(value);
      return;
    case 'boolean':
      out.bytes(value ? PIECE.true : PIECE.false);
      return;
    case 'object':
      break;
    default:
      out.bytes(PIECE.null); // undefined in an array
      return;
  }
  if (value === null) out.bytes(PIECE.null);
  else if (Array.isArray(value)) {
    out.byte(OPEN_BRACKET);
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.byte(COMMA);
      writeJson(out, value[i]);
    }
    out.byte(CLOSE_BRACKET);
  } else {
    let first = true;
    for (const key in value) {
      const v = value[key];
      if (v === undefined) continue;
      out.bytes(keyPrefix(key, first));
      first = false;
      writeJson(out, v);
    }
    if (first) out.bytes(PIECE.emptyObject);
    else out.byte(CLOSE_BRACE);
  }
}

function writeBigint(out: LineBuffers, value: bigint): void {
  const json = bigintToJson(value);
  if (typeof json === 'number') out.integer(json);
  else out.ascii(`"${json}"`);
}

/** A method's arguments as writeValues writes them; keys in the spec's order take its pieces. */
function writeArguments(out: LineBuffers, args: Readonly<Record<string, ArgumentValue>>, pieces: MethodPieces): void {
  const { names, keys } = pieces;
  let i = 0;
  for (const key in args) {
    out.bytes(key === names[i] ? keys[i]! : keyPrefix(key, i === 0));
    i++;
    writeValue(out, args[key]!);
  }
  if (i === 0) out.bytes(PIECE.emptyObject);
  else out.byte(CLOSE_BRACE);
}

/** Method arguments or properties as valueToJson + JSON.stringify would write them. */
function writeValues(out: LineBuffers, values: Readonly<Record<string, ArgumentValue>>): void {
  let first = true;
  for (const key in values) {
    out.bytes(keyPrefix(key, first));
    first = false;
    writeValue(out, values[key]!);
  }
  if (first) out.bytes(PIECE.emptyObject);
  else out.byte(CLOSE_BRACE);
}

function writeValue(out: LineBuffers, v: ArgumentValue): void {
  switch (typeof v) {
    case 'string':
      out.jsonString(v);
      break;
    case 'number':
      if (Number.isFinite(v)) out.integer(v);
      else out.ascii(`"${String(v)}"`);
      break;
    case 'boolean':
      out.bytes(v ? PIECE.true : PIECE.false);
      break;
    case 'bigint':
      writeBigint(out, v);
      break;
    default:
      // a field table: empty ones (amqplib sends `headers: {}`) need no JSON round trip
      if (isFieldTable(v) && v.entries.length === 0) out.bytes(PIECE.emptyObject);
      else out.utf8(stringify(valueToJson(v)));
  }
}

function stringify(json: Json): string {
  try {
    // the schema holds no bigint (they are numbers or strings already), so no replacer: faster
    return JSON.stringify(json);
  } catch {
    return JSON.stringify(json, (_key, value: unknown) => (typeof value === 'bigint' ? bigintToJson(value) : value));
  }
}

export type { Json };
