// `amqp-spy replay FILE`: the recorded bytes go through a fresh tap per connection, in
// recorded order with their recorded times, so replay shows the same events as the live
// session (messages, request/reply latencies, acks, errors), decoded by today's decoder.

import { EventBus, sinkFailureNotices, type EventSink, type SpyEvent } from '../events.js';
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
  /** a sink that may fall behind (stdout not read): reading waits while it is overloaded */
  readonly hold?: OverloadableSink;
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
    sinks = sinks.map((view): EventSink => (e) => { if (matches(e)) view(e); });
  }
  sinks.push(...(options.unfilteredSinks ?? []), () => { events++; });
  const bus = new EventBus(sinks, sinkFailureNotices(warn, options.sinkNames));

  const taps = new Map<number, ConnectionTap>();
  const tapOptions = { showSecrets: options.showSecrets ?? false, keepUndecoded: true };
  const tapFor = (entry: RecordedEntry): ConnectionTap => {
    let tap = taps.get(entry.conn);
    if (!tap) {
      // bytes of a connection whose open line is missing (a lenient skip): decode them anyway
      warn(`${options.path}: line ${entry.line}: connection #${entry.conn} was not opened in the recording`);
      tap = new ConnectionTap(entry.conn, bus, tapOptions);
      taps.set(entry.conn, tap);
    }
    return tap;
  };

  const speed = options.speed ?? 0;
  let firstTs: number | undefined;
  const wallStart = performance.now();
  let connections = 0;
  let entries = 0;
  const hold = options.hold;
  for await (const entry of recording.entries()) {
    if (hold?.overloaded) await new Promise<void>((resolve) => hold.onDrain(resolve));
    if (options.signal?.aborted) break;
    entries++;
    if (speed > 0) {
      firstTs ??= entry.ts;
      const due = (entry.ts - firstTs) / 1000 / speed - (performance.now() - wallStart);
      if (due > 1) await sleep(due);
      if (options.signal?.aborted) break;
    }
    switch (entry.kind) {
      case 'conn.open': {
        if (taps.has(entry.conn)) taps.get(entry.conn)!.close('reopened in the recording', entry.ts);
        taps.set(entry.conn, new ConnectionTap(entry.conn, bus, tapOptions));
        connections++;
        bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: entry.ts, conn: entry.conn, client: entry.client, server: entry.server });
        break;
      }
      case 'conn.close':
        tapFor(entry).close(entry.reason, entry.ts);
        taps.delete(entry.conn);
        break;
      case 'bytes':
        tapFor(entry).feed(entry.dir, entry.raw, entry.ts);
        break;
    }
  }
  if (taps.size > 0 && !options.signal?.aborted) {
    const ids = [...taps.keys()].map((id) => `#${id}`).join(', ');
    warn(`${options.path}: the recording ends while connection${taps.size === 1 ? '' : 's'} ${ids} ${taps.size === 1 ? 'is' : 'are'} open (it was stopped abruptly)`);
  }
  return { header: recording.header, connections, entries, events, matched: filter && !filter.empty ? matched : events, sinkFailures: bus.failures };
}
