// The cells of one list row for the terminal UI, and the width arithmetic that keeps rows on
// one line. Text only: colours are named by tone, the TUI picks the escapes.

import { undecodedSize, type Direction, type FrameInsight, type SpyEvent } from '../events.js';
import { describeProtocolHeader } from '../decoder/protocol-header.js';
import type { LaterText } from './later-facts.js';
import {
  describeFrame,
  describeIncomplete,
  describeOmitted,
  describeInsight,
  describeLeft,
  describePrefetchFull,
  formatArguments,
  formatClock,
  formatDuration,
  formatSize,
  formatValue,
  isBlockedEvent,
  isErrorEvent,
  WITHHELD_NOTE,
} from './format.js';

/** `fault`: a frame a fault rule injected or suppressed (and its message) */
export type RowTone = 'normal' | 'error' | 'dim' | 'connection' | 'fault';

export interface RowCells {
  readonly time: string;
  readonly conn: string;
  readonly dir: Direction | undefined;
  readonly channel: string;
  /** method or frame name, shown bold */
  readonly name: string;
  /** key arguments and insight after the name */
  readonly detail: string;
  readonly size: string;
  /** round trip of a reply to its request */
  readonly rtt: string;
  readonly tone: RowTone;
}

/**
 * Splits an event into the list's columns; `later` is what later events told of it (its
 * confirm or ack, an RPC reply): shown after its arguments, with its delay in the RTT column.
 */
export function eventRowCells(event: SpyEvent, later?: LaterText): RowCells {
  const own = ownRowCells(event);
  // made or swallowed by a fault rule: it says so first, in a colour of its own
  const fault = event.kind === 'frame' || event.kind === 'message' ? event.fault : undefined;
  const cells = fault === undefined ? own : { ...own, detail: joinText(`[${fault}]`, own.detail), tone: 'fault' as const };
  if (later === undefined) return cells;
  return {
    ...cells,
    detail: joinText(cells.detail, `→ ${later.text}`),
    rtt: cells.rtt || (later.afterMicros !== undefined ? formatDuration(later.afterMicros) : ''),
    tone: later.tone === 'error' && cells.tone !== 'fault' ? 'error' : cells.tone,
  };
}

function ownRowCells(event: SpyEvent): RowCells {
  // a blocked connection and what it publishes meanwhile stand out like errors
  const base = {
    time: formatClock(event.ts),
    conn: `#${event.conn}`,
    size: '',
    rtt: '',
    tone: (isErrorEvent(event) || isBlockedEvent(event) ? 'error' : 'normal') as RowTone,
  };
  switch (event.kind) {
    case 'conn.open':
      return {
        ...base,
        dir: undefined,
        channel: '',
        name: 'connection opened',
        detail: `${event.client.address}:${event.client.port} → ${event.server.address}:${event.server.port}`,
        tone: 'connection',
      };
    case 'conn.close': {
      const left = describeLeft(event);
      const unanswered = event.unanswered.length
        ? `; never answered: ${event.unanswered.map((u) => `event ${u.seq} ch${u.channel} ${u.name}`).join(', ')}`
        : '';
      return {
        ...base,
        dir: undefined,
        channel: '',
        name: 'connection closed',
        detail: `(${event.reason}${left ? `; ${left}` : ''})${unanswered}`,
        tone: 'connection',
      };
    }
    case 'protocol-header':
      return {
        ...base,
        dir: event.dir,
        channel: '',
        name: 'protocol-header',
        detail: describeProtocolHeader(event.header),
        size: formatSize(event.raw.length),
      };
    case 'frame': {
      const insight = insightText(event);
      const rtt = event.insight?.request ? formatDuration(event.insight.request.rttMicros) : '';
      const size = formatSize(event.raw.length);
      if (event.frame.type === 'method') {
        const method = event.frame.method;
        return {
          ...base,
          dir: event.dir,
          channel: `ch${event.channel}`,
          name: method.name,
          detail: joinText(leadText(event.insight), joinText(formatArguments(method), insight)),
          size,
          rtt,
        };
      }
      if (event.frame.type === 'heartbeat') return { ...base, dir: event.dir, channel: `ch${event.channel}`, name: 'heartbeat', detail: '', size, tone: 'dim' };
      const text = describeFrame(event.frame);
      const space = text.indexOf(' ');
      return {
        ...base,
        dir: event.dir,
        channel: `ch${event.channel}`,
        name: space < 0 ? text : text.slice(0, space),
        detail: space < 0 ? '' : text.slice(space + 1),
        size,
      };
    }
    case 'message': {
      const contentType = event.properties['content-type'];
      const args = formatArguments(event.method);
      const lead = joinText(joinText(event.incomplete !== undefined ? describeIncomplete(event) : '', describeOmitted(event)), leadText(event.insight));
      const detail = joinText(lead, joinText(joinText(args, contentType !== undefined ? formatValue(contentType) : ''), insightText(event)));
      return { ...base, dir: event.dir, channel: `ch${event.channel}`, name: event.method.name, detail, size: formatSize(event.body.length) };
    }
    case 'decode.error':
      return {
        ...base,
        dir: event.dir,
        channel: event.error.channel !== undefined ? `ch${event.error.channel}` : '',
        name: `decode error (${event.error.code})`,
        detail: `at offset ${event.error.offset}: ${event.error.text}`,
        size: event.raw ? formatSize(event.raw.length) : '',
      };
    case 'bytes':
      return {
        ...base,
        dir: event.dir,
        channel: '',
        name: 'not decoded',
        detail: `bytes at offset ${event.offset}${event.data === undefined ? `, ${WITHHELD_NOTE}` : ''}`,
        size: formatSize(undecodedSize(event)),
        tone: 'dim',
      };
  }
}

