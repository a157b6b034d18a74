// `amqp-spy read CAPTURE`: a pcap or pcapng file through the same taps and views as replay
// (TUI, headless text, --json, --filter), and `--record` to convert it to a recording.

import fs from 'node:fs';
import { CaptureFormatError } from '../capture/capture-file.js';
import { isPcap } from '../source/pcap.js';
import { readCapture, type CaptureReadResult } from '../capture/read-capture.js';
import { EventBus, sinkFailureNotices, type EventSink, type SpyEvent } from '../events.js';
import { createSessionRecorder, type Recorder } from '../record/recorder.js';
import { describeFsError } from '../source/errno.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { anyOverloaded, createTapObserver, type OverloadableSink } from '../tap/tap-observer.js';
import { VERSION } from '../version.js';
import { parseFilter, type Filter } from '../view/filter.js';
import { createHeadlessPrinter, type PrinterOutput } from '../view/headless-printer.js';
import { createSummary, plural } from '../view/summary.js';
import { UsageError } from '../errors.js';
import { InputFileError } from './decode.js';
import { NoticeRouter, prepareTui } from './tui-launch.js';

export interface CaptureViewOptions {
  readonly json?: boolean;
  readonly frames?: boolean;
  /** false with --no-tui */
  readonly tui?: boolean;
  readonly bufferSize?: number;
  readonly filter?: string;
  readonly showSecrets?: boolean;
  /** convert: write a recording of what was read */
  readonly record?: string;
  readonly recordSecrets?: boolean;
  /** server ports of connections the capture joined mid-stream */
  readonly ports?: readonly number[];
}

export interface CaptureViewIo {
  readonly write: (output: string | Uint8Array) => void;
  readonly output?: PrinterOutput;
  readonly notice: (line: string) => void;
  readonly color: boolean;
  /** stdout and stdin are a terminal (the TUI can open) */
  readonly terminal?: boolean;
  readonly stdin?: NodeJS.ReadStream;
  readonly stdout?: NodeJS.WriteStream;
}

/** What feeds the capture views: a file or tcpdump's output, read until it ends or `signal` stops it. */
export interface CaptureInput {
  /** for the TUI's header and the recording's `listen` */
  readonly name: string;
  readonly mode: string;
  readonly read: (
    observer: ByteObserver,
    hold: OverloadableSink | undefined,
    signal: AbortSignal,
    notice: (line: string) => void,
  ) => Promise<CaptureReadResult>;
  /** a live input keeps the TUI up after it ends only until quit; a file says it is complete */
  readonly live: boolean;
}

