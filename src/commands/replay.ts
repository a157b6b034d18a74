// `amqp-spy replay FILE [--to host:port]`: the command around replayRecording / replayTo,
// kept out of cli.ts so the CLI only parses arguments.

import { LineFeed, NoticeRouter, prepareTui } from './tui-launch.js';
import { parseUpstreamAddress } from '../source/address.js';
import { createBodyExporter, prepareExportDir } from '../output/body-files.js';
import { parseFilter, type Filter } from '../view/filter.js';
import { createHeadlessPrinter, type PrinterOutput } from '../view/headless-printer.js';
import { createSummary, plural } from '../view/summary.js';
import { replayRecording, type ReplayProgress } from '../record/replay.js';
import { formatDifference, replayTo, type ReplayTarget } from './replay-to/replay-to.js';

export interface ReplayCommandOptions {
  readonly json?: boolean;
  readonly frames?: boolean;
  /** false with --no-tui */
  readonly tui?: boolean;
  /** events the TUI keeps (--buffer) */
  readonly bufferSize?: number;
  readonly speed?: number;
  readonly filter?: string;
  readonly lenient?: boolean;
  readonly showSecrets?: boolean;
  readonly to?: string;
  readonly timeoutMs?: number;
  readonly insecure?: boolean;
  /** write each (matching) message's body and a sidecar into this directory, instead of showing them */
  readonly exportBodies?: string;
  /** --force: the directory may hold files already */
  readonly force?: boolean;
}

export interface ReplayCommandIo {
  /** stdout: text, or batches of UTF-8 lines from the printer */
  readonly write: (output: string | Uint8Array) => void;
  /** how far behind stdout's reader is: the replay waits for it rather than buffer */
  readonly output?: PrinterOutput;
  readonly notice: (line: string) => void;
  readonly color: boolean;
  /** stdout and stdin are a terminal (the TUI can open) */
  readonly terminal?: boolean;
  /** the terminal the TUI draws on (process.stdin/stdout unless given) */
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
}

/** Resolves with the exit code: 0, or 1 when `--to` found differences. */
export async function runReplayCommand(file: string, options: ReplayCommandOptions, io: ReplayCommandIo): Promise<number> {
  if (options.to !== undefined) return runReplayTo(file, options, io);
  const filter = options.filter !== undefined ? parseFilter(options.filter) : undefined;
  if (options.exportBodies !== undefined) return runExportBodies(file, options.exportBodies, options, filter, io);
  const summary = createSummary();
  const replayOptions = {
    path: file,
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    ...(filter ? { filter } : {}),
    lenient: options.lenient ?? false,
    showSecrets: options.showSecrets ?? false,
    onWarning: (line: string) => io.notice(`warning: ${line}`),
  };
  if (options.tui !== false && !options.json && io.terminal) {
    // the TUI's store is a sink before the replay starts; quitting stops a slow (--speed) replay
    const tui = await prepareTui(options.bufferSize);
    const abort = new AbortController();
    const notices = new NoticeRouter(io.notice);
    // a timed replay says where it is and how long until the next event, in the header
    const progress = new LineFeed();
    let replayError: unknown;
    const ui = tui.draw({
      mode: `replay ${file}`,
      notices,
      progress,
      onQuit: async () => abort.abort(),
      ...(io.stdin ? { stdin: io.stdin } : {}),
      ...(io.stdout ? { stdout: io.stdout } : {}),
    });
    await replayRecording({
      ...replayOptions,
      onWarning: (line) => notices.notice(`warning: ${line}`),
      sinks: [tui.sink],
      sinkNames: ['the terminal UI'],
      unfilteredSinks: [summary.sink],
      signal: abort.signal,
      onProgress: (p) => progress.set(describeProgress(p)),
    }).catch((error: unknown) => {
      replayError = error;
      abort.abort();
    });
    if (replayError === undefined) notices.notice(`replay of ${file} complete: q to quit`);
    await ui;
    if (replayError !== undefined) throw replayError;
    io.notice(summary.text());
    return 0;
  }
  const printer = createHeadlessPrinter({
    write: io.write,
    json: options.json ?? false,
    color: io.color,
    mode: options.frames ? 'frames' : 'messages',
    ...(io.output ? { output: io.output } : {}),
  });
  const result = await replayRecording({
    ...replayOptions,
    sinks: [printer],
    sinkNames: ['the output'],
    unfilteredSinks: [summary.sink],
    hold: printer,
  }).finally(() => printer.flush());
  io.notice(`replayed ${file}${describeOrigin(result.header)}`);
  io.notice(
    `${summary.text()}${filter && !filter.empty ? `; ${result.matched} of ${plural(result.events, 'event')} matched the filter, ${plural(printer.lines(), 'line')} printed` : ''}`,
  );
  return result.sinkFailures > 0 ? 1 : 0;
}

