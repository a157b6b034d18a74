// The headless printer's lines written straight into its output buffers. Message lines and
// method frame lines without colour (what a busy proxy prints, to a file or a pipe) are put
// together from pre-encoded pieces, digits and plain ASCII values; everything else, and any
// value that needs quoting or cutting, goes through formatEventLine's text. A test holds the
// bytes equal to formatEventLine's for every kind of line.

import { perMethod } from '../decoder/spec.js';
import type { ArgumentValue, DecodedMethod } from '../decoder/types.js';
import type { Direction, FrameInsight, SpyEvent } from '../events.js';
import type { LineBuffers } from '../output/line-buffers.js';
import {
  ARROWS,
  MAX_VALUE_CHARS,
  PLAIN_VALUE_CHARS as PLAIN,
  argumentText,
  columnsOf,
  describeInsight,
  formatClock,
  formatEventLine,
  formatSize,
  formatValue,
  isDefault,
  type LineOptions,
} from './format.js';

const encode = (text: string): Buffer => Buffer.from(text, 'utf8');

/** ` C→S ch` and ` S→C ch`: what follows the connection number */
const DIRECTION_PIECES: Record<Direction, Buffer> = { c2s: encode(` ${ARROWS.c2s} ch`), s2c: encode(` ${ARROWS.s2c} ch`) };
const HASH = 0x23; // '#'
const SPACE = 0x20;
const BYTES_SUFFIX = encode(' B');
const UNACKED_PREFIX = encode('  [unacked=');
const CLOSE_BRACKET = 0x5d;
const FULL_PREFIX = encode('; FULL ');
const SLASH = 0x2f;

/** A method's name and argument labels as bytes, made once per method. */
interface MethodPieces {
  /** the method name */
  readonly name: Buffer;
  /** ` name=` per argument */
  readonly labels: readonly Buffer[];
  /** ` name` per argument (a true bit shows as its name alone) */
  readonly flags: readonly Buffer[];
}

const piecesOf = perMethod((spec): MethodPieces => {
  const columns = columnsOf(spec);
  return {
    name: encode(spec.name),
    labels: columns.map((c) => encode(` ${c.label}`)),
    flags: columns.map((c) => encode(` ${c.name}`)),
  };
});

// the clock text of the last millisecond, as bytes (formatClock returns the same string then)
let clockText = '';
let clockBytes: Buffer = Buffer.alloc(0);

/** Writes the event's line (without the newline), as formatEventLine would give it, UTF-8. */
export function writeEventLine(out: LineBuffers, event: SpyEvent, options: LineOptions): void {
  const fast = options.color !== true && options.position !== 'offset';
  if (fast && event.kind === 'message' && event.incomplete === undefined && event.fault === undefined && event.bodyOmitted === undefined) {
    writeStart(out, event.ts, event.conn, event.dir, event.channel);
    writeMethod(out, event.method);
    writeSize(out, event.body.length);
    const contentType = event.properties['content-type'];
    if (contentType !== undefined) {
      out.byte(SPACE);
      // shown whole, as formatValue gives it (quoted when needed, never cut)
      if (typeof contentType !== 'string' || contentType === '' || !out.asciiIf(contentType, PLAIN)) out.utf8(formatValue(contentType));
    }
    writeInsight(out, event.insight);
    return;
  }
  if (fast && event.kind === 'frame' && event.frame.type === 'method' && event.fault === undefined) {
    writeStart(out, event.ts, event.conn, event.dir, event.channel);
    writeMethod(out, event.frame.method);
    writeSize(out, event.raw.length);
    writeInsight(out, event.insight);
    return;
  }
  out.utf8(formatEventLine(event, options));
}

/** `12:00:01.234 #3 C→S ch1 ` */
function writeStart(out: LineBuffers, ts: number, conn: number, dir: Direction, channel: number): void {
  const clock = formatClock(ts);
  if (clock !== clockText) {
    clockText = clock;
    clockBytes = encode(clock);
  }
  out.bytes(clockBytes);
  out.byte(SPACE);
  out.byte(HASH);
  out.integer(conn);
  out.bytes(DIRECTION_PIECES[dir]);
  out.integer(channel);
  out.byte(SPACE);
}

/** `basic.publish exchange=orders routing-key=order.created` (as formatArguments) */
function writeMethod(out: LineBuffers, method: DecodedMethod): void {
  const pieces = piecesOf(method.spec);
  out.bytes(pieces.name);
  const columns = columnsOf(method.spec);
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    const value = method.args[column.name];
    if (value === undefined || isDefault(column, value)) continue;
    if (value === true) {
      out.bytes(pieces.flags[i]!);
      continue;
    }
    out.bytes(pieces.labels[i]!);
    writeArgument(out, value);
  }
}

function writeArgument(out: LineBuffers, value: ArgumentValue): void {
  if (typeof value === 'string') writeValue(out, value);
  else if (typeof value === 'number' && value >= 0 && Number.isSafeInteger(value)) out.integer(value);
  else if (typeof value === 'bigint' && value >= 0n && value <= MAX_SAFE) out.integer(Number(value));
  else out.utf8(argumentText(value));
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A string value: as it is when plain ASCII that needs no quotes or cut, else as argumentText shows it. */
function writeValue(out: LineBuffers, text: string): void {
  const n = text.length;
  if (n === 0 || n > MAX_VALUE_CHARS || !out.asciiIf(text, PLAIN)) out.utf8(argumentText(text));
}

// the text of the last size of 1 KB or more (messages of a stream tend to have one size, and
// toFixed is slow)
let lastSize = -1;
let lastSizeBytes: Buffer = Buffer.alloc(0);

/** ` 16 B`, ` 1.2 KB` */
function writeSize(out: LineBuffers, bytes: number): void {
  out.byte(SPACE);
  if (bytes < 1024) {
    out.integer(bytes);
    out.bytes(BYTES_SUFFIX);
    return;
  }
  if (bytes !== lastSize) {
    lastSize = bytes;
    lastSizeBytes = encode(formatSize(bytes));
  }
  out.bytes(lastSizeBytes);
}

/** `  [unacked=3]` and `  [unacked=5; FULL 5/5]` fast; every other insight as describeInsight writes it */
function writeInsight(out: LineBuffers, insight: FrameInsight | undefined): void {
  if (insight === undefined) return;
  if (
    insight.unacked !== undefined &&
    insight.request === undefined &&
    insight.error === undefined &&
    insight.settles === undefined &&
    insight.confirms === undefined &&
    insight.publishSeqNo === undefined &&
    insight.returnOf === undefined &&
    insight.noWait !== true &&
    insight.whileBlocked !== true &&
    insight.blockedMicros === undefined &&
    insight.prefetchFull?.global !== true
  ) {
    out.bytes(UNACKED_PREFIX);
    out.integer(insight.unacked);
    // a consumer at its prefetch limit: every delivery of a slow consumer's steady state
    const full = insight.prefetchFull;
    if (full !== undefined) {
      out.bytes(FULL_PREFIX);
      out.integer(full.unacked);
      out.byte(SLASH);
      out.integer(full.limit);
    }
    out.byte(CLOSE_BRACKET);
    return;
  }
  const text = describeInsight(insight);
  if (text !== '') out.utf8(text);
}