/** Resolves with the exit code: 0, or 1 when some event failed to reach a view or the recording. */
export async function runReadCommand(file: string, options: CaptureViewOptions, io: CaptureViewIo): Promise<number> {
  const handle = await openCapture(file);
  const input: CaptureInput = {
    name: file,
    mode: `capture ${file}`,
    live: false,
    read: (observer, hold, signal, notice) =>
      readCapture({
        source: file,
        input: handle.createReadStream({ highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>,
        observer,
        notice,
        signal,
        ...(hold ? { hold } : {}),
        ...(options.ports !== undefined ? { ports: options.ports } : {}),
      }),
  };
  return runCaptureViews(input, options, io);
}

/** Opens the file, refusing one that is not a capture with one line. */
async function openCapture(path: string): Promise<fs.promises.FileHandle> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (error) {
    throw new InputFileError(path, `cannot read ${path}: ${describeFsError(error)}`);
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) throw new InputFileError(path, `cannot read ${path}: it is a directory`);
  const head = Buffer.alloc(4);
  const { bytesRead } = await handle.read(head, 0, 4, 0);
  if (bytesRead < 4) throw new CaptureFormatError(path, 0, 'is empty or too short to be a capture');
  if (!isPcap(head)) {
    const hint =
      head.toString('latin1') === 'AMQP' || head[0] === 1
        ? ' (raw AMQP bytes: use amqp-spy decode)'
        : head[0] === 0x7b
          ? ' (a recording? use amqp-spy replay)'
          : '';
    throw new CaptureFormatError(path, 0, `is not a pcap or pcapng capture${hint}`);
  }
  return handle;
}

/** The capture through taps to the views the options ask for; shared by `read` and `--sniff`. */
export async function runCaptureViews(input: CaptureInput, options: CaptureViewOptions, io: CaptureViewIo): Promise<number> {
  const filter = options.filter !== undefined ? parseFilter(options.filter) : undefined;
  const summary = createSummary();
  const notices = new NoticeRouter(io.notice);
  // a file's recording starts when its capture did: the header is written at the first event
  let firstTs: number | undefined;
  const recorder: Recorder | undefined =
    options.record !== undefined
      ? createSessionRecorder({
          path: options.record,
          keepSecrets: options.recordSecrets ?? false,
          mode: 'capture',
          tool: `amqp-spy ${VERSION}`,
          notice: notices.notice,
          listen: input.name,
          ...(input.live ? {} : { startedMicros: () => firstTs ?? Date.now() * 1000 }),
        })
      : undefined;
  // `--record -`: stdout carries the recording, so no view prints there
  const recordToStdout = options.record === '-';
  if (recordToStdout && (options.json || options.frames))
    throw new UsageError(`--record - puts the recording on stdout, so ${options.json ? '--json' : '--frames'} has nowhere to print`);
  const useTui = options.tui !== false && !options.json && io.terminal === true && !recordToStdout;
  const tui = useTui ? await prepareTui(options.bufferSize) : undefined;
  const printer =
    tui || recordToStdout
      ? undefined
      : createHeadlessPrinter({
          write: io.write,
          json: options.json ?? false,
          color: io.color,
          mode: options.frames ? 'frames' : 'messages',
          ...(io.output ? { output: io.output } : {}),
        });
  const views: EventSink[] = tui ? [tui.sink] : printer ? [printer] : [];
  const viewNames = [tui ? 'the terminal UI' : 'the output'];
  const filtered = filterViews(views, filter);
  const recordSink: EventSink | undefined = recorder
    ? (event) => {
        if (firstTs === undefined) {
          firstTs = event.ts;
          recorder.open();
        }
        recorder.sink(event);
      }
    : undefined;
  const sinks = [...filtered.sinks, summary.sink, ...(recordSink ? [recordSink] : [])];
  const bus = new EventBus(sinks, sinkFailureNotices(notices.notice, [...viewNames, 'the summary', 'the recorder']));
  const observer = createTapObserver(bus, {
    showSecrets: options.showSecrets ?? false,
    keepSecrets: options.recordSecrets ?? false,
    keepUndecoded: true,
    // a capture may join a connection after its tune-ok: no handshake limit
    frameMaxUntilTuneOk: 0,
  });
  const holds: OverloadableSink[] = [...(printer ? [printer] : []), ...(recorder ? [recorder] : [])];
  const hold = holds.length > 0 ? anyOverloaded(holds) : undefined;
  // a live capture's recording starts now; a file's at its first event (above)
  if (input.live) {
    firstTs = Date.now() * 1000;
    recorder?.open();
  }
  const abort = new AbortController();
  const stopOnSignal = () => abort.abort();
  process.once('SIGINT', stopOnSignal).once('SIGTERM', stopOnSignal);
  let result: CaptureReadResult | undefined;
  try {
    if (tui) {
      let readError: unknown;
      const ui = tui.draw({ mode: input.mode, notices, onQuit: async () => abort.abort(), signal: abort.signal });
      result = await input.read(observer, hold, abort.signal, notices.notice).catch((error: unknown) => {
        readError = error;
        return undefined;
      });
      if (readError !== undefined) {
        abort.abort();
        await ui;
        throw readError;
      }
      if (result && !input.live) notices.notice(`${input.name} read: ${describeCaptureCounters(result)}; q to quit`);
      await ui;
    } else {
      result = await input.read(observer, hold, abort.signal, notices.notice).finally(() => printer?.flush());
    }
  } finally {
    process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
    // a capture without AMQP still leaves a recording (its header)
    recorder?.open();
    await recorder?.close();
  }
  io.notice(`${input.name}: ${describeCaptureCounters(result!)}`);
  io.notice(
    `${summary.text()}${filter && !filter.empty ? `; ${filtered.matched()} of ${plural(filtered.seen(), 'event')} matched the filter${printer ? `, ${plural(printer.lines(), 'line')} printed` : ''}` : ''}`,
  );
  const lost = bus.failures + (recorder?.eventsLost ?? 0);
  if (recorder?.error) io.notice(`${recorder.error.message}: ${plural(recorder.eventsLost, 'event')} not recorded`);
  return lost > 0 ? 1 : 0;
}

/** The views behind the filter: it runs once per event whatever the number of views. */
function filterViews(views: readonly EventSink[], filter: Filter | undefined): { sinks: EventSink[]; matched: () => number; seen: () => number } {
  let seen = 0;
  let matched = 0;
  if (!filter || filter.empty) return { sinks: [...views], matched: () => seen, seen: () => seen };
  let lastSeq = -1;
  let lastMatch = false;
  const matches = (e: SpyEvent): boolean => {
    if (e.seq !== lastSeq) {
      lastSeq = e.seq;
      seen++;
      lastMatch = filter.matches(e);
      if (lastMatch) matched++;
    }
    return lastMatch;
  };
  return {
    sinks: views.map(
      (view): EventSink =>
        (e) => {
          if (matches(e)) view(e);
        },
    ),
    matched: () => matched,
    seen: () => seen,
  };
}

/** One line on what the capture held beside the AMQP shown: `12,034 packets, 3 AMQP connections (1 mid-stream), ...`. */
export function describeCaptureCounters(result: CaptureReadResult): string {
  const c = result.counters;
  const parts = [
    `${plural(c.packets, 'packet')}`,
    `${plural(c.amqpConnections, 'AMQP connection')}${c.midStreamConnections > 0 ? ` (${c.midStreamConnections} already open when the capture started)` : ''}`,
  ];
  if (c.tlsConnections > 0) parts.push(`${plural(c.tlsConnections, 'TLS connection')} not decodable`);
  if (c.otherConnections > 0) parts.push(`${plural(c.otherConnections, 'other TCP connection')} ignored`);
  if (c.unfollowedConnections > 0) parts.push(`${plural(c.unfollowedConnections, 'connection')} not followed (too many open at once)`);
  if (c.gaps > 0) parts.push(`${plural(c.gaps, 'gap')} in the streams (${plural(c.lostBytes, 'byte')} not captured)`);
  if (c.truncatedPackets > 0) parts.push(`${plural(c.truncatedPackets, 'packet')} cut by the snaplen`);
  if (c.retransmitted > 0) parts.push(`${plural(c.retransmitted, 'retransmission')}`);
  if (c.overlapping > 0) parts.push(`${plural(c.overlapping, 'overlapping segment')}`);
  if (c.outOfOrder > 0) parts.push(`${plural(c.outOfOrder, 'segment')} out of order`);
  if (c.fragments > 0) parts.push(`${plural(c.fragments, 'IP fragment')} not reassembled`);
  if (c.unknownLinkType > 0) parts.push(`${plural(c.unknownLinkType, 'packet')} of an unsupported link type`);
  if (result.budgetRefusals > 0) parts.push(`out-of-order buffering hit its memory bound ${plural(result.budgetRefusals, 'time')}`);
  return parts.join(', ');
}
