// The TUI: header, list + detail (or connections, or help), and the prompt/status line.
// Keys resolve through the key map to actions in ui-state; sizes come from the layout.

import { Box, useApp, useInput, useStdin } from 'ink';
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { nowMicros, type SpyEvent } from '../events.js';
import type { EventStore } from './event-store.js';
import { KEYMAP, actionForKey, type KeyFlags } from './keymap.js';
import { computeLayout } from './layout.js';
import { applyAction, cancelDraft, editDraft, initialUiState, listView, submitDraft, type UiState } from './ui-state.js';
import { useStoreSnapshot, type RenderCost } from './hooks/use-store-snapshot.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { ConnectionsView } from './components/ConnectionsView.js';
import { DetailPane } from './components/DetailPane.js';
import { EventList } from './components/EventList.js';
import { FilterInput, promptKey } from './components/FilterInput.js';
import { HeaderBar } from './components/HeaderBar.js';
import { HelpScreen } from './components/HelpScreen.js';
import { StatusBar } from './components/StatusBar.js';

export interface AppProps {
  readonly store: EventStore;
  readonly mode: string;
  readonly recording?: (() => { path: string; bytes: number } | undefined) | undefined;
  readonly onQuit: () => Promise<void>;
  /** fixed size (tests and benchmarks); the terminal's otherwise */
  readonly columns?: number;
  readonly rows?: number;
  /** throttle of redraws on new events */
  readonly renderIntervalMs?: number;
  readonly onRowMount?: (seq: number) => void;
  readonly initialState?: Partial<UiState>;
  /** the cost of drawing, measured by ink, to space renders out when drawing is slow */
  readonly renderCost?: RenderCost;
  /** notices for the status line (see RunTuiOptions.notices) */
  readonly notices?: (sink: (line: string) => void) => () => void;
  /** a line for the header beside the mode (see RunTuiOptions.progress) */
  readonly progress?: (sink: (line: string | undefined) => void) => () => void;
}

/** Keys typed faster than they are read, one by one (tab, enter and backspace included). */
function splitPresses(input: string): { input: string; key: KeyFlags }[] {
  return [...input].map((ch) =>
    ch === '\t'
      ? { input: '', key: { tab: true } }
      : ch === '\r'
        ? { input: '', key: { return: true } }
        : ch === '\x7f'
          ? { input: '', key: { backspace: true } }
          : { input: ch, key: {} },
  );
}

/** How long typing in the filter prompt waits before re-filtering the whole buffer. */
const FILTER_DEBOUNCE_MS = 80;

