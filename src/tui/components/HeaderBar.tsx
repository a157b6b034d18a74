// Three lines on top: what runs (mode, addresses) and the display state; traffic (open
// connections, frames/s and messages/s each way, recording); the list's choices (rows, filter).

import { Box, Text } from 'ink';
import { fitText, formatCount, formatPerSecond } from '../../view/event-row.js';
import { formatSize } from '../../view/format.js';
import type { EventStore } from '../event-store.js';
import type { UiState } from '../ui-state.js';

/** A backlog the header mentions: less is a batch or two, gone before anyone reads it. */
const BACKLOG_SHOWN = 256 * 1024;

export interface HeaderBarProps {
  readonly store: EventStore;
  readonly mode: string;
  /** beside the mode: a timed replay's position */
  readonly note?: string;
  readonly recording?: { readonly path: string; readonly bytes: number } | undefined;
  readonly state: UiState;
  readonly rows: number;
  readonly width: number;
  /** the snapshot version (rates are read when drawn) */
  readonly version: number;
}

export function HeaderBar({ store, mode, note, recording, state, rows, width }: HeaderBarProps) {
  // what arrived since the pause (evicted ones too): capture went on
  const arrived = state.paused ? Math.max(0, store.endIndex - state.frozenEnd) : 0;
  const display = state.paused ? `‖ PAUSED${arrived > 0 ? ` · ${formatCount(arrived)} new` : ''}` : state.following ? '● FOLLOWING' : '↑ SCROLLED (f follows)';
  const displayColor = state.paused ? 'yellow' : state.following ? 'green' : 'yellow';
  const title = ` amqp-spy  ${mode}${note ? `  ·  ${note}` : ''}`;
  const right = ` ${display} `;
  const rates = store.rates();
  const conns = `${store.openConnections} conn${store.openConnections === 1 ? '' : 's'}`;
  const rec = recording ? `rec ${recording.path} ${formatSize(recording.bytes)}` : 'not recording';
  const f = formatPerSecond;
  // the long form when it fits, else the short one
  const traffic =
    [
      [
        conns,
        `C→S ${f(rates.framesC2S)} frames/s ${f(rates.messagesC2S)} msgs/s`,
        `S→C ${f(rates.framesS2C)} frames/s ${f(rates.messagesS2C)} msgs/s`,
        rec,
      ].join(' │ '),
      [conns, `C→S ${f(rates.framesC2S)} f/s ${f(rates.messagesC2S)} m/s`, `S→C ${f(rates.framesS2C)} f/s ${f(rates.messagesS2C)} m/s`, rec].join(' │ '),
    ].find((text) => text.length < width) ??
    [conns, `C→S ${f(rates.framesC2S)}/${f(rates.messagesC2S)}`, `S→C ${f(rates.framesS2C)}/${f(rates.messagesS2C)} f/m per s`, rec].join(' │ ');
  const choices = [
    state.mode === 'messages' ? 'rows: messages' : 'rows: frames',
    state.hideHeartbeats ? 'heartbeats hidden' : '',
    `${formatCount(rows)} of ${formatCount(store.size)} events${store.evicted ? ` (${formatCount(store.evicted)} older not kept)` : ''}${store.backlogBytes >= BACKLOG_SHOWN ? ` · ${formatSize(store.backlogBytes)} still to draw` : ''}${store.notShownBytes ? ` · ${formatSize(store.notShownBytes)} not shown: the screen fell behind (all forwarded and recorded)` : ''}`,
  ].filter(Boolean);
  const filter = state.filterText ? `filter: ${state.filterText}` : '';
  const search = state.searchText ? `search: ${state.searchText}` : '';
  const line3 = ` ${choices.join(' · ')}`;
  const findText = [filter, search].filter(Boolean).join('  ');
  return (
    <Box flexDirection="column" height={3}>
      <Text wrap="truncate-end">
        <Text backgroundColor="blue" color="white" bold>
          {fitText(title, Math.max(0, width - right.length))}
        </Text>
        <Text backgroundColor="blue" color={displayColor} bold>
          {right}
        </Text>
      </Text>
      <Text wrap="truncate-end">{fitText(` ${traffic}`, width)}</Text>
      <Text wrap="truncate-end">
        <Text dimColor>{fitText(line3, Math.min(line3.length, width))}</Text>
        {findText ? (
          <Text color="yellow" bold>
            {fitText(`  ${findText}`, Math.max(0, width - line3.length))}
          </Text>
        ) : null}
      </Text>
    </Box>
  );
}
