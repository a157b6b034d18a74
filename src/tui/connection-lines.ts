// The connections view as lines of text: connections with their peers, client library, user,
// vhost and negotiated limits, whether the server blocked them, and per channel its state,
// consumers, prefetch, unacked deliveries (FULL at the prefetch limit) and unconfirmed publishes. Plain TS: the view draws it, ui-state scrolls over it.

import type { TrackedChannel, TrackedConnection } from '../tap/connection-tracker.js';
import type { EventStore } from './event-store.js';
import { formatCount } from '../view/event-row.js';
import { describeLeft, describePrefetchFull, formatDuration } from '../view/format.js';

export type ConnectionLineTone = 'title' | 'open' | 'closed' | 'error' | 'warn' | 'dim' | 'normal' | 'heading';
export interface ConnectionLine {
  readonly text: string;
  readonly tone: ConnectionLineTone;
}

export interface ConnectionLinesOptions {
  /** closed channels (those closed without an error) as one line per connection */
  readonly foldClosedChannels?: boolean;
  /** µs now, for how long a connection still blocked has been */
  readonly now?: number;
}

const CHANNEL_COLUMNS = [
  { title: 'CH', width: 6 },
  { title: 'STATE', width: 13 },
  { title: 'CONSUMERS', width: 10 },
  { title: 'PREFETCH', width: 9 },
  { title: 'UNACKED', width: 20 },
  { title: 'UNCONFIRMED', width: 12 },
] as const;

export function connectionLines(connections: Iterable<TrackedConnection>, options: ConnectionLinesOptions = {}): ConnectionLine[] {
  const lines: ConnectionLine[] = [];
  const list = [...connections].sort((a, b) => (a.state === 'closed' ? 1 : 0) - (b.state === 'closed' ? 1 : 0) || a.id - b.id);
  if (list.length === 0) lines.push({ text: 'no connections yet', tone: 'dim' });
  for (const c of list) {
    const peers = c.client && c.server ? `${c.client.address}:${c.client.port} → ${c.server.address}:${c.server.port}` : '';
    const left = c.state === 'closed' ? describeLeft({ unacked: c.leftUnacked, unconfirmed: c.leftUnconfirmed }) : '';
    const state = c.state === 'closed' ? `closed${c.closeReason ? ` (${c.closeReason})` : ''}${left ? `, ${left}` : ''}` : c.state;
    // the server holds this connection's publishes: say so first, and for how long
    const blocked =
      c.blockedSince !== undefined
        ? `BLOCKED ${formatDuration(Math.max(0, (options.now ?? 0) - c.blockedSince))}${c.blockedReason ? ` (${c.blockedReason})` : ''}  `
        : '';
    lines.push({
      text: `#${c.id}  ${blocked}${state}  ${peers}`,
      tone: c.closeError || blocked ? 'error' : left ? 'warn' : c.state === 'closed' ? 'closed' : 'title',
    });
    const client = [c.product, c.version].filter(Boolean).join(' ') || 'unknown client';
    const named = c.connectionName !== undefined && c.connectionName !== '' ? `"${c.connectionName}"  ` : '';
    lines.push({ text: `    ${named}${client}${c.platform ? ` (${c.platform})` : ''}`, tone: 'normal' });
    lines.push({
      text: `    user ${c.user ?? '?'} · vhost ${c.vhost ?? '?'} · frame-max ${c.frameMax ?? '?'} · heartbeat ${c.heartbeat === undefined ? '?' : c.heartbeat === 0 ? 'off' : `${c.heartbeat}s`} · channel-max ${c.channelMax ?? '?'}`,
      tone: 'normal',
    });
    const wasBlocked = c.blockedMicros > 0 ? ` · was blocked ${formatDuration(c.blockedMicros)}` : '';
    lines.push({
      text: `    ${formatCount(c.frames)} frames · ${formatCount(c.messages)} messages · ${c.errors} error${c.errors === 1 ? '' : 's'}${wasBlocked}${c.closeError ? ` · closed with ${c.closeError}` : ''}`,
      tone: c.closeError ? 'error' : 'dim',
    });
    const all = [...c.channels.values()].filter((ch) => ch.id !== 0).sort((a, b) => a.id - b.id);
    // a channel closed by an error stays in sight: it is what people look for
    const folded = options.foldClosedChannels ? all.filter((ch) => ch.state === 'closed' && !ch.closeError) : [];
    const channels = folded.length ? all.filter((ch) => !folded.includes(ch)) : all;
    if (channels.length) {
      lines.push({ text: `    ${CHANNEL_COLUMNS.map((col) => col.title.padEnd(col.width)).join('')}`, tone: 'heading' });
      for (const ch of channels)
        lines.push({
          text: `    ${channelCells(ch)
            .map((cell, i) => cell.padEnd(CHANNEL_COLUMNS[i]!.width))
            .join('')}`,
          tone: ch.closeError ? 'error' : ch.state === 'closed' ? 'closed' : ch.prefetchFull ? 'warn' : 'normal',
        });
    }
    if (folded.length) lines.push({ text: `    + ${folded.length} closed channel${folded.length === 1 ? '' : 's'} folded (z unfolds)`, tone: 'dim' });
    lines.push({ text: '', tone: 'normal' });
  }
  return lines;
}

/** The connections view's lines for the store as it is now. */
export function connectionLinesOf(store: EventStore, options: ConnectionLinesOptions = {}): ConnectionLine[] {
  return connectionLines(store.connections.values(), options);
}

function channelCells(ch: TrackedChannel): string[] {
  return [
    String(ch.id),
    ch.closeError ? `${ch.state} ${ch.closeError.split(' ')[0]}` : ch.state,
    String(ch.consumers.size),
    ch.prefetch === undefined ? '-' : ch.prefetch === 0 ? 'unlimited' : String(ch.prefetch),
    ch.prefetchFull && ch.state !== 'closed' ? `${ch.unacked} ${describePrefetchFull(ch.prefetchFull)}` : String(ch.unacked),
    ch.confirmMode ? String(ch.unconfirmed) : '-',
  ];
}