/** `replay FILE --export-bodies DIR`: every (matching) message's body to a file, nothing shown. */
async function runExportBodies(file: string, dir: string, options: ReplayCommandOptions, filter: Filter | undefined, io: ReplayCommandIo): Promise<number> {
  prepareExportDir(dir, options.force ?? false);
  const exporter = createBodyExporter(dir, options.force ?? false);
  let failure: unknown;
  const result = await replayRecording({
    path: file,
    ...(filter ? { filter } : {}),
    lenient: options.lenient ?? false,
    showSecrets: options.showSecrets ?? false,
    onWarning: (line: string) => io.notice(`warning: ${line}`),
    // a failed write stops the export with its one line, rather than one notice per message
    sinks: [
      (e) => {
        if (failure !== undefined) return;
        try {
          exporter.sink(e);
        } catch (error) {
          failure = error;
        }
      },
    ],
    sinkNames: ['the export'],
  });
  if (failure !== undefined) throw failure;
  io.notice(
    `exported ${plural(exporter.count, 'message body', 'message bodies')} from ${file} to ${dir}${filter && !filter.empty ? ` (${result.matched} of ${plural(result.events, 'event')} matched the filter)` : ''}`,
  );
  return 0;
}

/** `123/553 events, next in 2.1 s` (the total once counted; `?` until then). */
export function describeProgress(p: ReplayProgress): string {
  const position = `${p.done.toLocaleString('en-US')}/${p.total === undefined ? '?' : p.total.toLocaleString('en-US')} events`;
  if (p.finished) return `${position}, complete`;
  if (p.nextInMs === undefined) return position;
  const seconds = p.nextInMs / 1000;
  const wait = seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s`;
  return `${position}, next in ${wait}`;
}

/** ": recorded <when> by <tool>, <listen> → <upstream>", with only what the header holds. */
function describeOrigin(h: { readonly started?: string; readonly tool?: string; readonly listen?: string; readonly upstream?: string }): string {
  const recorded = [h.started !== undefined ? `recorded ${h.started}` : undefined, h.tool !== undefined ? `by ${h.tool}` : undefined]
    .filter((p) => p !== undefined)
    .join(' ');
  const where = h.listen !== undefined ? `${h.listen}${h.upstream !== undefined ? ` → ${h.upstream}` : ''}` : h.upstream;
  const parts = [recorded, where].filter((p) => p !== undefined && p !== '');
  return parts.length > 0 ? `: ${parts.join(', ')}` : '';
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
    ...(options.speed !== undefined ? { speed: options.speed } : {}),
    onWarning: (line) => io.notice(`warning: ${line}`),
    onDifference: (d) => io.write(`${options.json ? JSON.stringify(d) : `difference ${formatDifference(d)}`}\n`),
  });
  const n = result.differences.length;
  if (result.servers) io.notice(`note: recorded against ${result.servers.recorded}, replayed to ${result.servers.now}`);
  io.notice(
    `replayed ${result.connections} connection${result.connections === 1 ? '' : 's'} to ${options.to}: ${result.framesSent} frames sent, ${result.compared} server frames compared` +
      `${result.confirmsCompared > 0 ? `, ${result.confirmsCompared} publisher confirms compared` : ''}` +
      `${result.skipped > 0 ? `, ${result.skipped} frames skipped after divergence` : ''}: ${n === 0 ? 'no differences' : `${n} difference${n === 1 ? '' : 's'}`}`,
  );
  return n === 0 ? 0 : 1;
}
