// Text forms of events for people: one greppable line per frame or message, shared by the
// headless printer, the decode command and the TUI's list. No protocol logic, no I/O.

import { Chalk, type ChalkInstance } from 'chalk';
import { describeProtocolHeader } from '../decoder/protocol-header.js';
import { isFieldTable } from '../decoder/field-table.js';
import { perMethod } from '../decoder/spec.js';
import type { ArgumentValue, DecodedFrame, DecodedMethod, FieldSpec, FieldValue } from '../decoder/types.js';
import { undecodedSize, type Direction, type FaultMark, type FrameInsight, type PrefetchFull, type SpyEvent } from '../events.js';

/** Said of undecoded client bytes that are not shown (see UndecodedBytesEvent.withheld). */
export const WITHHELD_NOTE = 'withheld: may hold credentials (--show-secrets shows them)';

export const ARROWS: Record<Direction, string> = { c2s: 'C→S', s2c: 'S→C' };

/** longer values are cut to this many characters, the last one `…` */
export const MAX_VALUE_CHARS = 120;

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

// `HH:MM:SS.` of the last second, and the whole text of the last millisecond, formatted:
// lines come many per millisecond (hot path)
let clockSecond = -1;
let clockPrefix = '';
let clockMs = -1;
let clockText = '';

/** `12:00:01.234` in local time */
export function formatClock(tsMicros: number): string {
  const ms = Math.floor(tsMicros / 1000);
  if (ms === clockMs) return clockText;
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    const d = new Date(second * 1000);
    const pad = (n: number) => String(n).padStart(2, '0');
    clockSecond = second;
    clockPrefix = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.`;
  }
  const milli = ms - second * 1000;
  clockMs = ms;
  clockText = clockPrefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli;
  return clockText;
}

// empty, or with characters that would make `key=value` ambiguous or unprintable
const NEEDS_QUOTES = /^$|[\s"=,{}[\]]|[^\x20-\x7e\u00a0-\uffff]/;

/**
 * ASCII characters a value may consist of to be shown as it is, without asking NEEDS_QUOTES
 * (1 = plain): printable, not a space, not one of `"=,{}[]`. Shared with the byte writer.
 */
export const PLAIN_VALUE_CHARS = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) PLAIN_VALUE_CHARS[c] = 1;
for (const c of '"=,{}[]') PLAIN_VALUE_CHARS[c.charCodeAt(0)] = 0;

function quoteIfNeeded(text: string): string {
  // most values are short plain ASCII: a character loop settles them without the regex
  const n = text.length;
  if (n === 0) return '""';
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80 || PLAIN_VALUE_CHARS[c] !== 1) return NEEDS_QUOTES.test(text) ? JSON.stringify(text) : text;
  }
  return text;
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

/** How a method's arguments are shown, worked out once per method. */
export interface ArgumentColumn {
  readonly name: string;
  /** `name=` */
  readonly label: string;
  /** reserved fields and the deprecated ticket: shown only with `all` */
  readonly reserved: boolean;
  readonly defaultValue: ArgumentValue | undefined;
}

export const columnsOf = perMethod((spec): readonly ArgumentColumn[] =>
  spec.fields.map((field: FieldSpec) => ({
    name: field.name,
    label: `${field.name}=`,
    reserved: field.name === 'ticket' || field.name.startsWith('reserved'),
    defaultValue: field.defaultValue,
  })),
);

/** An argument formatArguments leaves out: reserved, false, empty, or its default. */
export function isDefault(column: ArgumentColumn, value: ArgumentValue): boolean {
  if (column.reserved || value === false || value === '') return true;
  if (typeof value === 'object' && value !== null) {
    if (value instanceof Uint8Array) return value.length === 0;
    if (isFieldTable(value)) return value.entries.length === 0;
  }
  return column.defaultValue !== undefined && column.defaultValue === value;
}

/** `exchange=orders routing-key=order.created` — arguments that say something (not empty, false or default). */
export function formatArguments(method: DecodedMethod, options: { all?: boolean } = {}): string {
  const columns = columnsOf(method.spec);
  const all = options.all === true;
  let out = '';
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const value = method.args[column.name];
    if (value === undefined) continue;
    if (!all && isDefault(column, value)) continue;
    const text = value === true ? column.name : column.label + argumentText(value);
    out = out === '' ? text : `${out} ${text}`;
  }
  return out;
}

/** An argument's value as formatArguments shows it after `name=`. */
export function argumentText(value: ArgumentValue): string {
  return typeof value === 'string' ? truncate(quoteIfNeeded(value)) : truncate(formatValue(value));
}

