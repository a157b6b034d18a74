// Opens the TUI (imported lazily: ink costs ~300 ms to load) over an event source, and routes
// one-line notices to its status line while it is up.

import type { BodyOptions } from '../body/shared-decoder.js';
import type { EventSink } from '../events.js';
import type { ByteObserver } from '../source/byte-observer.js';

import { LineFeed, NoticeRouter, type TuiDrawOptions } from '../tui/draw-options.js';

export { LineFeed, NoticeRouter, type TuiDrawOptions };

export interface PreparedTui {
  /** the TUI's sink: attach it with every other sink before the source starts */
  readonly sink: EventSink;
  /** draws until the user quits (loads ink first); resolves once the terminal is restored */
  draw(options: TuiDrawOptions): Promise<void>;
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
  const { openTui } = await import('../tui/run-tui.js');
  const tui = openTui(bufferSize);
  return {
    sink: tui.sink,
    draw: (options) => {
      options.notices.holdForTui();
      return tui
        .draw({
          mode: options.mode,
          ...(options.recording ? { recording: options.recording } : {}),
          notices: (sink) => options.notices.attach(sink),
          ...(options.progress ? { progress: (sink: (line: string | undefined) => void) => options.progress!.attach(sink) } : {}),
          onQuit: options.onQuit,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.stdin ? { stdin: options.stdin } : {}),
          ...(options.stdout ? { stdout: options.stdout } : {}),
        })
        .finally(() => options.notices.release());
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
export async function prepareLiveTui(bufferSize: number | undefined, showSecrets: boolean, bodies?: BodyOptions, filter?: string): Promise<PreparedLiveTui> {
  const { startTuiWorker } = await import('../tui/worker/tui-worker-host.js');
  const worker = startTuiWorker({
    ...(bufferSize !== undefined ? { bufferSize } : {}),
    showSecrets,
    ...(bodies !== undefined ? { bodies } : {}),
    ...(filter !== undefined ? { filter } : {}),
  });
  return { observer: worker.observer, draw: (options) => worker.draw(options) };
}
