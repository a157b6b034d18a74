// Text forms of events for people: one greppable line per frame or message, shared by the
// headless printer, the decode command and the TUI's list. No protocol logic, no I/O.

import { Chalk, type ChalkInstance } from 'chalk';
import { describeProtocolHeader } from '../decoder/protocol-header.js';
import { isFieldTable } from '../decoder/field-table.js';
import type { ArgumentValue, DecodedFrame, DecodedMethod, FieldSpec, FieldTable, FieldValue } from '../decoder/types.js';
import type { Direction, FrameInsight, SpyEvent } from '../events.js';

export const ARROWS: Record<Direction, string> = { c2s: 'C→S', s2c: 'S→C' };

const MAX_VALUE_CHARS = 120;

/** `1.2 KB`, `512 B`, `3.4 MB` */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GB`;
}

/** `1.8 ms`, `320 µs`, `2.41 s` */
export function formatDuration(micros: number): string {
  if (micros < 1000) return `${Math.round(micros)} µs`;
  if (micros < 1_000_000) return `${(micros / 1000).toFixed(1)} ms`;
  return `${(micros / 1_000_000).toFixed(2)} s`;
}

// `HH:MM:SS.` of the last second formatted: lines come many per second (hot path)
let clockSecond = -1;
let clockPrefix = '';

/** `12:00:01.234` in local time */
export function formatClock(tsMicros: number): string {
  const ms = Math.floor(tsMicros / 1000);
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    const d = new Date(second * 1000);
    const pad = (n: number) => String(n).padStart(2, '0');
    clockSecond = second;
    clockPrefix = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.`;
  }
  return clockPrefix + String(ms - second * 1000).padStart(3, '0');
}

