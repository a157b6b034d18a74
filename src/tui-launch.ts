// Opens the TUI (imported lazily: ink costs ~300 ms to load) over an event source, and routes
// one-line notices to its status line while it is up.

import type { EventSink } from './events.js';

export interface TuiLaunchOptions {
  readonly subscribe: (sink: EventSink) => () => void;
  readonly mode: string;
  readonly recording?: () => { path: string; bytes: number } | undefined;
  readonly bufferSize?: number;
  readonly notices: NoticeRouter;
  readonly onQuit: () => Promise<void>;
  readonly signal?: AbortSignal;
}

/** Notices go to stderr, or to the TUI's status line while it is up. */
export class NoticeRouter {
  private sink: ((line: string) => void) | undefined;
  constructor(private readonly fallback: (line: string) => void) {}

  readonly notice = (line: string): void => {
    if (this.sink) this.sink(line);
    else this.fallback(line);
  };

  attach(sink: (line: string) => void): () => void {
    this.sink = sink;
    return () => {
      if (this.sink === sink) this.sink = undefined;
    };
  }
}

/** Whether the view is the TUI: asked for (not --no-tui), not --json, and stdout a terminal. */
export function wantsTui(options: { tui?: boolean; json?: boolean }): boolean {
  return options.tui !== false && !options.json && process.stdout.isTTY === true && process.stdin.isTTY === true;
}

export async function launchTui(options: TuiLaunchOptions): Promise<void> {
  const { runTui } = await import('./tui/run-tui.js');
  await runTui({
    subscribe: options.subscribe,
    mode: options.mode,
    ...(options.recording ? { recording: options.recording } : {}),
    ...(options.bufferSize !== undefined ? { bufferSize: options.bufferSize } : {}),
    notices: (sink) => options.notices.attach(sink),
    onQuit: options.onQuit,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
