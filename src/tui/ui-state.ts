// What the user has chosen (selection, following, pause, filter, panes) and what each key
// action does to it. Plain TS over the event store, so the behaviour is testable without a
// terminal; the app only maps key presses to actions and draws.

import type { SpyEvent } from '../events.js';
import { DEFAULT_BODY_DEPTH, describeEventDetail, nextBodyMode, type BodyMode } from '../view/event-detail.js';
import { FilterSyntaxError, parseFilter, type Filter } from '../view/filter.js';
import { formatSize, isErrorEvent } from '../view/format.js';
import { saveBody } from '../output/body-files.js';
import { connectionLinesOf } from './connection-lines.js';
import type { EventStore, ListMode } from './event-store.js';
import type { ActionId } from './keymap.js';

export type Screen = 'list' | 'connections' | 'help';

export interface StatusLine {
  readonly text: string;
  readonly tone: 'info' | 'error';
}

export interface UiState {
  readonly screen: Screen;
  /** the selection sticks to the newest row */
  readonly following: boolean;
  /** display frozen at `frozenEnd` (an absolute store index); capture goes on */
  readonly paused: boolean;
  readonly frozenEnd: number;
  /** absolute store index of the selected event (when not following) */
  readonly selected: number | undefined;
  readonly mode: ListMode;
  readonly hideHeartbeats: boolean;
  readonly filterText: string;
  readonly searchText: string;
  readonly search: Filter | undefined;
  /** the prompt being typed in, if any */
  readonly editing: 'filter' | 'search' | undefined;
  readonly draft: string;
  readonly draftError: string | undefined;
  readonly bodyMode: BodyMode | undefined;
  /** levels of a body's tree shown open */
  readonly bodyDepth: number;
  readonly showRaw: boolean;
  readonly showDetail: boolean;
  readonly detailScroll: number;
  /** where Enter jumped from, newest last (absolute indexes) */
  readonly history: readonly number[];
  readonly status: StatusLine | undefined;
  readonly connectionsScroll: number;
  /** the connections view shows closed channels (those closed without an error) as one line */
  readonly foldClosedChannels: boolean;
  readonly helpScroll: number;
  readonly quitting: boolean;
}

/** Deeper than this, + does nothing more: the body's lines are capped anyway. */
const MAX_BODY_DEPTH = 64;

export function initialUiState(): UiState {
  return {
    screen: 'list',
    following: true,
    paused: false,
    frozenEnd: 0,
    selected: undefined,
    mode: 'messages',
    hideHeartbeats: false,
    filterText: '',
    searchText: '',
    search: undefined,
    editing: undefined,
    draft: '',
    draftError: undefined,
    bodyMode: undefined,
    bodyDepth: DEFAULT_BODY_DEPTH,
    showRaw: false,
    showDetail: true,
    detailScroll: 0,
    history: [],
    status: undefined,
    connectionsScroll: 0,
    foldClosedChannels: false,
    helpScroll: 0,
    quitting: false,
  };
}

/** What the list shows right now: rows among the events before `end`. */
export interface ListView {
  readonly end: number;
  readonly length: number;
  /** view position of the selected row, -1 when the list is empty */
  readonly selectedPosition: number;
  readonly selectedIndex: number | undefined;
  readonly selectedEvent: SpyEvent | undefined;
}

/** `liveEnd` is the store's end at the last snapshot; a paused display keeps its own. */
export function listView(state: UiState, store: EventStore, liveEnd: number): ListView {
  const end = state.paused ? Math.min(state.frozenEnd, liveEnd) : liveEnd;
  const length = store.viewLength(end);
  let position = -1;
  if (length > 0) position = state.following || state.selected === undefined ? length - 1 : Math.min(store.positionOf(state.selected), length - 1);
  const selectedIndex = position >= 0 ? store.viewAt(position) : undefined;
  return { end, length, selectedPosition: position, selectedIndex, selectedEvent: selectedIndex === undefined ? undefined : store.at(selectedIndex) };
}

export interface ActionContext {
  readonly store: EventStore;
  /** the store's end at the last snapshot */
  readonly liveEnd: number;
  /** rows the list shows (for paging) */
  readonly listRows: number;
  /** lines the detail pane shows (for its scrolling) */
  readonly detailRows: number;
  /** lines the connections and help screens show (the list's rows when not given) */
  readonly screenRows?: number;
}

function selectPosition(state: UiState, ctx: ActionContext, view: ListView, position: number, follow = false): UiState {
  if (view.length === 0) return state;
  const clamped = Math.max(0, Math.min(position, view.length - 1));
  // reaching the last row does not resume following: only `f` and End do
  return { ...state, selected: ctx.store.viewAt(clamped), following: follow, detailScroll: clamped === view.selectedPosition ? state.detailScroll : 0 };
}

