// Connections with their peers, client library, user, vhost and negotiated limits, whether the
// server blocked them, and per channel its state, consumers, prefetch, unacked deliveries (FULL
// at the prefetch limit) and unconfirmed publishes (the lines come from connection-lines.ts;
// ui-state keeps the scroll within them).

import { Box, Text } from 'ink';
import type { EventStore } from '../event-store.js';
import { fitText } from '../../view/event-row.js';
import { connectionLinesOf, type ConnectionLineTone } from '../connection-lines.js';

export interface ConnectionsViewProps {
  readonly store: EventStore;
  readonly width: number;
  readonly height: number;
  readonly scroll: number;
  readonly foldClosedChannels: boolean;
  /** the snapshot version, so the view redraws as the store changes */
  readonly version: number;
  /**
   * Now, in µs, for how long a connection has been blocked: the clock when live; by default
   * the time of the latest event (a replay's "now").
   */
  readonly now?: (() => number) | undefined;
}

const TONE_PROPS: Record<ConnectionLineTone, { color?: string; bold?: boolean; dimColor?: boolean }> = {
  title: { bold: true, color: 'green' },
  open: { color: 'green' },
  closed: { dimColor: true },
  error: { color: 'red' },
  warn: { color: 'yellow' },
  dim: { dimColor: true },
  normal: {},
  heading: { bold: true, dimColor: true },
};

export function ConnectionsView({ store, width, height, scroll, foldClosedChannels, now }: ConnectionsViewProps) {
  const lines = connectionLinesOf(store, { foldClosedChannels, now: now ? now() : store.latestTs });
  const rows = height - 1;
  const first = Math.max(0, Math.min(scroll, lines.length - rows));
  const shown = lines.slice(first, first + rows);
  const keys = `Tab or Esc: back to the list${lines.length > rows ? '; ↑↓ g G scroll' : ''}; z ${foldClosedChannels ? 'unfolds' : 'folds'} closed channels`;
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate-end">
        {fitText(`Connections  ${store.openConnections} open of ${store.connections.size}  (${keys})`, width)}
      </Text>
      {shown.map((line, i) => (
        <Text key={first + i} wrap="truncate-end" {...TONE_PROPS[line.tone]}>
          {fitText(line.text, width)}
        </Text>
      ))}
    </Box>
  );
}
