// openRecording(): a recording file as typed events, decoded again from its bytes the way
// `amqp-spy replay` shows it (messages, request/reply pairing, errors), for assertions on files.

import { EventBus, type SpyEvent } from '../events.js';
import { openRecording as openRecordingFile, type ReadRecordingHeader } from '../record/recording-reader.js';
import { RecordingDecoder } from '../record/replay.js';
import { parseFilter } from '../view/filter.js';
import { isMessagePart, type EventPredicate } from './session-events.js';

export interface OpenRecordingOptions {
  /** skip corrupt lines (each one told to onWarning) instead of rejecting on the first */
  readonly lenient?: boolean;
  /** show credentials (present only in recordings made with recordSecrets / --record-secrets) */
  readonly showSecrets?: boolean;
  /**
   * Only the events a filter string (the TUI's language; a message is one event, as the
   * headless output shows it, not its frames) or a predicate (every event) matches.
   */
  readonly filter?: string | EventPredicate;
  /** one line per oddity (a corrupt line skipped, a connection left open); default: ignored */
  readonly onWarning?: (line: string) => void;
}

/** A recording's events, read from the file each time it is iterated (memory stays bounded). */
export interface RecordingEvents extends AsyncIterable<SpyEvent> {
  readonly path: string;
  /** the header line: the tool, when it started, proxy or standalone, the addresses */
  readonly header: ReadRecordingHeader;
  /** every (matching) event in an array: for recordings small enough to hold */
  toArray(): Promise<SpyEvent[]>;
}

/**
 * Opens a recording (`record` option, `--record FILE`); rejects with RecordingError when the
 * file is not one. Iterating rejects with RecordingError at a corrupt line unless `lenient`.
 */
export async function openRecording(path: string, options: OpenRecordingOptions = {}): Promise<RecordingEvents> {
  const warn = options.onWarning ?? (() => {});
  const filter = typeof options.filter === 'string' ? parseFilter(options.filter) : undefined;
  const matches: EventPredicate | undefined = filter
    ? (e) => !isMessagePart(e) && filter.matches(e)
    : typeof options.filter === 'function'
      ? options.filter
      : undefined;
  const recording = await openRecordingFile(path, { lenient: options.lenient ?? false, onWarning: warn });
  async function* events(): AsyncGenerator<SpyEvent> {
    // each entry's events are collected, then handed out: one entry's worth is held at a time
    const batch: SpyEvent[] = [];
    const bus = new EventBus([(event) => batch.push(event)]);
    const decoder = new RecordingDecoder(path, bus, { showSecrets: options.showSecrets ?? false }, warn);
    for await (const entry of recording.entries()) {
      decoder.feed(entry);
      for (const event of batch) if (!matches || matches(event)) yield event;
      batch.length = 0;
    }
    decoder.end();
  }
  return {
    path,
    header: recording.header,
    [Symbol.asyncIterator]: events,
    toArray: async () => {
      const all: SpyEvent[] = [];
      for await (const event of events()) all.push(event);
      return all;
    },
  };
}
