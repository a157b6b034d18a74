// Connections with their peers, client library, user, vhost and negotiated limits, whether the
// server blocked them, and per channel its state, consumers, prefetch, unacked deliveries
// (FULL at the prefetch limit) and unconfirmed publishes.

import { Box, Text } from 'ink';
import type { ChannelInfo, ConnectionInfo, EventStore } from '../event-store.js';
import { fitText, formatCount } from '../../view/event-row.js';
import { describePrefetchFull, formatDuration } from '../../view/format.js';

export interface ConnectionsViewProps {
  readonly store: EventStore;
  readonly width: number;
  readonly height: number;
  readonly scroll: number;
  /** the snapshot version, so the view redraws as the store changes */
  readonly version: number;
  /**
   * Now, in µs, for how long a connection has been blocked: the clock when live; by default
   * the time of the latest event (a replay's "now").
   */
  readonly now?: (() => number) | undefined;
}

type Tone = 'title' | 'open' | 'closed' | 'error' | 'warn' | 'dim' | 'normal' | 'heading';
interface Line {
  readonly text: string;
  readonly tone: Tone;
}

const CHANNEL_COLUMNS = [
  { title: 'CH', width: 6 }, { title: 'STATE', width: 13 }, { title: 'CONSUMERS', width: 10 }, { title: 'PREFETCH', width: 9 },
  { title: 'UNACKED', width: 20 }, { title: 'UNCONFIRMED', width: 12 },
] as const;

/** `now`: µs, for how long a connection still blocked has been. */
export function connectionLines(connections: Iterable<ConnectionInfo>, now = 0): Line[] {
  const lines: Line[] = [];
  const list = [...connections].sort((a, b) => (a.state === 'closed' ? 1 : 0) - (b.state === 'closed' ? 1 : 0) || a.id - b.id);
  if (list.length === 0) lines.push({ text: 'no connections yet', tone: 'dim' });
  for (const c of list) {
    const peers = c.client && c.server ? `${c.client.address}:${c.client.port} → ${c.server.address}:${c.server.port}` : '';
    const state = c.state === 'closed' ? `closed${c.closeReason ? ` (${c.closeReason})` : ''}${c.closeLeft ? `, ${c.closeLeft}` : ''}` : c.state;
    // the server holds this connection's publishes: say so first, and for how long
    const blocked = c.blockedSince !== undefined ? `BLOCKED ${formatDuration(Math.max(0, now - c.blockedSince))}${c.blockedReason ? ` (${c.blockedReason})` : ''}  ` : '';
    lines.push({ text: `#${c.id}  ${blocked}${state}  ${peers}`, tone: c.closeError || blocked ? 'error' : c.closeLeft ? 'warn' : c.state === 'closed' ? 'closed' : 'title' });
    const client = [c.product, c.version].filter(Boolean).join(' ') || 'unknown client';
    lines.push({ text: `    ${client}${c.platform ? ` (${c.platform})` : ''}`, tone: 'normal' });
    lines.push({ text: `    user ${c.user ?? '?'} · vhost ${c.vhost ?? '?'} · frame-max ${c.frameMax ?? '?'} · heartbeat ${c.heartbeat === undefined ? '?' : c.heartbeat === 0 ? 'off' : `${c.heartbeat}s`} · channel-max ${c.channelMax ?? '?'}`, tone: 'normal' });
    const wasBlocked = c.blockedMicros > 0 ? ` · was blocked ${formatDuration(c.blockedMicros)}` : '';
    lines.push({ text: `    ${formatCount(c.frames)} frames · ${formatCount(c.messages)} messages · ${c.errors} error${c.errors === 1 ? '' : 's'}${wasBlocked}${c.closeError ? ` · closed with ${c.closeError}` : ''}`, tone: c.closeError ? 'error' : 'dim' });
    const channels = [...c.channels.values()].filter((ch) => ch.id !== 0).sort((a, b) => a.id - b.id);
    if (channels.length) {
      lines.push({ text: `    ${CHANNEL_COLUMNS.map((col) => col.title.padEnd(col.width)).join('')}`, tone: 'heading' });
      for (const ch of channels) lines.push({ text: `    ${channelCells(ch).map((cell, i) => cell.padEnd(CHANNEL_COLUMNS[i]!.width)).join('')}`, tone: ch.closeError ? 'error' : ch.state === 'closed' ? 'closed' : ch.prefetchFull ? 'warn' : 'normal' });
    }
    lines.push({ text: '', tone: 'normal' });
  }
  return lines;
}

function channelCells(ch: ChannelInfo): string[] {
  return [
    String(ch.id),
    ch.closeError ? `${ch.state} ${ch.closeError.split(' ')[0]}` : ch.state,
    String(ch.consumers.size),
    ch.prefetch === undefined ? '-' : ch.prefetch === 0 ? 'unlimited' : String(ch.prefetch),
    ch.prefetchFull && ch.state !== 'closed' ? `${ch.unacked} ${describePrefetchFull(ch.prefetchFull)}` : String(ch.unacked),
    ch.confirmMode ? String(ch.unconfirmed) : '-',
  ];
}

const TONE_PROPS: Record<Tone, { color?: string; bold?: boolean; dimColor?: boolean }> = {
  title: { bold: true, color: 'green' }, open: { color: 'green' }, closed: { dimColor: true }, error: { color: 'red' }, warn: { color: 'yellow' },
  dim: { dimColor: true }, normal: {}, heading: { bold: true, dimColor: true },
};

export function ConnectionsView({ store, width, height, scroll, now }: ConnectionsViewProps) {
  const lines = connectionLines(store.connections.values(), now ? now() : store.latestTs);
  const rows = height - 1;
  const first = Math.max(0, Math.min(scroll, lines.length - rows));
  const shown = lines.slice(first, first + rows);
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate-end">{fitText(`Connections  ${store.openConnections} open of ${store.connections.size}  (Tab or Esc: back to the list${lines.length > rows ? '; ↑↓ scroll' : ''})`, width)}</Text>
      {shown.map((line, i) => (
        <Text key={first + i} wrap="truncate-end" {...TONE_PROPS[line.tone]}>{fitText(line.text, width)}</Text>
      ))}
    </Box>
  );
}
