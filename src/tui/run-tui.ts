// Entry point of the terminal UI, imported lazily by the CLI (ink costs ~330 ms to load).
// `openTui` makes the event store and its sink before the session's source starts, so no
// event can come before the UI is there to keep it; `draw` loads ink, draws until `q` (or
// Ctrl+C), then runs the session's stop and resolves once the terminal is restored.

import type { EventSink } from '../events.js';
import type { FaultClient } from './fault-client.js';
import { EventStore } from './event-store.js';
import { boundInkTextCaches } from './ink-text-caches.js';

export interface OpenTui {
  /** give this to the session's bus with the other sinks, before the source starts */
  readonly sink: EventSink;
  /** draws until quit; events the sink took before (while ink loads) are all there */
  draw(options: DrawTuiOptions): Promise<void>;
  /** bytes of traffic given to this UI and not decoded yet (its thread is catching up) */
  setBacklog(bytes: number): void;
}

/**
 * The store and its sink, ready before any source emits; `bufferSize`: events kept (default
 * 100,000); `filter`: the list starts filtered by it (live `--filter`; the session checked it).
 */
export function openTui(bufferSize = 100_000, filter?: string): OpenTui {
  const store = new EventStore(bufferSize);
  const filterText = filter !== undefined && filter.trim() !== '' ? filter.trim() : undefined;
  return {
    sink: (event) => store.push(event),
    // the filter is applied when the UI draws (the view is worked out again from every kept
    // event then): its module loads chalk, which must come after ink's CI-free import below
    draw: (options) => runTui(store, options, filterText),
    setBacklog: (bytes) => {
      store.backlogBytes = bytes;
    },
  };
}

export interface DrawTuiOptions {
  /** e.g. `proxy 127.0.0.1:5673 → 127.0.0.1:5672`, `standalone 127.0.0.1:5672`, `replay session.jsonl` */
  mode: string;
  recording?: () => { path: string; bytes: number } | undefined;
  /** the session's fault rules, for the fault panel (F); without it the panel says it has none */
  faults?: FaultClient;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** the session's stop: closes connections, flushes the recording (called once) */
  onQuit(): Promise<void>;
  /**
   * One-line notices for people (upstream unreachable, a sink dropped): shown on the status
   * line instead of being written through the screen.
   */
  notices?(sink: (line: string) => void): () => void;
  /** a line for the header beside the mode (a timed replay's position); undefined clears it */
  progress?(sink: (line: string | undefined) => void): () => void;
  /** closes the TUI from outside (e.g. SIGTERM); `onQuit` still runs, once */
  signal?: AbortSignal;
  /** route console output above the UI (default: when console can be patched); off on the UI's own thread */
  patchConsole?: boolean;
}

const ENTER_ALT_SCREEN = '\x1b[?1049h\x1b[H';
const LEAVE_ALT_SCREEN = '\x1b[?1049l';

async function runTui(store: EventStore, options: DrawTuiOptions, filterText?: string): Promise<void> {
  // React picks its build when first loaded: the development one is several times slower and
  // checks things a user cannot act on
  process.env['NODE_ENV'] ??= 'production';
  // before ink's first import in this thread (the UI's own, or the main one for replay): ink's
  // text caches would otherwise keep every row text ever drawn
  const [{ render }, { createElement }, { App }, { RenderCost }, { parseFilter }] = await withoutCiDetection(async () => {
    await boundInkTextCaches();
    return Promise.all([import('ink'), import('react'), import('./app.js'), import('./hooks/use-store-snapshot.js'), import('../view/filter.js')]);
  });
  if (filterText !== undefined) store.setView({ ...store.options, filter: parseFilter(filterText) });
  const renderCost = new RenderCost();
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  // a full-screen tool: draw on the alternate screen and give the shell its screen back
  const altScreen = stdout.isTTY === true;
  if (altScreen) stdout.write(ENTER_ALT_SCREEN);
  let quitRan = false;
  let quitError: unknown;
  const onQuit = async () => {
    if (quitRan) return;
    quitRan = true;
    try {
      await options.onQuit();
    } catch (error) {
      quitError ??= error;
    }
  };
  const instance = render(
    createElement(App, {
      store,
      mode: options.mode,
      recording: options.recording,
      onQuit,
      renderCost,
      ...(filterText !== undefined ? { initialState: { filterText } } : {}),
      ...(options.notices ? { notices: options.notices } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.faults ? { faults: options.faults } : {}),
    }),
    // console output from elsewhere goes above the UI instead of through it (when console can be
    // patched: test runners replace it with one that cannot)
    {
      stdout,
      stdin,
      exitOnCtrlC: false,
      patchConsole: options.patchConsole ?? typeof console.Console === 'function',
      onRender: ({ renderTime }) => renderCost.record(renderTime),
    },
  );
  const onAbort = () => instance.unmount();
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await instance.waitUntilExit();
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    instance.cleanup();
    if (altScreen) stdout.write(LEAVE_ALT_SCREEN);
  }
  // ink unmounted for another reason (stdin closed, the signal): the session still stops
  await onQuit();
  if (quitError !== undefined) throw quitError;
}

/**
 * Ink draws only the last frame when it thinks it runs in CI (CI or CONTINUOUS_INTEGRATION
 * set), which leaves an interactive terminal blank. The TUI only opens on a terminal, so the
 * variables are hidden while ink loads (it reads them once, at load) and then restored.
 * Hidden means removed, not set to 'false': chalk, loaded with ink, turns colours off when
 * `CI` is present at all, whatever its value.
 */
async function withoutCiDetection<T>(load: () => Promise<T>): Promise<T> {
  const saved = { CI: process.env['CI'], CONTINUOUS_INTEGRATION: process.env['CONTINUOUS_INTEGRATION'] };
  delete process.env['CI'];
  delete process.env['CONTINUOUS_INTEGRATION'];
  try {
    return await load();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}