/** Applies a key action. Changes to the list's view options are applied to the store here. */
export function applyAction(state: UiState, action: ActionId, ctx: ActionContext): UiState {
  const { store } = ctx;
  const view = listView(state, store, ctx.liveEnd);
  const cleared = { ...state, status: undefined };
  if (action === 'quit') return { ...cleared, quitting: true, editing: undefined };
  if (action === 'filter' || action === 'search') {
    return { ...cleared, screen: 'list', editing: action, draft: action === 'filter' ? state.filterText : state.searchText, draftError: undefined };
  }
  if (state.screen === 'help') {
    switch (action) {
      case 'select-prev':
        return { ...cleared, helpScroll: Math.max(0, state.helpScroll - 1) };
      case 'select-next':
        return { ...cleared, helpScroll: state.helpScroll + 1 };
      case 'page-up':
        return { ...cleared, helpScroll: Math.max(0, state.helpScroll - ctx.listRows) };
      case 'page-down':
        return { ...cleared, helpScroll: state.helpScroll + ctx.listRows };
      case 'help':
      case 'escape':
        return { ...cleared, screen: 'list', helpScroll: 0 };
      default:
        return cleared;
    }
  }
  if (action === 'fold-closed') {
    const foldClosedChannels = !state.foldClosedChannels;
    const folded = {
      ...cleared,
      foldClosedChannels,
      status: { text: foldClosedChannels ? 'closed channels folded (z unfolds)' : 'closed channels shown', tone: 'info' as const },
    };
    return state.screen === 'connections' ? { ...folded, connectionsScroll: clampConnectionsScroll(folded, ctx, state.connectionsScroll) } : folded;
  }
  if (state.screen === 'connections') {
    // the scroll stays within the lines: past the end, a key up would seem to do nothing
    const rows = ctx.screenRows ?? ctx.listRows;
    const at = clampConnectionsScroll(state, ctx, state.connectionsScroll);
    const scrollTo = (line: number): UiState => ({ ...cleared, connectionsScroll: clampConnectionsScroll(state, ctx, line) });
    switch (action) {
      case 'select-prev':
        return scrollTo(at - 1);
      case 'select-next':
        return scrollTo(at + 1);
      case 'page-up':
        return scrollTo(at - rows);
      case 'page-down':
        return scrollTo(at + rows);
      case 'select-first':
        return scrollTo(0);
      case 'select-last':
        return scrollTo(Infinity);
      case 'connections':
      case 'escape':
        return { ...cleared, screen: 'list' };
      case 'help':
        return { ...cleared, screen: 'help' };
      case 'pause':
        return togglePause(cleared, ctx);
      default:
        return cleared;
    }
  }
  switch (action) {
    case 'select-prev':
      return selectPosition(cleared, ctx, view, view.selectedPosition - 1);
    case 'select-next':
      return selectPosition(cleared, ctx, view, view.selectedPosition + 1);
    case 'page-up':
      return selectPosition(cleared, ctx, view, view.selectedPosition - ctx.listRows);
    case 'page-down':
      return selectPosition(cleared, ctx, view, view.selectedPosition + ctx.listRows);
    case 'select-first':
      return selectPosition(cleared, ctx, view, 0);
    case 'select-last':
    case 'follow':
      return { ...cleared, following: true, selected: undefined, detailScroll: 0 };
    case 'toggle-messages': {
      const mode: ListMode = state.mode === 'messages' ? 'frames' : 'messages';
      store.setView({ ...store.options, mode });
      return { ...cleared, mode, status: { text: mode === 'messages' ? 'rows: assembled messages' : 'rows: every frame', tone: 'info' } };
    }
    case 'toggle-heartbeats': {
      const hideHeartbeats = !state.hideHeartbeats;
      store.setView({ ...store.options, hideHeartbeats });
      return { ...cleared, hideHeartbeats, status: { text: hideHeartbeats ? 'heartbeats hidden' : 'heartbeats shown', tone: 'info' } };
    }
    // the view opens at the top, on the open connections
    case 'connections':
      return { ...cleared, screen: 'connections', connectionsScroll: 0 };
    case 'help':
      return { ...cleared, screen: 'help' };
    case 'jump-link':
      return jumpToLink(cleared, ctx, view);
    case 'jump-back': {
      const target = state.history[state.history.length - 1];
      if (target === undefined) return { ...cleared, status: { text: 'nothing to go back to', tone: 'info' } };
      return { ...cleared, selected: target, following: false, history: state.history.slice(0, -1), detailScroll: 0 };
    }
    case 'cycle-body': {
      const event = view.selectedEvent;
      if (!event || (event.kind !== 'message' && !(event.kind === 'frame' && event.frame.type === 'body')))
        return { ...cleared, status: { text: 'the selected row has no body', tone: 'info' } };
      const detail = describeEventDetail(event, state.bodyMode ? { bodyMode: state.bodyMode } : {});
      return { ...cleared, bodyMode: nextBodyMode(detail.bodyModes, detail.bodyMode) };
    }
    case 'body-unfold':
    case 'body-fold': {
      const bodyDepth = Math.max(1, Math.min(MAX_BODY_DEPTH, state.bodyDepth + (action === 'body-unfold' ? 1 : -1)));
      return { ...cleared, bodyDepth, status: { text: `body tree open ${bodyDepth} level${bodyDepth === 1 ? '' : 's'} deep`, tone: 'info' } };
    }
    case 'toggle-raw':
      return { ...cleared, showRaw: !state.showRaw };
    case 'save-body': {
      const event = view.selectedEvent;
      if (event?.kind !== 'message')
        return {
          ...cleared,
          status: {
            text: state.mode === 'frames' ? 'select a message to save its body (m lists messages)' : 'the selected row is not a message',
            tone: 'info',
          },
        };
      try {
        const path = saveBody(event, process.cwd());
        const omitted = event.bodyOmitted !== undefined ? `; ${event.bodyOmitted} bytes were not recorded` : '';
        return { ...cleared, status: { text: `saved the body (${formatSize(event.body.length)}) to ${path}${omitted}`, tone: 'info' } };
      } catch (error) {
        return { ...cleared, status: { text: error instanceof Error ? error.message : String(error), tone: 'error' } };
      }
    }
    case 'toggle-detail':
      return { ...cleared, showDetail: !state.showDetail };
    case 'detail-down':
      return { ...cleared, detailScroll: state.detailScroll + Math.max(1, ctx.detailRows - 2) };
    case 'detail-up':
      return { ...cleared, detailScroll: Math.max(0, state.detailScroll - Math.max(1, ctx.detailRows - 2)) };
    case 'search-next':
    case 'search-prev': {
      if (!state.search) return { ...cleared, status: { text: 'no search: press s to search', tone: 'info' } };
      return findAndSelect(cleared, ctx, view, state.search, action === 'search-next' ? 1 : -1, `no other match for "${state.searchText}"`);
    }
    case 'next-error':
      return findAndSelect(cleared, ctx, view, ERROR_FILTER, 1, 'no other error');
    case 'escape': {
      if (state.filterText) store.setView({ ...store.options, filter: undefined });
      return {
        ...cleared,
        filterText: '',
        searchText: '',
        search: undefined,
        status: state.filterText || state.searchText ? { text: 'filter and search cleared', tone: 'info' } : undefined,
      };
    }
    case 'pause':
      return togglePause(cleared, ctx);
    // the fault panel is the app's (it talks to the session): nothing to change here
    case 'faults':
      return state;
    case 'clear':
      store.clear();
      return { ...cleared, selected: undefined, following: true, history: [], frozenEnd: store.endIndex, detailScroll: 0 };
  }
}

