// Opens the TUI (imported lazily: ink costs ~300 ms to load) over an event source, and routes
// one-line notices to its status line while it is up.

import type { EventSink } from './events.js';
import type { ByteObserver } from './tap/tap-observer.js';

export interface TuiDrawOptions {
  readonly mode: string;
  readonly recording?: () => { path: string; bytes: number } | undefined;
  readonly notices: NoticeRouter;
  /** a line the header shows beside the mode (a timed replay's position) */
  readonly progress?: LineFeed;
  readonly onQuit: () => Promise<void>;
  readonly signal?: AbortSignal;
  /** the terminal (process.stdin/stdout unless given) */
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
}

export interface PreparedTui {
  /** the TUI's sink: attach it with every other sink before the source starts */
  readonly sink: EventSink;
  /** draws until the user quits (loads ink first); resolves once the terminal is restored */
  draw(options: TuiDrawOptions): Promise<void>;
}

/**
 * Notices go to stderr, or to the TUI's status line while it is up. Between `holdForTui` and
 * the TUI attaching, notices wait (the TUI would draw over a line written to the terminal
 * then); if the TUI never attaches they go to stderr when it is given up.
 */
export class NoticeRouter {
  private sink: ((line: string) => void) | undefined;
  private held: string[] | undefined;
  constructor(private readonly fallback: (line: string) => void) {}

  readonly notice = (line: string): void => {
    if (this.sink) this.sink(line);
    else if (this.held) this.held.push(line);
    else this.fallback(line);
  };

  /** Keeps notices for the TUI that is about to draw. */
  holdForTui(): void {
    this.held ??= [];
  }

  attach(sink: (line: string) => void): () => void {
    this.sink = sink;
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) sink(line);
    return () => {
      if (this.sink === sink) this.sink = undefined;
    };
  }

  /** The TUI is gone (or never came): anything still held goes to stderr. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const line of held) this.fallback(line);
  }
}

/** One line the TUI's header shows beside the mode, replaced as it changes; the TUI gets the latest when it attaches. */
export class LineFeed {
  private line: string | undefined;
  private sink: ((line: string | undefined) => void) | undefined;

  set(line: string | undefined): void {
    if (line === this.line) return;
    this.line = line;
    this.sink?.(line);
  }

  attach(sink: (line: string | undefined) => void): () => void {
    this.sink = sink;
    sink(this.line);
    return () => {
      if (this.sink === sink) this.sink = undefined;
    };
  }
}

/** Whether the view is the TUI: asked for (not --no-tui), not --json, and stdout a terminal. */
export function wantsTui(options: { tui?: boolean; json?: boolean }): boolean {
  return options.tui !== false && !options.json && process.stdout.isTTY === true && process.stdin.isTTY === true;
}

/**
 * Makes the TUI's event store before anything emits: a command gives `sink` to its source with
 * the other sinks, starts the source, then calls `draw`. Events that arrive while ink loads wait
 * in the store, so the screen shows every event of the session.
 */
export async function prepareTui(bufferSize?: number): Promise<PreparedTui> {
  const { openTui } = await import('./tui/run-tui.js');
  const tui = openTui(bufferSize);
  return {
    sink: tui.sink,
    draw: (options) => {
      options.notices.holdForTui();
      return tui.draw({
        mode: options.mode,
        ...(options.recording ? { recording: options.recording } : {}),
        notices: (sink) => options.notices.attach(sink),
        ...(options.progress ? { progress: (sink: (line: string | undefined) => void) => options.progress!.attach(sink) } : {}),
        onQuit: options.onQuit,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.stdin ? { stdin: options.stdin } : {}),
        ...(options.stdout ? { stdout: options.stdout } : {}),
      }).finally(() => options.notices.release());
    },
  };
}

export interface PreparedLiveTui {
  /** give this to the live source beside its taps, before it starts */
  readonly observer: ByteObserver;
  /** draws until the user quits; resolves once the terminal is restored */
  draw(options: TuiDrawOptions): Promise<void>;
}

/**
 * The TUI for a live source (proxy, built-in broker), on its own thread: it decodes and draws
 * there from copies of the bytes, so forwarding never waits for the screen. Its thread starts
 * (and loads ink) now; bytes that come while it loads wait for it.
 */
export async function prepareLiveTui(bufferSize: number | undefined, showSecrets: boolean): Promise<PreparedLiveTui> {
  const { startTuiWorker } = await import('./tui/worker/tui-worker-host.js');
  const worker = startTuiWorker({ ...(bufferSize !== undefined ? { bufferSize } : {}), showSecrets });
  return { observer: worker.observer, draw: (options) => worker.draw(options) };
}
