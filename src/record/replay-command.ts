// `amqp-spy replay FILE [--to host:port]`: the command around replayRecording / replayTo,
// kept out of cli.ts so the CLI only parses arguments.

import type { EventSink } from '../events.js';
import { parseUpstreamAddress } from '../proxy/address.js';
import { parseFilter } from '../view/filter.js';
import { createHeadlessPrinter } from '../view/headless-printer.js';
import { createSummary } from '../view/summary.js';
import { replayRecording } from './replay.js';
import { formatDifference, replayTo, type ReplayTarget } from './replay-to.js';

export interface ReplayCommandOptions {
  readonly json?: boolean;
  readonly frames?: boolean;
  /** false with --no-tui */
  readonly tui?: boolean;
  readonly speed?: number;
  readonly filter?: string;
  readonly lenient?: boolean;
  readonly showSecrets?: boolean;
  readonly to?: string;
  readonly timeoutMs?: number;
  readonly insecure?: boolean;
}

export interface ReplayCommandIo {
  readonly write: (text: string) => void;
  readonly notice: (line: string) => void;
  readonly color: boolean;
}

/** Resolves with the exit code: 0, or 1 when `--to` found differences. */
export async function runReplayCommand(file: string, options: ReplayCommandOptions, io: ReplayCommandIo): Promise<number> {
  if (options.to !== undefined) return runReplayTo(file, options, io);
  const filter = options.filter !== undefined ? parseFilter(options.filter) : undefined;
  const summary = createSummary();
  // TUI: when options.tui !== false && !options.json && stdout is a terminal, this is where
  // runTui (src/tui/run-tui.ts, imported lazily) opens: runTui({ subscribe, mode: `replay ${file}`,
  // onQuit: () => abort the replay }) subscribed before replayRecording({ sinks: [its sink],
  // signal }) starts. Until the lead wires it, and always with --no-tui or --json, replay prints
  // like the live headless output.
  const printer: EventSink = createHeadlessPrinter({
    write: io.write,
    json: options.json ?? false,
    color: io.color,
    mode: options.frames ? 'frames' : 'messages',
  });
  const result = await replayRecording({
    path: file,
    sinks: [summary.sink, printer],
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    ...(filter ? { filter } : {}),
    lenient: options.lenient ?? false,
    showSecrets: options.showSecrets ?? false,
    onWarning: (line) => io.notice(`warning: ${line}`),
  });
  const h = result.header;
  io.notice(`replayed ${file}: recorded ${h.started} by ${h.tool}, ${h.listen}${h.upstream !== undefined ? ` → ${h.upstream}` : ''}`);
  io.notice(summary.text());
  return 0;
}

function parseTarget(input: string): ReplayTarget {
  const address = parseUpstreamAddress(input, '--to');
  let username: string | undefined;
  let password: string | undefined;
  if (/^amqps?:\/\//i.test(input)) {
    const url = new URL(input);
    if (url.username !== '') username = decodeURIComponent(url.username);
    if (url.password !== '') password = decodeURIComponent(url.password);
  }
  return { ...address, ...(username !== undefined ? { username } : {}), ...(password !== undefined ? { password } : {}) };
}

async function runReplayTo(file: string, options: ReplayCommandOptions, io: ReplayCommandIo): Promise<number> {
  const target = parseTarget(options.to!);
  const result = await replayTo({
    path: file,
    target,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    lenient: options.lenient ?? false,
    insecure: options.insecure ?? false,
    onWarning: (line) => io.notice(`warning: ${line}`),
    onDifference: (d) => io.write(`${options.json ? JSON.stringify(d) : `difference ${formatDifference(d)}`}\n`),
  });
  const n = result.differences.length;
  io.notice(
    `replayed ${result.connections} connection${result.connections === 1 ? '' : 's'} to ${options.to}: ${result.framesSent} frames sent, ${result.compared} server frames compared` +
      `${result.skipped > 0 ? `, ${result.skipped} frames skipped after divergence` : ''}: ${n === 0 ? 'no differences' : `${n} difference${n === 1 ? '' : 's'}`}`,
  );
  return n === 0 ? 0 : 1;
}