/** A scroll of the connections view kept within its lines (the last screenful at most). */
function clampConnectionsScroll(state: UiState, ctx: ActionContext, line: number): number {
  const total = connectionLinesOf(ctx.store, { foldClosedChannels: state.foldClosedChannels }).length;
  return Math.max(0, Math.min(line, total - (ctx.screenRows ?? ctx.listRows)));
}

const ERROR_FILTER: Filter = { source: 'error', empty: false, matches: isErrorEvent };

function togglePause(state: UiState, ctx: ActionContext): UiState {
  return state.paused ? { ...state, paused: false } : { ...state, paused: true, frozenEnd: ctx.liveEnd };
}

function findAndSelect(state: UiState, ctx: ActionContext, view: ListView, filter: Filter, step: 1 | -1, notFound: string): UiState {
  const found = ctx.store.findInView(filter, view.selectedPosition, step, view.length);
  if (found !== undefined) return withMatchNote(selectPosition(state, ctx, view, found), ctx, filter, found);
  // wrap around, like a pager's search
  const wrapped = ctx.store.findInView(filter, step === 1 ? -1 : view.length, step, view.length);
  if (wrapped === undefined || wrapped === view.selectedPosition) return { ...state, status: { text: notFound, tone: 'info' } };
  const moved = {
    ...selectPosition(state, ctx, view, wrapped),
    status: { text: step === 1 ? 'search wrapped to the top' : 'search wrapped to the bottom', tone: 'info' as const },
  };
  return withMatchNote(moved, ctx, filter, wrapped);
}