/** `content-type=application/json delivery-mode=2` */
export function formatProperties(properties: Readonly<Record<string, ArgumentValue>>): string {
  return Object.entries(properties)
    .map(([k, v]) => `${k}=${truncate(formatValue(v))}`)
    .join(' ');
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
  let text = '';
  if (insight.request) text = joinPart(text, `← ${insight.request.name} ${formatDuration(insight.request.rttMicros)}`);
  if (insight.error) {
    const e = insight.error;
    // RabbitMQ's texts already start with the name: `PRECONDITION_FAILED - inequivalent arg ...`
    text = joinPart(
      text,
      e.replyText.startsWith(e.replyName) ? `${e.replyCode} ${e.replyText}` : `${e.replyCode} ${e.replyName}${e.replyText ? ` - ${e.replyText}` : ''}`,
    );
    if (e.causeName) text = joinPart(text, `caused by ${e.causeName}`);
  }
  if (insight.settles) {
    const s = insight.settles;
    text = joinPart(
      text,
      s.unknownTag
        ? `${s.outcome} of an unknown delivery tag`
        : `${s.outcome}s ${s.deliverySeqs.length} deliver${s.deliverySeqs.length === 1 ? 'y' : 'ies'}${s.outcome !== 'ack' ? (s.requeue ? ' (requeue)' : ' (not requeued)') : ''}`,
    );
  }
  if (insight.confirms)
    text = joinPart(
      text,
      `confirms ${insight.confirms.publishSeqs.length} publish${insight.confirms.publishSeqs.length === 1 ? '' : 'es'}${insight.confirms.outcome === 'nack' ? ' NEGATIVELY' : ''}`,
    );
  if (insight.publishSeqNo !== undefined) text = joinPart(text, `publish-seq ${insight.publishSeqNo}`);
  if (insight.returnOf !== undefined) text = joinPart(text, 'returns a publish');
  if (insight.unacked !== undefined) text = joinPart(text, `unacked=${insight.unacked}`);
  if (insight.prefetchFull) text = joinPart(text, describePrefetchFull(insight.prefetchFull));
  if (insight.noWait) text = joinPart(text, 'no reply expected');
  if (insight.whileBlocked) text = joinPart(text, 'sent while blocked');
  if (insight.blockedMicros !== undefined) text = joinPart(text, `blocked for ${formatDuration(insight.blockedMicros)}`);
  return text === '' ? '' : `  [${text}]`;
}

/** `(incomplete: 100 B of 200 B, cut by channel.close)` for a message cut short */
export function describeIncomplete(event: {
  readonly incomplete?: string;
  readonly header?: { readonly bodySize: bigint };
  readonly body: Uint8Array;
}): string {
  const of = event.header !== undefined ? `${formatSize(event.body.length)} of ${formatSize(Number(event.header.bodySize))}, ` : 'before its content header, ';
  return `(incomplete: ${of}${event.incomplete ?? ''})`;
}

/**
 * `(body not recorded (1,229 bytes))`, `(body not recorded after 256 B (973 bytes))` for a
 * message replayed from a recording made with --record-bodies; '' otherwise.
 */
export function describeOmitted(event: { readonly bodyOmitted?: number; readonly body: Uint8Array }): string {
  if (event.bodyOmitted === undefined) return '';
  const n = `${event.bodyOmitted.toLocaleString('en-US')} byte${event.bodyOmitted === 1 ? '' : 's'}`;
  return event.body.length === 0 ? `(body not recorded (${n}))` : `(body not recorded after ${formatSize(event.body.length)} (${n}))`;
}

/** `left 3 deliveries unacked, 2 publishes unconfirmed` at a close, or '' when nothing was left. */
export function describeLeft(event: { readonly unacked: number; readonly unconfirmed: number }): string {
  const parts: string[] = [];
  if (event.unacked > 0) parts.push(`${event.unacked} ${event.unacked === 1 ? 'delivery' : 'deliveries'} unacked`);
  if (event.unconfirmed > 0) parts.push(`${event.unconfirmed} ${event.unconfirmed === 1 ? 'publish' : 'publishes'} unconfirmed`);
  return parts.length === 0 ? '' : `left ${parts.join(', ')}`;
}

/** `FULL 5/5`, or `FULL 5/5 on the channel` for a basic.qos global limit */
export function describePrefetchFull(full: PrefetchFull): string {
  return `FULL ${full.unacked}/${full.limit}${full.global ? ' on the channel' : ''}`;
}

function joinPart(text: string, part: string): string {
  return text === '' ? part : `${text}; ${part}`;
}

