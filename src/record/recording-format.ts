// The recording file: line 1 a header, then one event per line in the `--json` schema
// (event-json.ts). Raw bytes are the source of truth; replay feeds them to a fresh tap, so
// derived events (messages, assembly errors) are not written and come back on replay.

import type { SpyEvent } from '../events.js';
import { base64, bigintToJson, eventToJson, type Json } from './event-json.js';

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
  const json = eventToJson(event);
  if (keepSecrets && event.kind === 'frame' && event.secretRaw !== undefined) json['raw'] = base64(event.secretRaw);
  try {
    // the schema holds no bigint (they are numbers or strings already), so no replacer: faster
    return JSON.stringify(json);
  } catch {
    return JSON.stringify(json, (_key, value: unknown) => (typeof value === 'bigint' ? bigintToJson(value) : value));
  }
}

export type { Json };