/** A match the row does not show (a header, a body) is named on the status line. */
function withMatchNote(state: UiState, ctx: Pick<ActionContext, 'store'>, filter: Filter, position: number): UiState {
  const index = ctx.store.viewAt(position);
  const event = index === undefined ? undefined : ctx.store.at(index);
  const fields = event ? (filter.matchedIn?.(event) ?? []) : [];
  if (fields.length === 0 || !event) return state;
  const note = `matched in ${fields.join(', ')}`;
  // the detail scrolls to the first matching field (one line of context above it)
  const lines = describeEventDetail(event, { ...(state.bodyMode ? { bodyMode: state.bodyMode } : {}), showRaw: state.showRaw }).lines;
  const at = lines.findIndex((line) => line.path !== undefined && fields.includes(line.path));
  return {
    ...state,
    detailScroll: at > 0 ? at - 1 : state.detailScroll,
    status: { text: state.status ? `${state.status.text}; ${note}` : note, tone: 'info' },
  };
}

function jumpToLink(state: UiState, ctx: ActionContext, view: ListView): UiState {
  const event = view.selectedEvent;
  if (!event || view.selectedIndex === undefined) return state;
  const links = describeEventDetail(event, { later: { facts: ctx.store.laterFacts(event), pending: ctx.store.isPending(event) } }).links;
  const link = links[0];
  if (!link) return { ...state, status: { text: 'this row links to nothing', tone: 'info' } };
  const target = ctx.store.rowForSeq(link.seq);
  if (target === undefined) {
    const why = ctx.store.indexOfSeq(link.seq) === undefined ? 'has left the buffer' : 'is hidden by the filter or row mode';
    return { ...state, status: { text: `event ${link.seq} (${link.label}) ${why}`, tone: 'error' } };
  }
  if (state.paused && target >= view.end) return { ...state, status: { text: `event ${link.seq} arrived after the pause`, tone: 'info' } };
  return {
    ...state,
    selected: target,
    following: false,
    history: [...state.history, view.selectedIndex].slice(-100),
    detailScroll: 0,
    status: { text: `jumped to ${link.label}, event ${link.seq} (Backspace goes back)`, tone: 'info' },
  };
}

// --- the prompt ---------------------------------------------------------------------------

/** Parses a draft; the error text is one line for the prompt. */
export function checkFilter(text: string): { filter: Filter; error?: undefined } | { filter?: undefined; error: string } {
  try {
    return { filter: parseFilter(text) };
  } catch (error) {
    if (error instanceof FilterSyntaxError) return { error: error.message.replace(/^filter "[^"]*": /, '') };
    throw error;
  }
}

/** A draft changed: a filter applies live (when it parses); a search waits for Enter. */
export function editDraft(state: UiState, draft: string, store: EventStore): UiState {
  const checked = checkFilter(draft);
  if (checked.error !== undefined) return { ...state, draft, draftError: checked.error };
  if (state.editing === 'filter') {
    store.setView({ ...store.options, filter: checked.filter.empty ? undefined : checked.filter });
    return { ...state, draft, draftError: undefined, filterText: draft.trim() };
  }
  return { ...state, draft, draftError: undefined };
}

/** Enter in the prompt. */
export function submitDraft(state: UiState, store: EventStore, liveEnd: number, listRows: number): UiState {
  const checked = checkFilter(state.draft);
  if (checked.error !== undefined) return { ...state, draftError: checked.error };
  if (state.editing === 'filter') {
    store.setView({ ...store.options, filter: checked.filter.empty ? undefined : checked.filter });
    return { ...state, editing: undefined, filterText: state.draft.trim(), draftError: undefined };
  }
  const searchText = state.draft.trim();
  const done: UiState = { ...state, editing: undefined, searchText, search: checked.filter.empty ? undefined : checked.filter, draftError: undefined };
  if (!done.search) return done;
  // jump to the first match at or after the selection
  const view = listView(done, store, liveEnd);
  const ctx = { store, liveEnd, listRows, detailRows: 0 };
  const here = view.selectedEvent && done.search.matches(view.selectedEvent);
  return here ? withMatchNote(done, ctx, done.search, view.selectedPosition) : findAndSelect(done, ctx, view, done.search, 1, `no match for "${searchText}"`);
}

/** Esc in the prompt: a filter prompt clears the filter, a search prompt the search. */
export function cancelDraft(state: UiState, store: EventStore): UiState {
  if (state.editing === 'filter') {
    store.setView({ ...store.options, filter: undefined });
    return { ...state, editing: undefined, draft: '', draftError: undefined, filterText: '' };
  }
  return { ...state, editing: undefined, draft: '', draftError: undefined, searchText: '', search: undefined };
}
