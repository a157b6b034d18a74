// The recording file: line 1 a header, then one event per line in the `--json` schema
// (event-json.ts). Raw bytes are the source of truth; replay feeds them to a fresh tap, so
// derived events (messages, assembly errors) are not written and come back on replay.

import type { FrameEvent, SpyEvent } from '../events.js';
import type { ArgumentValue } from '../decoder/types.js';
import { base64, bigintToJson, eventToJson, valueToJson, type Json } from './event-json.js';

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
  readonly mode: 'proxy' | 'standalone';
  /** host:port clients connected to */
  readonly listen: string;
  /** host:port (or amqps://host:port) of the broker; absent in standalone mode */
  readonly upstream?: string;
  /** whether credentials are in the raw bytes (`--record-secrets`) or masked */
  readonly secrets: 'masked' | 'kept';
}

export function makeRecordingHeader(fields: Omit<RecordingHeader, 'format' | 'version' | 'started' | 'startedMicros'> & { startedMicros: number }): RecordingHeader {
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
  };
}

/** Whether an event is written to a recording: everything but what replay derives again. */
export function isRecorded(event: SpyEvent): boolean {
  if (event.kind === 'message') return false;
  // assembly errors (no raw) come back from the frames; a frame that failed to decode keeps its bytes
  if (event.kind === 'decode.error') return event.raw !== undefined || event.stopped;
  return true;
}

/**
 * One event as a recording line (no newline), or undefined for derived events. With
 * `keepSecrets`, a credential frame's unmasked bytes replace the masked ones in `raw`.
 */
export function recordingLine(event: SpyEvent, keepSecrets: boolean): string | undefined {
  if (!isRecorded(event)) return undefined;
  if (event.kind === 'frame') return frameLine(event, keepSecrets);
  return stringify(eventToJson(event));
}

/**
 * The hot path: a frame line in three pieces, in the key order eventToJson gives, without
 * building the intermediate object or one joined string. The first two pieces are ASCII
 * (the writer copies them as latin1); the third holds the decoded form (any UTF-8).
 */
export function frameLineParts(event: FrameEvent, keepSecrets: boolean): [head: string, rawBase64: string, tail: string] {
  const raw = keepSecrets && event.secretRaw !== undefined ? event.secretRaw : event.raw;
  const frame = event.frame;
  let decoded: string;
  if (frame.type === 'body') decoded = `{"type":"body","size":${frame.body.length}}`;
  else if (frame.type === 'heartbeat') decoded = '{"type":"heartbeat"}';
  else if (frame.type === 'method') {
    const m = frame.method;
    decoded = `{"type":"method","method":{"name":${JSON.stringify(m.name)},"classId":${m.classId},"methodId":${m.methodId},"args":${valuesJson(m.args)}}}`;
  } else {
    const h = frame.header;
    decoded = `{"type":"header","classId":${h.classId},"weight":${h.weight},"bodySize":${bigintJson(h.bodySize)},"properties":${valuesJson(h.properties)}}`;
  }
  const insight = event.insight ? `,"insight":${stringify(event.insight as unknown as Json)}` : '';
  return [
    `{"seq":${event.seq},"ts":${event.ts},"conn":${event.conn},"kind":"frame","dir":"${event.dir}","channel":${event.channel},"offset":${event.offset},"raw":"`,
    base64(raw),
    `","frame":${decoded}${insight}}`,
  ];
}

function frameLine(event: FrameEvent, keepSecrets: boolean): string {
  const [head, raw, tail] = frameLineParts(event, keepSecrets);
  return head + raw + tail;
}

function bigintJson(value: bigint): string {
  const json = bigintToJson(value);
  return typeof json === 'number' ? String(json) : `"${json}"`;
}

/** Method arguments or properties as valueToJson + JSON.stringify would write them, faster. */
function valuesJson(values: Readonly<Record<string, ArgumentValue>>): string {
  let out = '{';
  for (const key of Object.keys(values)) {
    const v = values[key]!;
    let json: string;
    switch (typeof v) {
      case 'string':
        json = JSON.stringify(v);
        break;
      case 'number':
        json = Number.isFinite(v) ? String(v) : `"${String(v)}"`;
        break;
      case 'boolean':
        json = v ? 'true' : 'false';
        break;
      case 'bigint':
        json = bigintJson(v);
        break;
      default:
        json = stringify(valueToJson(v));
    }
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${json}`;
  }
  return `${out}}`;
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
