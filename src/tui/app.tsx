// The TUI: header, list + detail (or connections, or help), and the prompt/status line.
// Keys resolve through the key map to actions in ui-state; sizes come from the layout.

import { Box, Text, useApp, useInput, useStdin } from 'ink';
import { useCallback, useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { FaultRuleInfo } from '../fault/fault-control.js';
import { fitText } from '../view/event-row.js';
import type { FaultClient, FaultReply, FaultRequest } from './fault-client.js';
import { nowMicros, type SpyEvent } from '../events.js';
import type { EventStore } from './event-store.js';
import { FAULT_PANEL_KEYS, KEYMAP, actionForKey, type KeyFlags } from './keymap.js';
import { computeLayout } from './layout.js';
import { applyAction, cancelDraft, editDraft, initialUiState, listView, submitDraft, type UiState } from './ui-state.js';
import { useStoreSnapshot, type RenderCost } from './hooks/use-store-snapshot.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { ConnectionsView } from './components/ConnectionsView.js';
import { DetailPane } from './components/DetailPane.js';
import { EventList } from './components/EventList.js';
import { FaultPanel } from './components/FaultPanel.js';
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
  /** the session's fault rules, for the fault panel (F) */
  readonly faults?: FaultClient;
}

/** The fault panel's state: kept in a ref, since keys can come faster than renders. */
interface PanelState {
  readonly open: boolean;
  readonly rules: readonly FaultRuleInfo[];
  readonly selected: number;
  /** a rule being typed, and why the last one typed was refused */
  readonly typing: { readonly draft: string; readonly error: string | undefined } | undefined;
  /** an action waiting for y */
  readonly confirm: { readonly question: string; readonly request: FaultRequest } | undefined;
}

const CLOSED_PANEL: PanelState = { open: false, rules: [], selected: 0, typing: undefined, confirm: undefined };
/** How often an open panel refreshes its rules' counts. */
const PANEL_REFRESH_MS = 1000;

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

