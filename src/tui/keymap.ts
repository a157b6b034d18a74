// Every key of the TUI as data: the input handler resolves keys through this table and the
// help screen lists it, so the two cannot drift apart.

/** The named keys ink reports as flags. */
export type SpecialKey =
  | 'upArrow'
  | 'downArrow'
  | 'leftArrow'
  | 'rightArrow'
  | 'pageUp'
  | 'pageDown'
  | 'home'
  | 'end'
  | 'return'
  | 'escape'
  | 'tab'
  | 'backspace';

export interface KeySpec {
  /** a printable character, case-sensitive */
  readonly char?: string;
  readonly special?: SpecialKey;
  readonly ctrl?: boolean;
}

export type ActionId =
  | 'select-prev'
  | 'select-next'
  | 'page-up'
  | 'page-down'
  | 'select-first'
  | 'select-last'
  | 'follow'
  | 'toggle-messages'
  | 'toggle-heartbeats'
  | 'jump-link'
  | 'jump-back'
  | 'cycle-body'
  | 'body-unfold'
  | 'body-fold'
  | 'toggle-raw'
  | 'save-body'
  | 'detail-down'
  | 'detail-up'
  | 'toggle-detail'
  | 'connections'
  | 'fold-closed'
  | 'filter'
  | 'search'
  | 'search-next'
  | 'search-prev'
  | 'next-error'
  | 'pause'
  | 'clear'
  | 'help'
  | 'faults'
  | 'escape'
  | 'quit';

export type KeyGroup = 'Move' | 'Show' | 'Detail' | 'Find' | 'Session';

export interface KeyBinding {
  readonly keys: readonly KeySpec[];
  readonly action: ActionId;
  readonly description: string;
  readonly group: KeyGroup;
}

export const KEYMAP: readonly KeyBinding[] = [
  { group: 'Move', action: 'select-prev', keys: [{ special: 'upArrow' }, { char: 'k' }], description: 'previous row (stops following)' },
  { group: 'Move', action: 'select-next', keys: [{ special: 'downArrow' }, { char: 'j' }], description: 'next row' },
  { group: 'Move', action: 'page-up', keys: [{ special: 'pageUp' }, { char: 'u', ctrl: true }], description: 'page up' },
  { group: 'Move', action: 'page-down', keys: [{ special: 'pageDown' }, { char: 'd', ctrl: true }], description: 'page down' },
  { group: 'Move', action: 'select-first', keys: [{ special: 'home' }, { char: 'g' }], description: 'first row' },
  { group: 'Move', action: 'select-last', keys: [{ special: 'end' }, { char: 'G' }], description: 'last row' },
  { group: 'Move', action: 'follow', keys: [{ char: 'f' }], description: 'follow the newest row' },
  { group: 'Show', action: 'toggle-messages', keys: [{ char: 'm' }], description: 'rows: messages / every frame' },
  { group: 'Show', action: 'toggle-heartbeats', keys: [{ char: 'H' }], description: 'hide / show heartbeats' },
  { group: 'Show', action: 'connections', keys: [{ special: 'tab' }], description: 'connections and channels' },
  { group: 'Show', action: 'fold-closed', keys: [{ char: 'z' }], description: 'fold closed channels' },
  { group: 'Detail', action: 'jump-link', keys: [{ special: 'return' }], description: 'jump to the linked event' },
  { group: 'Detail', action: 'jump-back', keys: [{ special: 'backspace' }, { char: 'B' }], description: 'back to where you jumped from' },
  { group: 'Detail', action: 'cycle-body', keys: [{ char: 'b' }], description: 'body as decoded tree / pretty text / raw text / hex' },
  { group: 'Detail', action: 'body-unfold', keys: [{ char: '+' }], description: "open one more level of the body's tree" },
  { group: 'Detail', action: 'body-fold', keys: [{ char: '-' }], description: "fold the body's tree one level" },
  { group: 'Detail', action: 'toggle-raw', keys: [{ char: 'x' }], description: 'raw frame as hex dump' },
  { group: 'Detail', action: 'save-body', keys: [{ char: 'w' }], description: "write the message's body to a file here" },
  { group: 'Detail', action: 'detail-down', keys: [{ char: 'J' }], description: 'scroll the detail down' },
  { group: 'Detail', action: 'detail-up', keys: [{ char: 'K' }], description: 'scroll the detail up' },
  { group: 'Detail', action: 'toggle-detail', keys: [{ char: 'd' }], description: 'hide / show the detail pane' },
  { group: 'Find', action: 'filter', keys: [{ char: '/' }], description: 'filter rows (see Filter language)' },
  { group: 'Find', action: 'search', keys: [{ char: 's' }], description: 'search, rows stay' },
  { group: 'Find', action: 'search-next', keys: [{ char: 'n' }], description: 'next search match' },
  { group: 'Find', action: 'search-prev', keys: [{ char: 'N' }], description: 'previous search match' },
  { group: 'Find', action: 'next-error', keys: [{ char: 'e' }], description: 'next error row' },
  { group: 'Find', action: 'escape', keys: [{ special: 'escape' }], description: 'clear filter and search' },
  { group: 'Session', action: 'pause', keys: [{ char: 'p' }], description: 'pause display (capture goes on)' },
  { group: 'Session', action: 'clear', keys: [{ char: 'c' }], description: 'clear the list' },
  { group: 'Session', action: 'faults', keys: [{ char: 'F' }], description: 'fault panel: arm and disarm rules, act on the selected connection' },
  { group: 'Session', action: 'help', keys: [{ char: '?' }], description: 'this help' },
  { group: 'Session', action: 'quit', keys: [{ char: 'q' }, { char: 'c', ctrl: true }], description: 'quit, flushing the recording' },
];

