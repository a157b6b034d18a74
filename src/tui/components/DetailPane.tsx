// The selected event in full: decoded fields as a tree, properties, body, raw bytes, links.

import { Box, Text } from 'ink';
import { memo, useMemo } from 'react';
import type { SpyEvent } from '../../events.js';
import { describeEventDetail, type BodyMode, type DetailLine } from '../../view/event-detail.js';
import { fitText } from '../../view/event-row.js';
import type { LaterFacts } from '../../view/later-facts.js';

export interface DetailPaneProps {
  readonly event: SpyEvent | undefined;
  readonly width: number;
  /** lines in all, the title bar included */
  readonly height: number;
  readonly bodyMode: BodyMode | undefined;
  /** levels of a body's tree shown open (DEFAULT_BODY_DEPTH when absent) */
  readonly bodyDepth?: number;
  readonly showRaw: boolean;
  readonly scroll: number;
  readonly lookup: (seq: number) => SpyEvent | undefined;
  /** what later events told of the event, and whether it still waits (see LaterFactsIndex) */
  readonly laterFacts?: LaterFacts | undefined;
  readonly pending?: boolean;
  /** paths of the fields a search matched (DetailLine.path), shown highlighted */
  readonly highlight?: readonly string[] | undefined;
}

export const DetailPane = memo(function DetailPane({
  event,
  width,
  height,
  bodyMode,
  bodyDepth,
  showRaw,
  scroll,
  lookup,
  laterFacts,
  pending = false,
  highlight,
}: DetailPaneProps) {
  const detail = useMemo(
    () =>
      event
        ? describeEventDetail(event, {
            ...(bodyMode ? { bodyMode } : {}),
            ...(bodyDepth !== undefined ? { bodyDepth } : {}),
            showRaw,
            width: width - 2,
            lookup,
            later: { facts: laterFacts, pending },
          })
        : undefined,
    [event, bodyMode, bodyDepth, showRaw, width, lookup, laterFacts, pending],
  );
  const rows = Math.max(0, height - 1);
  const lines = detail?.lines ?? [];
  const first = Math.max(0, Math.min(scroll, lines.length - rows));
  const shown = lines.slice(first, first + rows);
  const position = lines.length > rows ? `lines ${first + 1}-${first + shown.length} of ${lines.length} (J/K scroll)` : '';
  const hints = detail
    ? `${detail.links.length ? 'Enter link  ' : ''}${detail.bodyModes.length > 1 ? 'b body  ' : ''}${detail.bodyMode === 'tree' ? '+/- fold  ' : ''}x raw`
    : '';
  const title = `─ Detail ${event ? `event ${event.seq} ` : ''}`;
  const right = [position, hints].filter(Boolean).join('  ');
  const fill = Math.max(1, width - title.length - right.length - 2);
  return (
    <Box flexDirection="column" height={height}>
      <Text dimColor wrap="truncate-end">{`${title}${'─'.repeat(fill)} ${right} `}</Text>
      {event ? (
        shown.map((line, i) => (
          <DetailRow key={first + i} line={line} width={width} match={line.path !== undefined && highlight?.includes(line.path) === true} />
        ))
      ) : (
        <Text dimColor> no row selected</Text>
      )}
    </Box>
  );
});

function DetailRow({ line, width, match }: { readonly line: DetailLine; readonly width: number; readonly match: boolean }) {
  const indent = '  '.repeat(line.indent);
  if (line.tone === 'heading')
    return (
      <Text bold color={match ? 'yellow' : 'blue'} wrap="truncate-end">
        {fitText(line.value, width)}
      </Text>
    );
  // labels are field-table keys from the wire: cleaned like every other text
  const label = line.label !== undefined ? fitText(`${line.label}: `, line.label.length + 2) : '';
  const room = width - indent.length - label.length;
  const value = fitText(line.value, Math.max(0, Math.min(line.value.length, room)));
  const tag = line.tag && room - value.length > 3 ? fitText(`${value ? '  ' : ''}${line.tag}`, room - value.length) : '';
  // a search match is yellow, like the matching rows' names in the list
  const color = match ? 'yellow' : line.tone === 'error' ? 'red' : line.tone === 'link' ? 'yellow' : undefined;
  return (
    <Text wrap="truncate-end" dimColor={line.tone === 'dim'}>
      {indent}
      {label ? (
        <Text color={line.tone === 'link' || match ? 'yellow' : 'cyan'} bold={match}>
          {label}
        </Text>
      ) : null}
      <Text {...(color ? { color } : {})}>{value}</Text>
      {tag ? <Text dimColor>{tag}</Text> : null}
    </Text>
  );
}
