// The prompt for a filter (`/`) or a search (`s`); while it is open the app routes keys to
// `promptKey`.

import { Text, type Key } from 'ink';
import { fitText } from '../../view/event-row.js';

export interface FilterInputProps {
  readonly kind: 'filter' | 'search';
  readonly draft: string;
  readonly error: string | undefined;
  readonly width: number;
}

export type PromptKey =
  | { readonly kind: 'submit' }
  | { readonly kind: 'cancel' }
  | { readonly kind: 'edit'; readonly edit: (draft: string) => string }
  | { readonly kind: 'none' };

/** What a key does in the prompt (the app routes keys here while the prompt is open). */
export function promptKey(input: string, key: Partial<Key>): PromptKey {
  if (key.return) return { kind: 'submit' };
  if (key.escape) return { kind: 'cancel' };
  if (key.backspace || key.delete) return { kind: 'edit', edit: (d) => d.slice(0, -1) };
  if (key.ctrl && input === 'u') return { kind: 'edit', edit: () => '' };
  if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || !input) return { kind: 'none' };
  // printable characters only (a paste arrives as one string)
  const printable = input.replace(/[\x00-\x1f\x7f]/g, '');
  return printable ? { kind: 'edit', edit: (d) => d + printable } : { kind: 'none' };
}

export function FilterInput({ kind, draft, error, width }: FilterInputProps) {
  const prompt = kind === 'filter' ? '/' : 'search ';
  const hint = error
    ? `  ✗ ${error}`
    : kind === 'filter'
      ? '  Enter keeps · Esc clears · e.g. method:basic.* rk:order.# error'
      : '  Enter searches · n/N next/previous · Esc clears';
  const text = `${prompt}${draft}`;
  return (
    <Text wrap="truncate-end">
      <Text color="yellow" bold>
        {fitText(text, Math.min(text.length, width - 1))}
      </Text>
      <Text inverse> </Text>
      <Text {...(error ? { color: 'red' } : { dimColor: true })}>{fitText(hint, Math.max(0, width - text.length - 1))}</Text>
    </Text>
  );
}