export const KEY_GROUPS: readonly KeyGroup[] = ['Move', 'Show', 'Detail', 'Find', 'Session'];

const SPECIAL_LABELS: Record<SpecialKey, string> = {
  upArrow: '↑',
  downArrow: '↓',
  leftArrow: '←',
  rightArrow: '→',
  pageUp: 'PgUp',
  pageDown: 'PgDn',
  home: 'Home',
  end: 'End',
  return: 'Enter',
  escape: 'Esc',
  tab: 'Tab',
  backspace: 'Backspace',
};

export function keyLabel(spec: KeySpec): string {
  const name = spec.special ? SPECIAL_LABELS[spec.special] : spec.char === ' ' ? 'Space' : (spec.char ?? '');
  return spec.ctrl ? `Ctrl+${name}` : name;
}

export function bindingLabel(binding: { readonly keys: readonly KeySpec[] }): string {
  return binding.keys.map(keyLabel).join(' ');
}

/** The subset of ink's Key the resolver reads. */
export interface KeyFlags {
  readonly upArrow?: boolean;
  readonly downArrow?: boolean;
  readonly leftArrow?: boolean;
  readonly rightArrow?: boolean;
  readonly pageUp?: boolean;
  readonly pageDown?: boolean;
  readonly home?: boolean;
  readonly end?: boolean;
  readonly return?: boolean;
  readonly escape?: boolean;
  readonly tab?: boolean;
  readonly backspace?: boolean;
  readonly delete?: boolean;
  readonly ctrl?: boolean;
  readonly shift?: boolean;
}

function specMatches(spec: KeySpec, input: string, key: KeyFlags): boolean {
  if (spec.special) {
    // terminals send DEL (0x7f) for Backspace; ink calls that `delete`
    if (spec.special === 'backspace') return Boolean(key.backspace || key.delete);
    if (spec.special === 'tab') return Boolean(key.tab) && !key.shift;
    return Boolean(key[spec.special]);
  }
  if (Boolean(spec.ctrl) !== Boolean(key.ctrl)) return false;
  return input === spec.char;
}

/** The action bound to a key press, if any. */
export function actionForKey(input: string, key: KeyFlags): ActionId | undefined;
export function actionForKey<A extends string>(
  input: string,
  key: KeyFlags,
  keymap: readonly { readonly keys: readonly KeySpec[]; readonly action: A }[],
): A | undefined;
export function actionForKey(
  input: string,
  key: KeyFlags,
  keymap: readonly { readonly keys: readonly KeySpec[]; readonly action: string }[] = KEYMAP,
): string | undefined {
  for (const binding of keymap) for (const spec of binding.keys) if (specMatches(spec, input, key)) return binding.action;
  return undefined;
}

export type FaultPanelAction = 'up' | 'down' | 'arm' | 'toggle' | 'delete' | 'close-channel' | 'close-connection' | 'block' | 'unblock' | 'cut' | 'close';

export interface FaultPanelBinding {
  readonly keys: readonly KeySpec[];
  readonly action: FaultPanelAction;
  readonly description: string;
}

/** The fault panel's own keys (F opens it): they apply only while it is open. */
export const FAULT_PANEL_KEYS: readonly FaultPanelBinding[] = [
  { action: 'up', keys: [{ special: 'upArrow' }, { char: 'k' }], description: 'previous rule' },
  { action: 'down', keys: [{ special: 'downArrow' }, { char: 'j' }], description: 'next rule' },
  { action: 'arm', keys: [{ char: 'a' }], description: 'arm a new rule: type it (Enter arms, Esc cancels)' },
  { action: 'toggle', keys: [{ char: ' ' }], description: 'disarm / re-arm the selected rule' },
  { action: 'delete', keys: [{ char: 'x' }], description: 'delete the selected rule (asks first)' },
  { action: 'close-channel', keys: [{ char: 'C' }], description: "close the selected event's channel with 406 (asks first)" },
  { action: 'close-connection', keys: [{ char: 'K' }], description: "close the selected event's connection with 320 (asks first)" },
  { action: 'block', keys: [{ char: 'b' }], description: "block the selected event's connection (asks first)" },
  { action: 'unblock', keys: [{ char: 'u' }], description: "unblock the selected event's connection" },
  { action: 'cut', keys: [{ char: 'X' }], description: "cut the selected event's connection (asks first)" },
  { action: 'close', keys: [{ special: 'escape' }, { char: 'F' }], description: 'close the panel' },
];
