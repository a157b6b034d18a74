// `amqp-spy replay FILE`: the recorded bytes go through a fresh tap per connection, in
// recorded order with their recorded times, so replay shows the same events as the live
// session (messages, request/reply latencies, acks, errors), decoded by today's decoder.

import { EventBus, sinkFailureNotices, type DecodeErrorEvent, type EventSink, type SpyEvent } from '../events.js';
import { ConnectionTap } from '../tap/connection-tap.js';
import type { OverloadableSink } from '../tap/tap-observer.js';
import type { Filter } from '../view/filter.js';
import { openRecording, type ReadRecordingHeader, type RecordedEntry } from './recording-reader.js';

export interface ReplayOptions {
  readonly path: string;
  /** the views: they get the events the filter matches */
  readonly sinks: readonly EventSink[];
  /** the sinks' names for notices when one fails on an event */
  readonly sinkNames?: readonly string[];
  /** sinks that see every event whatever the filter (the summary describes the whole session) */
  readonly unfilteredSinks?: readonly EventSink[];
  /** real time scaled by this factor; undefined or 0: all at once */
  readonly speed?: number;
  /** only events it matches reach the sinks */
  readonly filter?: Filter;
  readonly lenient?: boolean;
  /** show credentials (only present in recordings made with --record-secrets) */
  readonly showSecrets?: boolean;
  readonly onWarning?: (line: string) => void;
  /** called with the header before the first event */
  readonly onHeader?: (header: ReadRecordingHeader) => void;
  /** stops replay early (e.g. the TUI quit) */
  readonly signal?: AbortSignal;
  /**
   * Where a timed (`speed`) replay is: called while it waits (at least every WAIT_SLICE_MS,
   * with the time left), at most every PROGRESS_INTERVAL_MS otherwise, and once at the end.
   */
  readonly onProgress?: (progress: ReplayProgress) => void;
  /** a sink that may fall behind (stdout not read): reading waits while it is overloaded */
  readonly hold?: OverloadableSink;
}

export interface ReplayProgress {
  /** entries (recorded events) replayed so far */
  readonly done: number;
  /** entries in the recording, once counted (a second read of the file, beside the replay) */
  readonly total: number | undefined;
  /** ms until the next entry is due, while replay waits for it */
  readonly nextInMs: number | undefined;
  readonly finished: boolean;
}

export interface ReplayResult {
  readonly header: ReadRecordingHeader;
  readonly connections: number;
  /** entries read from the file (not counting derived lines) */
  readonly entries: number;
  /** events emitted (before filtering) */
  readonly events: number;
  /** events the filter matched (all of them without a filter) */
  readonly matched: number;
  /** events some sink failed on (each is missing from that sink only) */
  readonly sinkFailures: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A long wait is slept in slices: progress counts down, and a quit is not kept waiting. */
const WAIT_SLICE_MS = 250;
const PROGRESS_INTERVAL_MS = 200;

/** Entries in a recording, read beside the replay; undefined when it cannot be read (the replay says why). */
async function countEntries(path: string, lenient: boolean, signal: AbortSignal | undefined): Promise<number | undefined> {
  try {
    const recording = await openRecording(path, { lenient, onWarning: () => {} });
    let n = 0;
    for await (const _entry of recording.entries()) {
      if (signal?.aborted) return undefined;
      n++;
    }
    return n;
  } catch {
    return undefined;
  }
}

export async function replayRecording(options: ReplayOptions): Promise<ReplayResult> {
  const warn = options.onWarning ?? (() => {});
  const recording = await openRecording(options.path, { lenient: options.lenient ?? false, onWarning: warn });
  options.onHeader?.(recording.header);
  let events = 0;
  const filter = options.filter;
  let matched = 0;
  // views first, so the bus's sink numbers are sinkNames' indexes
  let sinks: EventSink[] = [...options.sinks];
  if (filter && !filter.empty) {
    // the filter runs once per event, whatever the number of views
    let lastSeq = -1;
    let lastMatch = false;
    const matches = (e: SpyEvent): boolean => {
      if (e.seq !== lastSeq) {
        lastSeq = e.seq;
        lastMatch = filter.matches(e);
        if (lastMatch) matched++;
      }
      return lastMatch;
    };
    sinks = sinks.map(
      (view): EventSink =>
        (e) => {
          if (matches(e)) view(e);
        },
    );
  }
  sinks.push(...(options.unfilteredSinks ?? []), () => {
    events++;
  });
  const bus = new EventBus(sinks, sinkFailureNotices(warn, options.sinkNames));

  const decoder = new RecordingDecoder(options.path, bus, { showSecrets: options.showSecrets ?? false }, warn);

  const speed = options.speed ?? 0;
  let firstTs: number | undefined;
  const wallStart = performance.now();
  let entries = 0;
  // progress is for timed replays: one at full speed is over before it could be read
  const onProgress = speed > 0 ? options.onProgress : undefined;
  let total: number | undefined;
  if (onProgress)
    void countEntries(options.path, options.lenient ?? false, options.signal).then((n) => {
      total = n;
    });
  let progressAt = -Infinity;
  const progress = (nextInMs: number | undefined, finished = false) => {
    progressAt = performance.now();
    onProgress?.({ done: entries, total, nextInMs, finished });
  };
  const hold = options.hold;
  for await (const entry of recording.entries()) {
    if (hold?.overloaded) await new Promise<void>((resolve) => hold.onDrain(resolve));
    if (options.signal?.aborted) break;
    if (speed > 0) {
      firstTs ??= entry.ts;
      const dueAt = wallStart + (entry.ts - firstTs) / 1000 / speed;
      let due = dueAt - performance.now();
      while (due > 1 && !options.signal?.aborted) {
        progress(due);
        await sleep(Math.min(due, WAIT_SLICE_MS));
        due = dueAt - performance.now();
      }
      if (options.signal?.aborted) break;
    }
    entries++;
    if (onProgress && performance.now() - progressAt >= PROGRESS_INTERVAL_MS) progress(undefined);
    decoder.feed(entry);
  }
  if (onProgress && !options.signal?.aborted) progress(undefined, true);
  if (!options.signal?.aborted) decoder.end();
  return {
    header: recording.header,
    connections: decoder.connections,
    entries,
    events,
    matched: filter && !filter.empty ? matched : events,
    sinkFailures: bus.failures,
  };
}

/**
 * A recording's entries back to events: a fresh tap per connection, fed the recorded bytes in
 * file order with their recorded times. Replay and the package API's openRecording share it.
 */
export class RecordingDecoder {
  readonly #taps = new Map<number, ConnectionTap>();
  /** where decoding stopped, by conn and dir, in case the bytes after it were withheld */
  readonly #stops = new Map<string, DecodeErrorEvent['error']>();
  readonly #tapOptions: { readonly showSecrets: boolean; readonly keepUndecoded: true };
  /** connections opened so far */
  connections = 0;