export function App({
  store,
  mode,
  recording,
  onQuit,
  columns,
  rows,
  renderIntervalMs,
  onRowMount,
  initialState,
  notices,
  progress,
  renderCost,
  faults,
}: AppProps) {
  const { exit } = useApp();
  // without a terminal on stdin (piped input) there are no keys to read; the session runs until stopped
  const { isRawModeSupported } = useStdin();
  const size = useTerminalSize({ ...(columns !== undefined ? { columns } : {}), ...(rows !== undefined ? { rows } : {}) });
  const snapshot = useStoreSnapshot(store, renderIntervalMs, renderCost);
  const [state, setState] = useState<UiState>(() => ({ ...initialUiState(), ...initialState }));
  const layout = computeLayout(size.columns, size.rows, { showDetail: state.showDetail });
  const view = listView(state, store, snapshot.end);
  // the latest values for handlers that outlive a render
  const latest = useRef({ state, snapshot, layout, view });
  latest.current = { state, snapshot, layout, view };
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

  const panel = useRef<PanelState>(CLOSED_PANEL);
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  const setPanel = useCallback((change: (p: PanelState) => PanelState) => {
    panel.current = change(panel.current);
    redraw();
  }, []);
  const say = useCallback((text: string, tone: 'info' | 'error' = 'info') => update((s) => ({ ...s, status: { text, tone } })), [update]);
  /** Sends a request to the session; the answer replaces the panel's rules. */
  const ask = useCallback(
    async (request: FaultRequest): Promise<FaultReply | undefined> => {
      if (!faults) return undefined;
      const reply = await faults.request(request);
      setPanel((p) => ({ ...p, rules: reply.faults, selected: Math.max(0, Math.min(p.selected, reply.faults.length - 1)) }));
      if (reply.error !== undefined) say(reply.error, 'error');
      else if (reply.done !== undefined) say(reply.done);
      return reply;
    },
    [faults, setPanel, say],
  );
  // an open panel's counts follow the traffic
  const panelOpen = panel.current.open;
  useEffect(() => {
    if (!panelOpen || !faults) return;
    const timer = setInterval(() => void ask({ op: 'list' }), PANEL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [panelOpen, faults, ask]);

  /** A key while the panel is open: typing a rule, answering a question, or the panel's keys. */
  const panelKey = (input: string, key: KeyFlags): void => {
    const p = panel.current;
    if (p.typing) {
      const result = promptKey(input, key);
      if (result.kind === 'edit') setPanel((q) => ({ ...q, typing: { draft: result.edit(q.typing?.draft ?? ''), error: undefined } }));
      else if (result.kind === 'cancel') setPanel((q) => ({ ...q, typing: undefined }));
      else if (result.kind === 'submit') {
        const draft = p.typing.draft;
        void ask({ op: 'add', rule: draft }).then((reply) => {
          if (reply?.error !== undefined) setPanel((q) => ({ ...q, typing: { draft, error: reply.error } }));
          else setPanel((q) => ({ ...q, typing: undefined, selected: Math.max(0, q.rules.length - 1) }));
        });
      }
      return;
    }
    if (p.confirm) {
      const request = p.confirm.request;
      setPanel((q) => ({ ...q, confirm: undefined }));
      if (input === 'y' || input === 'Y') void ask(request);
      else say('cancelled');
      return;
    }
    const action = actionForKey(input, key, FAULT_PANEL_KEYS);
    if (action === undefined) return;
    const rule = p.rules[p.selected];
    const selected = latest.current.view.selectedEvent;
    const target = selected ? { conn: selected.conn, channel: 'channel' in selected ? selected.channel : undefined } : undefined;
    const confirm = (question: string, request: FaultRequest): void => {
      setPanel((q) => ({ ...q, confirm: { question, request } }));
      say(`${question} y/n`);
    };
    const needTarget = (): boolean => {
      if (!faults) say('fault rules act on a live session only (--upstream or --standalone)', 'error');
      else if (!target) say('select an event of the connection to act on first', 'error');
      return faults !== undefined && target !== undefined;
    };
    switch (action) {
      case 'close':
        setPanel(() => CLOSED_PANEL);
        return;
      case 'up':
      case 'down':
        setPanel((q) => ({ ...q, selected: Math.max(0, Math.min(q.rules.length - 1, q.selected + (action === 'up' ? -1 : 1))) }));
        return;
      case 'arm':
        if (!faults) say('fault rules act on a live session only (--upstream or --standalone)', 'error');
        else setPanel((q) => ({ ...q, typing: { draft: '', error: undefined } }));
        return;
      case 'toggle':
        if (rule) void ask({ op: 'arm', id: rule.id, armed: rule.state === 'disarmed' });
        return;
      case 'delete':
        if (rule) confirm(`delete rule ${rule.id} (${rule.rule})?`, { op: 'remove', id: rule.id });
        return;
      case 'close-channel':
        if (!needTarget()) return;
        if (target!.channel === undefined || target!.channel === 0) say('the selected event is on no channel: select one of a channel', 'error');
        else
          confirm(`close channel ${target!.channel} of connection ${target!.conn} with 406 PRECONDITION_FAILED?`, {
            op: 'act',
            connection: target!.conn,
            action: 'close-channel=406',
            channel: target!.channel,
          });
        return;
      case 'close-connection':
        if (needTarget())
          confirm(`close connection ${target!.conn} with 320 CONNECTION_FORCED?`, { op: 'act', connection: target!.conn, action: 'close-connection=320' });
        return;
      case 'block':
        if (needTarget()) confirm(`block connection ${target!.conn}?`, { op: 'act', connection: target!.conn, action: 'block' });
        return;
      case 'unblock':
        if (needTarget()) void ask({ op: 'act', connection: target!.conn, action: 'unblock' });
        return;
      case 'cut':
        if (needTarget()) confirm(`cut connection ${target!.conn} (FIN to both sides)?`, { op: 'act', connection: target!.conn, action: 'cut' });
        return;
    }
  };

  useInput(
    (input, key) => {
      // keys typed (or sent) faster than they are read arrive as one string: take them one by one
      const presses =
        input.length > 1 && !key.ctrl && !key.meta && /^[\x20-\x7e\t\r\x7f]+$/.test(input) && /[\t\r\x7f]/.test(input) ? splitPresses(input) : [{ input, key }];
      for (const press of presses) {
        // Ctrl+C quits from anywhere, the prompt included
        const interrupt = press.key.ctrl === true && press.input === 'c';
        if (interrupt) prompting.current = false;
        if (panel.current.open && !interrupt) {
          for (const ch of press.input.length > 1 && /^[\x20-\x7e]+$/.test(press.input) && !press.key.ctrl && !panel.current.typing
            ? [...press.input]
            : [press.input])
            panelKey(ch, press.key);
          continue;
        }
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
          const action = actionForKey(ch, press.key);
          if (!action) continue;
          if (action === 'faults') {
            setPanel(() => ({ ...CLOSED_PANEL, open: true }));
            if (faults) void ask({ op: 'list' });
            continue;
          }
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

  const panelProps = (height: number) => ({
    rules: panel.current.rules,
    selected: panel.current.selected,
    target: selected ? { conn: selected.conn, channel: 'channel' in selected ? selected.channel : undefined } : undefined,
    unavailable: faults ? undefined : 'fault rules act on a live session only (--upstream or --standalone)',
    width: layout.width,
    height,
  });
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
      ) : panel.current.open && layout.detail < 6 ? (
        <FaultPanel {...panelProps(layout.main)} />
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
          {panel.current.open ? (
            <FaultPanel {...panelProps(layout.detail)} />
          ) : layout.detail > 0 ? (
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
      {panel.current.typing ? (
        <Text wrap="truncate-end">
          <Text color="yellow" bold>
            {fitText(`arm rule: ${panel.current.typing.draft}`, Math.min(10 + panel.current.typing.draft.length, layout.width - 1))}
          </Text>
          <Text inverse> </Text>
          <Text {...(panel.current.typing.error ? { color: 'red' } : { dimColor: true })}>
            {fitText(
              panel.current.typing.error ? `  ✗ ${panel.current.typing.error}` : '  Enter arms · Esc cancels',
              Math.max(0, layout.width - panel.current.typing.draft.length - 11),
            )}
          </Text>
        </Text>
      ) : state.editing ? (
        <FilterInput kind={state.editing} draft={state.draft} error={state.draftError} width={layout.width} />
      ) : (
        <StatusBar status={status} width={layout.width} />
      )}
    </Box>
  );
}