function insightText(event: { readonly insight?: FrameInsight }): string {
  // the rtt has its own column, the lead goes first; the rest of the insight follows the arguments
  const insight = event.insight;
  if (!insight) return '';
  const { request, prefetchFull: _full, whileBlocked: _blocked, ...rest } = insight;
  const text = describeInsight(rest).trim();
  return request ? joinText(`← ${request.name}`, text) : text;
}

/** What must not be cut off the end of a row by long arguments: `FULL 5/5`, `sent while blocked`. */
function leadText(insight: FrameInsight | undefined): string {
  if (insight === undefined) return '';
  const full = insight.prefetchFull ? describePrefetchFull(insight.prefetchFull) : '';
  return joinText(full, insight.whileBlocked ? 'sent while blocked' : '');
}

function joinText(a: string, b: string): string {
  return a && b ? `${a} ${b}` : a || b;
}

/** Column widths of the list for a terminal width; the summary takes what is left. 0: not shown. */
export interface RowColumns {
  /** 12 (`12:00:01.234`), or 9 without the hour (`00:01.234`) when narrow */
  readonly time: number;
  readonly conn: number;
  readonly dir: number;
  readonly channel: number;
  readonly size: number;
  readonly rtt: number;
  readonly summary: number;
  /** the whole row, spaces between columns included */
  readonly width: number;
}

/** The method and its arguments get this much before other columns give way. */
const SUMMARY_MIN = 40;

/**
 * One space between columns. The id columns fit their usual values (`#999`, `ch2047`: the
 * default channel-max); the method and arguments take the rest, and when that is under
 * SUMMARY_MIN the columns give way by importance, the least first: the size, the round trip
 * (a reply still names its request), the hour of the time.
 */
export function rowColumns(width: number): RowColumns {
  let time = 12;
  const conn = width >= 100 ? 5 : 4;
  const dir = 3;
  const channel = 6;
  let size = 8;
  let rtt = 8;
  const left = () => width - [time, conn, dir, channel, size, rtt].reduce((sum, w) => sum + (w > 0 ? w + 1 : 0), 0);
  for (const giveWay of [() => (size = 0), () => (rtt = 0), () => (time = 9)]) {
    if (left() >= SUMMARY_MIN) break;
    giveWay();
  }
  const summary = Math.max(10, left());
  return { time, conn, dir, channel, size, rtt, summary, width: width - left() + summary };
}

/** Cuts to `width` display cells with an ellipsis, or pads with spaces; control characters are replaced. */
export function fitText(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  if (width <= 0) return '';
  // whitespace becomes a space; other control characters (an ESC in a routing key or a body)
  // must never reach the terminal as escapes
  const clean = text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => (c === '\r' || c === '\n' || c === '\t' ? ' ' : '\ufffd'));
  if (clean.length > width) return width === 1 ? '…' : `${clean.slice(0, width - 1)}…`;
  return align === 'left' ? clean.padEnd(width) : clean.padStart(width);
}

/** `12,345` */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1.2k`, `35`, `2.1M`: a per-second rate without its unit */
export function formatPerSecond(perSecond: number): string {
  if (perSecond >= 1_000_000) return `${(perSecond / 1_000_000).toFixed(1)}M`;
  if (perSecond >= 10_000) return `${Math.round(perSecond / 1000)}k`;
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k`;
  return `${Math.round(perSecond)}`;
}