  constructor(
    private readonly path: string,
    private readonly bus: EventBus,
    options: { readonly showSecrets: boolean },
    private readonly warn: (line: string) => void,
  ) {
    this.#tapOptions = { showSecrets: options.showSecrets, keepUndecoded: true };
  }

  #tapFor(entry: RecordedEntry): ConnectionTap {
    let tap = this.#taps.get(entry.conn);
    if (!tap) {
      // bytes of a connection whose open line is missing (a lenient skip): decode them anyway
      this.warn(`${this.path}: line ${entry.line}: connection #${entry.conn} was not opened in the recording`);
      tap = new ConnectionTap(entry.conn, this.bus, this.#tapOptions);
      this.#taps.set(entry.conn, tap);
    }
    return tap;
  }

  /** Emits the events one entry stands for on the bus. */
  feed(entry: RecordedEntry): void {
    const { bus } = this;
    switch (entry.kind) {
      case 'conn.open': {
        this.#taps.get(entry.conn)?.close('reopened in the recording', entry.ts);
        this.#taps.set(entry.conn, new ConnectionTap(entry.conn, bus, this.#tapOptions));
        this.#stops.delete(`${entry.conn} c2s`);
        this.#stops.delete(`${entry.conn} s2c`);
        this.connections++;
        bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: entry.ts, conn: entry.conn, client: entry.client, server: entry.server });
        break;
      }
      case 'conn.close':
        // worded again from how the sockets ended and the handshake the bytes show
        this.#tapFor(entry).close(entry.socket ?? entry.reason, entry.ts);
        this.#taps.delete(entry.conn);
        break;
      case 'bytes':
        this.#tapFor(entry).feed(entry.dir, entry.raw, entry.ts, entry.fault, entry.omitted);
        break;
      case 'decode.stop':
        this.#stops.set(`${entry.conn} ${entry.dir}`, entry.error);
        break;
      case 'withheld': {
        const key = `${entry.conn} ${entry.dir}`;
        this.#tapFor(entry).feedWithheld(entry.dir, entry.length, entry.ts, this.#stops.get(key));
        this.#stops.delete(key);
        break;
      }
    }
  }

  /** The recording is over: warns about connections it left open. */
  end(): void {
    const taps = this.#taps;
    if (taps.size === 0) return;
    const ids = [...taps.keys()].map((id) => `#${id}`).join(', ');
    this.warn(
      `${this.path}: the recording ends while connection${taps.size === 1 ? '' : 's'} ${ids} ${taps.size === 1 ? 'is' : 'are'} open (it was stopped abruptly)`,
    );
  }
}
