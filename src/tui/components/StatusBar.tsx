// The bottom line: a status message when there is one, else the most used keys (labels come
// from the key map, so they cannot drift from what the keys do).

import { Text } from 'ink';
import { fitText } from '../../view/event-row.js';
import { KEYMAP, keyLabel, type ActionId } from '../keymap.js';
import type { StatusLine } from '../ui-state.js';

/** In screen order; when the line is too narrow the ones with the highest drop number go first. */
const HINTS: readonly { readonly action: ActionId; readonly word: string; readonly drop: number }[] = [
  { action: 'select-prev', word: 'move', drop: 6 },
  { action: 'jump-link', word: 'link', drop: 4 },
  { action: 'filter', word: 'filter', drop: 1 },
  { action: 'search', word: 'search', drop: 7 },
  { action: 'toggle-messages', word: 'frames/msgs', drop: 5 },
  { action: 'connections', word: 'conns', drop: 3 },
  { action: 'pause', word: 'pause', drop: 2 },
  { action: 'help', word: 'help', drop: 0 },
  { action: 'quit', word: 'quit', drop: 0 },
];

export function hintText(width = Infinity): string {
  const labelled = HINTS.map((hint) => {
    const binding = KEYMAP.find((b) => b.action === hint.action);
    const label = hint.action === 'select-prev' ? '↑↓' : binding ? keyLabel(binding.keys[0]!) : '';
    return { ...hint, text: `${label} ${hint.word}` };
  });
  let shown = labelled;
  const text = () => shown.map((h) => h.text).join('  ');
  for (let drop = 7; drop > 0 && text().length > width; drop--) shown = shown.filter((h) => h.drop < drop);
  return text();
}

export function StatusBar({ status, width }: { readonly status: StatusLine | undefined; readonly width: number }) {
  if (status)
    return (
      <Text wrap="truncate-end" {...(status.tone === 'error' ? { color: 'red' } : { color: 'yellow' })}>
        {fitText(status.text, width)}
      </Text>
    );
  return (
    <Text dimColor wrap="truncate-end">
      {fitText(hintText(width), width)}
    </Text>
  );
}
