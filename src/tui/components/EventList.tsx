// The main list: a window of rows over the store's view. Only the visible rows are mounted,
// whatever the buffer holds; rows are padded to their columns so nothing wraps.

import { Box, Text } from 'ink';
import { memo, useEffect, useRef } from 'react';
import type { SpyEvent } from '../../events.js';
import { eventRowCells, fitText, formatCount, type RowColumns } from '../../view/event-row.js';
import { describeLater, type LaterFacts } from '../../view/later-facts.js';
import type { Filter } from '../../view/filter.js';
import type { EventStore } from '../event-store.js';
import { scrollTop } from '../layout.js';
import { DIRECTION_COLORS } from './colors.js';

export interface EventListProps {
  readonly store: EventStore;
  /** rows in the view (for the frozen or live end) */
  readonly length: number;
  readonly selectedPosition: number;
  /** event rows shown; the column titles take one more line */
  readonly rows: number;
  readonly columns: RowColumns;
  readonly search?: Filter | undefined;
  /** the list's filter as typed, to say what matched nothing */
  readonly filterText?: string;
  /** called when a row mounts (the windowing test counts them) */
  readonly onRowMount?: (seq: number) => void;
}

export function EventList({ store, length, selectedPosition, rows, columns, search, filterText = '', onRowMount }: EventListProps) {
  const previousTop = useRef(0);
  const top = scrollTop(length, Math.max(0, selectedPosition), previousTop.current, rows);
  previousTop.current = top;
  const items: SpyEvent[] = [];
  for (let pos = top; pos < Math.min(length, top + rows); pos++) {
    const event = store.at(store.viewAt(pos)!);
    if (event) items.push(event);
  }
  const blank = rows - items.length;
  return (
    <Box flexDirection="column" height={rows + 1}>
      <ColumnTitles columns={columns} />
      {items.map((event, i) => (
        <EventRow
          key={event.seq}
          event={event}
          facts={store.laterFacts(event)}
          pending={store.isPending(event)}
          columns={columns}
          selected={top + i === selectedPosition}
          match={search ? search.matches(event) : false}
          {...(onRowMount ? { onMount: onRowMount } : {})}
        />
      ))}
      {length === 0 ? (
        <Text dimColor wrap="truncate-end">
          {fitText(`  ${emptyText(store.size, filterText)}`, columns.width)}
        </Text>
      ) : null}
      {blank > (length === 0 ? 1 : 0) ? <Box height={blank - (length === 0 ? 1 : 0)} /> : null}
    </Box>
  );
}

/** Why the list is empty: no traffic yet, or nothing of what is kept passes the filter or row mode. */
function emptyText(kept: number, filterText: string): string {
  if (kept === 0) return 'waiting for traffic… (? for help)';
  const events = `${formatCount(kept)} event${kept === 1 ? '' : 's'}`;
  if (filterText) return `no event of ${events} matches ${filterText}  (Esc clears the filter)`;
  return `no row to show of ${events}  (m: every frame, H: heartbeats)`;
}

function ColumnTitles({ columns }: { readonly columns: RowColumns }) {
  const parts = [
    fitText('TIME', columns.time),
    fitText(columns.conn >= 4 ? 'CONN' : 'CON', columns.conn),
    fitText('DIR', columns.dir),
    fitText('CH', columns.channel),
    fitText('METHOD  ARGUMENTS', columns.summary),
    ...(columns.size ? [fitText('SIZE', columns.size, 'right')] : []),
    ...(columns.rtt ? [fitText('RTT', columns.rtt, 'right')] : []),
  ];
  return (
    <Text bold dimColor wrap="truncate-end">
      {parts.join(' ')}
    </Text>
  );
}

interface EventRowProps {
  readonly event: SpyEvent;
  /** what later events told of it (a stable object until something new is learnt) */
  readonly facts: LaterFacts | undefined;
  readonly pending: boolean;
  readonly columns: RowColumns;
  readonly selected: boolean;
  readonly match: boolean;
  readonly onMount?: (seq: number) => void;
}

const EventRow = memo(function EventRow({ event, facts, pending, columns, selected, match, onMount }: EventRowProps) {
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per mounted row, not per render
  useEffect(() => {
    onMount?.(event.seq);
  }, []);
  const cells = eventRowCells(event, describeLater(event, facts, pending));
  const name = fitText(cells.name, Math.min(cells.name.length, columns.summary));
  const rest = fitText(cells.detail ? ` ${cells.detail}` : '', columns.summary - name.length);
  const toneColor = cells.tone === 'error' ? 'red' : cells.tone === 'connection' ? 'green' : cells.tone === 'fault' ? 'magenta' : undefined;
  const dim = cells.tone === 'dim';
  return (
    <Text wrap="truncate-end" inverse={selected} dimColor={dim}>
      <Text dimColor={!selected}>{fitText(cells.time.slice(-columns.time), columns.time)}</Text> <Text>{fitText(cells.conn, columns.conn)}</Text>{' '}
      <Text {...(cells.dir ? { color: DIRECTION_COLORS[cells.dir] } : {})}>{fitText(cells.dir ? (cells.dir === 'c2s' ? 'C→S' : 'S→C') : '', columns.dir)}</Text>{' '}
      <Text>{fitText(cells.channel, columns.channel)}</Text>{' '}
      <Text bold {...(match ? { color: 'yellow' } : toneColor ? { color: toneColor } : {})}>
        {name}
      </Text>
      <Text {...(toneColor ? { color: toneColor } : {})}>{rest}</Text>
      {columns.size ? <Text dimColor={!selected}>{` ${fitText(cells.size, columns.size, 'right')}`}</Text> : null}
      {columns.rtt ? <Text {...(selected ? {} : { color: 'yellow' })}>{` ${fitText(cells.rtt, columns.rtt, 'right')}`}</Text> : null}
    </Text>
  );
});