/** True for events a user should notice: error closes, returns, nacks, decode errors. */
export function isErrorEvent(event: SpyEvent): boolean {
  let method: DecodedMethod;
  switch (event.kind) {
    case 'decode.error':
      return true;
    case 'frame':
      if (event.frame.type !== 'method') return false;
      method = event.frame.method;
      break;
    case 'message':
      method = event.method;
      break;
    default:
      return false;
  }
  const insight = event.insight;
  if (insight !== undefined && (insight.error !== undefined || insight.settles?.unknownTag === true)) return true;
  const name = method.name;
  return name === 'basic.return' || (name === 'basic.nack' && event.dir === 's2c');
}

/** connection.blocked and .unblocked, and publishes sent while blocked. */
export function isBlockedEvent(event: SpyEvent): boolean {
  if (event.kind === 'message') return event.insight?.whileBlocked === true;
  if (event.kind !== 'frame' || event.frame.type !== 'method') return false;
  const name = event.frame.method.name;
  return name === 'connection.blocked' || name === 'connection.unblocked' || event.insight?.whileBlocked === true;
}

/**
 * What the `error` filter finds: errors, and the server holding a connection's publishes
 * (connection.blocked, .unblocked): a stalled publisher looks like a bug until one sees it.
 */
export function needsAttention(event: SpyEvent): boolean {
  if (isErrorEvent(event)) return true;
  if (event.kind !== 'frame' || event.frame.type !== 'method') return false;
  const name = event.frame.method.name;
  return name === 'connection.blocked' || name === 'connection.unblocked';
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
/** `  [injected]` / `  [suppressed]`: a frame a fault rule made or swallowed. */
function faultNote(fault: FaultMark | undefined, c: ChalkInstance): string {
  return fault === undefined ? '' : `  ${c.magenta(`[${fault}]`)}`;
}

export function formatEventLine(event: SpyEvent, options: LineOptions = {}): string {
  const color = options.color === true;
  const c: ChalkInstance = color ? colored : plain;
  const arrows = color ? COLORED_ARROWS : ARROWS;
  const when = options.position === 'offset' ? `@${'offset' in event && event.offset !== undefined ? event.offset : ''}` : formatClock(event.ts);
  const start = `${color ? c.dim(when) : when} #${event.conn} `;
  switch (event.kind) {
    case 'conn.open':
      return `${start}    ${c.green('connection opened')} ${event.client.address}:${event.client.port} → ${event.server.address}:${event.server.port}`;
    case 'conn.close': {
      const left = describeLeft(event);
      const unanswered = event.unanswered.length ? c.yellow(`; never answered: ${event.unanswered.map((u) => `ch${u.channel} ${u.name}`).join(', ')}`) : '';
      return `${start}    ${c.green('connection closed')} (${event.reason}${left ? c.yellow(`; ${left}`) : ''})${unanswered}`;
    }
    case 'protocol-header':
      return `${start}${arrows[event.dir]} protocol-header ${describeProtocolHeader(event.header)}`;
    case 'frame': {
      const size = formatSize(event.raw.length);
      const text = `${describeFrame(event.frame)} ${color ? c.dim(size) : size}${describeInsight(event.insight)}`;
      const line = `${start}${arrows[event.dir]} ch${event.channel} ${isErrorEvent(event) ? c.red(text) : isBlockedEvent(event) ? c.yellow(text) : text}${faultNote(event.fault, c)}`;
      return event.frame.type === 'heartbeat' && color && event.fault === undefined ? c.dim(line) : line;
    }
    case 'message': {
      const contentType = event.properties['content-type'];
      const args = formatArguments(event.method);
      let text = args === '' ? event.method.name : `${event.method.name} ${args}`;
      text += ` ${formatSize(event.body.length)}`;
      if (event.incomplete !== undefined) text += ` ${describeIncomplete(event)}`;
      if (event.bodyOmitted !== undefined) text += ` ${describeOmitted(event)}`;
      if (contentType !== undefined) text += ` ${formatValue(contentType)}`;
      if (event.insight) text += describeInsight(event.insight);
      return `${start}${arrows[event.dir]} ch${event.channel} ${isErrorEvent(event) ? c.red(text) : isBlockedEvent(event) ? c.yellow(text) : text}${faultNote(event.fault, c)}`;
    }
    case 'decode.error':
      return `${start}${arrows[event.dir]}${event.error.channel !== undefined ? ` ch${event.error.channel}` : ''} ${c.red(`decode error (${event.error.code}) at offset ${event.error.offset}: ${event.error.text}`)}`;
    case 'bytes':
      return `${start}${arrows[event.dir]} ${c.dim(`${formatSize(undecodedSize(event))} not decoded${event.data === undefined ? `, ${WITHHELD_NOTE}` : ''}`)}`;
  }
}