// empty, or with characters that would make `key=value` ambiguous or unprintable
const NEEDS_QUOTES = /^$|[\s"=,{}[\]]|[^\x20-\x7e\u00a0-\uffff]/;

function quoteIfNeeded(text: string): string {
  return NEEDS_QUOTES.test(text) ? JSON.stringify(text) : text;
}

function truncate(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

function bytesText(bytes: Uint8Array): string {
  const shown = bytes.subarray(0, 32);
  let hex = '';
  for (const b of shown) hex += b.toString(16).padStart(2, '0');
  return `0x${hex}${bytes.length > shown.length ? `…(${bytes.length} bytes)` : ''}`;
}

/** A method argument or property value, compact (tables as `{k=v, ...}`). */
export function formatValue(value: ArgumentValue | FieldValue['value']): string {
  if (typeof value === 'string') return quoteIfNeeded(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'void';
  if (value instanceof Uint8Array) return bytesText(value);
  if (Array.isArray(value)) return `[${(value as readonly FieldValue[]).map((v) => formatValue(v.value)).join(', ')}]`;
  if (isFieldTable(value)) return `{${value.entries.map(([k, v]) => `${quoteIfNeeded(k)}=${formatValue(v.value)}`).join(', ')}}`;
  const decimal = value as { scale: number; value: number };
  return String(decimal.value / 10 ** decimal.scale);
}


function isDefault(field: FieldSpec, value: ArgumentValue): boolean {
  if (field.name === 'ticket' || field.name.startsWith('reserved')) return true;
  if (value === false || value === '' ) return true;
  if (isFieldTable(value)) return value.entries.length === 0;
  if (value instanceof Uint8Array) return value.length === 0;
  return field.defaultValue !== undefined && field.defaultValue === value;
}

/** `exchange=orders routing-key=order.created` — arguments that say something (not empty, false or default). */
export function formatArguments(method: DecodedMethod, options: { all?: boolean } = {}): string {
  const parts: string[] = [];
  for (const field of method.spec.fields) {
    const value = method.args[field.name];
    if (value === undefined) continue;
    if (!options.all && isDefault(field, value)) continue;
    parts.push(value === true ? field.name : `${field.name}=${truncate(formatValue(value))}`);
  }
  return parts.join(' ');
}

/** `content-type=application/json delivery-mode=2` */
export function formatProperties(properties: Readonly<Record<string, ArgumentValue>>): string {
  return Object.entries(properties).map(([k, v]) => `${k}=${truncate(formatValue(v))}`).join(' ');
}

/** One frame's decoded form, without time, connection or direction. */
export function describeFrame(frame: DecodedFrame): string {
  switch (frame.type) {
    case 'method': {
      const args = formatArguments(frame.method);
      return args ? `${frame.method.name} ${args}` : frame.method.name;
    }
    case 'header': {
      const props = formatProperties(frame.header.properties);
      return `content-header body-size=${frame.header.bodySize}${props ? ` ${props}` : ''}`;
    }
    case 'body':
      return `content-body ${formatSize(frame.body.length)}`;
    case 'heartbeat':
      return 'heartbeat';
  }
}

export function describeInsight(insight: FrameInsight | undefined): string {
  if (!insight) return '';
  const parts: string[] = [];
  if (insight.request) parts.push(`← ${insight.request.name} ${formatDuration(insight.request.rttMicros)}`);
  if (insight.error) {
    const e = insight.error;
    // RabbitMQ's texts already start with the name: `PRECONDITION_FAILED - inequivalent arg ...`
    parts.push(e.replyText.startsWith(e.replyName) ? `${e.replyCode} ${e.replyText}` : `${e.replyCode} ${e.replyName}${e.replyText ? ` - ${e.replyText}` : ''}`);
    if (e.causeName) parts.push(`caused by #${e.causeSeq} ${e.causeName}`);
  }
  if (insight.settles) {
    const s = insight.settles;
    parts.push(s.unknownTag ? `${s.outcome} of an unknown delivery tag` : `${s.outcome}s ${s.deliverySeqs.length} deliver${s.deliverySeqs.length === 1 ? 'y' : 'ies'}${s.outcome !== 'ack' ? (s.requeue ? ' (requeue)' : ' (discard)') : ''}`);
  }
  if (insight.confirms) parts.push(`confirms ${insight.confirms.publishSeqs.length} publish${insight.confirms.publishSeqs.length === 1 ? '' : 'es'}${insight.confirms.outcome === 'nack' ? ' NEGATIVELY' : ''}`);
  if (insight.publishSeqNo !== undefined) parts.push(`confirm #${insight.publishSeqNo}`);
  if (insight.returnOf !== undefined) parts.push(`returns #${insight.returnOf}`);
  if (insight.unacked !== undefined) parts.push(`unacked=${insight.unacked}`);
  if (insight.noWait) parts.push('no reply expected');
  return parts.length ? `  [${parts.join('; ')}]` : '';
}

/** True for events a user should notice: error closes, returns, nacks, decode errors. */
export function isErrorEvent(event: SpyEvent): boolean {
  switch (event.kind) {
    case 'decode.error':
      return true;
    case 'frame':
    case 'message': {
      const name = event.kind === 'frame' ? (event.frame.type === 'method' ? event.frame.method.name : '') : event.method.name;
      return Boolean(event.insight?.error) || name === 'basic.return' || (name === 'basic.nack' && event.dir === 's2c') || event.insight?.settles?.unknownTag === true;
    }
    default:
      return false;
  }
}

export interface LineOptions {
  /** colour with ANSI escapes */
  readonly color?: boolean;
  /** where the line's position comes from: the clock (live) or the stream offset (decode) */
  readonly position?: 'clock' | 'offset';
}

const plain = new Chalk({ level: 0 });
const colored = new Chalk({ level: 1 });
const COLORED_ARROWS: Record<Direction, string> = { c2s: colored.cyan(ARROWS.c2s), s2c: colored.magenta(ARROWS.s2c) };

/** One line for an event, e.g. `12:00:01.234 #3 C→S ch1 basic.publish exchange=orders ...`. */
export function formatEventLine(event: SpyEvent, options: LineOptions = {}): string {
  const c: ChalkInstance = options.color ? colored : plain;
  const arrows = options.color ? COLORED_ARROWS : ARROWS;
  const when = options.position === 'offset' ? `@${'offset' in event && event.offset !== undefined ? event.offset : ''}` : formatClock(event.ts);
  const head = (dir: Direction | undefined, channel?: number) => {
    const arrow = dir ? arrows[dir] : '   ';
    return `${options.color ? c.dim(when) : when} #${event.conn} ${arrow}${channel !== undefined ? ` ch${channel}` : ''}`;
  };
  const error = isErrorEvent(event);
  const paint = (text: string) => (error ? c.red(text) : text);
  switch (event.kind) {
    case 'conn.open':
      return `${head(undefined)} ${c.green('connection opened')} ${event.client.address}:${event.client.port} → ${event.server.address}:${event.server.port}`;
    case 'conn.close': {
      const unanswered = event.unanswered.length
        ? c.yellow(`; never answered: ${event.unanswered.map((u) => `#${u.seq} ch${u.channel} ${u.name}`).join(', ')}`)
        : '';
      return `${head(undefined)} ${c.green('connection closed')} (${event.reason})${unanswered}`;
    }
    case 'protocol-header':
      return `${head(event.dir)} protocol-header ${describeProtocolHeader(event.header)}`;
    case 'frame': {
      const text = `${describeFrame(event.frame)} ${c.dim(formatSize(event.raw.length))}${describeInsight(event.insight)}`;
      const line = `${head(event.dir, event.channel)} ${paint(text)}`;
      return event.frame.type === 'heartbeat' ? c.dim(line) : line;
    }
    case 'message': {
      const contentType = event.properties['content-type'];
      const args = formatArguments(event.method);
      const text = `${event.method.name}${args ? ` ${args}` : ''} ${formatSize(event.body.length)}${contentType !== undefined ? ` ${formatValue(contentType)}` : ''}${describeInsight(event.insight)}`;
      return `${head(event.dir, event.channel)} ${paint(text)}`;
    }
    case 'decode.error':
      return `${head(event.dir, event.error.channel)} ${c.red(`decode error (${event.error.code}) at offset ${event.error.offset}: ${event.error.text}`)}`;
    case 'bytes':
      return `${head(event.dir)} ${c.dim(`${formatSize(event.data.length)} not decoded`)}`;
  }
}
