// What a command gives the TUI to draw with: its mode line, the notices and progress line it
// routes to the status line, the session's stop. No ink here: commands import it eagerly.

import type { FaultControl } from '../fault/fault-control.js';

export interface TuiDrawOptions {
  readonly mode: string;
  /** the session's fault rules, for the fault panel (a live session: the proxy or the built-in broker) */
  readonly faults?: FaultControl;
  readonly recording?: () => { path: string; bytes: number } | undefined;
  readonly notices: NoticeRouter;
  /** a line the header shows beside the mode (a timed replay's position) */
  readonly progress?: LineFeed;
  readonly onQuit: () => Promise<void>;
  readonly signal?: AbortSignal;
  /** the terminal (process.stdin/stdout unless given; a live session's UI thread always uses the process's) */
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
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
