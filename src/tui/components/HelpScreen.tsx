// Every key of the key map, grouped, flowed into as many columns as the height needs, and
// the filter language from its own table.

import { Box, Text } from 'ink';
import { memo } from 'react';
import { fitText } from '../../view/event-row.js';
import { FILTER_KEYS, FILTER_SYNTAX } from '../../view/filter.js';
import { bindingLabel, FAULT_PANEL_KEYS, KEY_GROUPS, type KeyBinding } from '../keymap.js';

export interface HelpScreenProps {
  readonly keymap: readonly KeyBinding[];
  readonly width: number;
  readonly height: number;
  /** first line shown when everything does not fit */
  readonly scroll?: number;
}

type HelpLine = { readonly kind: 'heading'; readonly text: string } | { readonly kind: 'key'; readonly label: string; readonly text: string };

export const HelpScreen = memo(function HelpScreen({ keymap, width, height, scroll = 0 }: HelpScreenProps) {
  const lines: HelpLine[] = [];
  for (const group of KEY_GROUPS) {
    const bindings = keymap.filter((b) => b.group === group);
    if (!bindings.length) continue;
    lines.push({ kind: 'heading', text: group });
    for (const b of bindings) lines.push({ kind: 'key', label: bindingLabel(b), text: b.description });
  }
  lines.push({ kind: 'heading', text: 'Fault panel (F)' });
  for (const b of FAULT_PANEL_KEYS) lines.push({ kind: 'key', label: bindingLabel(b), text: b.description });
  lines.push({ kind: 'heading', text: 'Filter language (/ and s)' });
  for (const k of FILTER_KEYS) lines.push({ kind: 'key', label: k.example, text: k.help });
  for (const k of FILTER_SYNTAX) lines.push({ kind: 'key', label: k.example, text: k.help });
  const rows = Math.max(1, height - 1);
  // as many columns as needed and as fit (48 cells each); what is left over scrolls
  const columnCount = Math.max(1, Math.min(Math.ceil(lines.length / rows), Math.floor(width / 48)));
  const columnWidth = Math.floor(width / columnCount);
  const overflow = Math.max(0, lines.length - rows * columnCount);
  const first = Math.min(scroll, overflow);
  const visible = lines.slice(first, first + rows * columnCount);
  const labelWidth = Math.min(21, Math.max(...lines.map((l) => (l.kind === 'key' ? l.label.length : 0))) + 1);
  const columns: HelpLine[][] = [];
  for (let c = 0; c < columnCount; c++) columns.push(visible.slice(c * rows, (c + 1) * rows));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold wrap="truncate-end">
        {fitText(`Keys  (? or Esc closes this help${overflow ? `; ↑↓ scroll, ${first + visible.length} of ${lines.length}` : ''})`, width)}
      </Text>
      <Box flexDirection="row">
        {columns.map((column, c) => (
          <Box key={c} flexDirection="column" width={columnWidth}>
            {column.map((line, i) =>
              line.kind === 'heading' ? (
                <Text key={i} bold color="blue" wrap="truncate-end">
                  {fitText(line.text, columnWidth - 1)}
                </Text>
              ) : (
                <Text key={i} wrap="truncate-end">
                  <Text color="yellow">{fitText(` ${line.label}`, labelWidth + 1)}</Text>
                  {fitText(` ${line.text}`, Math.max(0, columnWidth - labelWidth - 2))}
                </Text>
              ),
            )}
          </Box>
        ))}
      </Box>
    </Box>
  );
});