export function App({ store, mode, recording, onQuit, columns, rows, renderIntervalMs, onRowMount, initialState, notices, progress, renderCost }: AppProps) {
  const { exit } = useApp();
  // without a terminal on stdin (piped input) there are no keys to read; the session runs until stopped
  const { isRawModeSupported } = useStdin();
  const size = useTerminalSize({ ...(columns !== undefined ? { columns } : {}), ...(rows !== undefined ? { rows } : {}) });
  const snapshot = useStoreSnapshot(store, renderIntervalMs, renderCost);
  const [state, setState] = useState<UiState>(() => ({ ...initialUiState(), ...initialState }));
  const layout = computeLayout(size.columns, size.rows, { showDetail: state.showDetail });
  const view = listView(state, store, snapshot.end);
  // the latest values for handlers that outlive a render
  const latest = useRef({ state, snapshot, layout });
  latest.current = { state, snapshot, layout };
  const filterTimer = useRef<NodeJS.Timeout | undefined>(undefined);

  const update = useCallback((change: (s: UiState) => UiState) => setState((s) => change(s)), []);

  // whether keys go to the prompt; a ref, because keys can arrive before the state that
  // opened the prompt has been rendered
  const prompting = useRef(state.editing !== undefined);
  // once a state is drawn it says where keys go: Enter on a rejected draft leaves the prompt
  // open, so keys (Esc) go back to it. A layout effect runs as the state is committed, which
  // holds every key handled so far (a passive one could run late and undo a newer key).
  useLayoutEffect(() => {
    prompting.current = state.editing !== undefined;
  }, [state]);

  const onDraftEdit = useCallback(
    (edit: (draft: string) => string) => {
      update((s) => ({ ...s, draft: edit(s.draft) }));
      clearTimeout(filterTimer.current);
      filterTimer.current = setTimeout(() => update((s) => (s.editing ? editDraft(s, s.draft, store) : s)), FILTER_DEBOUNCE_MS);
    },
    [store, update],
  );

  useInput(
    (input, key) => {
      // keys typed (or sent) faster than they are read arrive as one string: take them one by one
      const presses =
        input.length > 1 && !key.ctrl && !key.meta && /^[\x20-\x7e\t\r\x7f]+$/.test(input) && /[\t\r\x7f]/.test(input) ? splitPresses(input) : [{ input, key }];
      for (const press of presses) {
        // Ctrl+C quits from anywhere, the prompt included
        const interrupt = press.key.ctrl === true && press.input === 'c';
        if (interrupt) prompting.current = false;
        if (prompting.current) {
          const result = promptKey(press.input, press.key);
          if (result.kind === 'edit') onDraftEdit(result.edit);
          else if (result.kind === 'submit' || result.kind === 'cancel') {
            prompting.current = false;
            clearTimeout(filterTimer.current);
            const { snapshot: snap, layout: lay } = latest.current;
            update((s) => (result.kind === 'submit' ? submitDraft(s, store, snap.end, lay.listRows) : cancelDraft(s, store)));
          }
          continue;
        }
        // several plain characters at once (keys held down, tmux send-keys) are several keys
        for (const ch of press.input.length > 1 && /^[\x20-\x7e]+$/.test(press.input) && !press.key.ctrl ? [...press.input] : [press.input]) {
          if (prompting.current) {
            const result = promptKey(ch, {});
            if (result.kind === 'edit') onDraftEdit(result.edit);
            continue;
          }
          const action = actionForKey(ch, press.key, KEYMAP);
          if (!action) continue;
          if (action === 'filter' || action === 'search') prompting.current = true;
          const { snapshot: snap, layout: lay } = latest.current;
          update((s) => applyAction(s, action, { store, liveEnd: snap.end, listRows: lay.listRows, detailRows: lay.detail - 1, screenRows: lay.main - 1 }));
        }
      }
    },
    { isActive: isRawModeSupported && !state.quitting },
  );

  // q: the session's stop (close connections, flush the recording), then leave
  useEffect(() => {
    if (!state.quitting) return;
    onQuit()
      .catch(() => {})
      .finally(() => exit());
  }, [state.quitting, onQuit, exit]);

  useEffect(() => () => clearTimeout(filterTimer.current), []);

  useEffect(() => notices?.((line) => update((s) => ({ ...s, status: { text: line, tone: 'error' } }))), [notices, update]);

  const [progressLine, setProgressLine] = useState<string | undefined>(undefined);
  useEffect(() => progress?.(setProgressLine), [progress]);

  const lookup = useCallback((seq: number): SpyEvent | undefined => store.findBySeq(seq), [store]);
  const selected = view.selectedEvent;
  const highlight = useMemo(() => (selected && state.search ? state.search.matchedIn?.(selected) : undefined), [selected, state.search]);

  const status = state.quitting ? { text: 'quitting: closing connections and flushing the recording…', tone: 'info' as const } : state.status;
  return (
    <Box flexDirection="column" width={layout.width} height={layout.height}>
      <HeaderBar
        store={store}
        mode={mode}
        {...(progressLine ? { note: progressLine } : {})}
        recording={recording?.()}
        state={state}
        rows={view.length}
        width={layout.width}
        version={snapshot.version}
      />
      {state.screen === 'help' ? (
        <HelpScreen keymap={KEYMAP} width={layout.width} height={layout.main} scroll={state.helpScroll} />
      ) : state.screen === 'connections' ? (
        <ConnectionsView
          store={store}
          width={layout.width}
          height={layout.main}
          scroll={state.connectionsScroll}
          foldClosedChannels={state.foldClosedChannels}
          version={snapshot.version}
          now={mode.startsWith('replay') ? undefined : nowMicros}
        />
      ) : (
        <>
          <EventList
            store={store}
            length={view.length}
            selectedPosition={view.selectedPosition}
            rows={layout.listRows}
            columns={layout.columns}
            search={state.search}
            filterText={state.filterText}
            {...(onRowMount ? { onRowMount } : {})}
          />
          {layout.detail > 0 ? (
            <DetailPane
              event={view.selectedEvent}
              width={layout.width}
              height={layout.detail}
              bodyMode={state.bodyMode}
              bodyDepth={state.bodyDepth}
              showRaw={state.showRaw}
              scroll={state.detailScroll}
              lookup={lookup}
              laterFacts={view.selectedEvent ? store.laterFacts(view.selectedEvent) : undefined}
              pending={view.selectedEvent ? store.isPending(view.selectedEvent) : false}
              highlight={highlight}
            />
          ) : null}
        </>
      )}
      {state.editing ? (
        <FilterInput kind={state.editing} draft={state.draft} error={state.draftError} width={layout.width} />
      ) : (
        <StatusBar status={status} width={layout.width} />
      )}
    </Box>
  );
}
