// The headless sink: one line per event as text (greppable, coloured only on a terminal) or
// as NDJSON in the recording schema. In 'messages' mode a message's content frames are
// folded into its one message line; in 'frames' mode every frame gets its line.
// Lines are batched: one write per 10 ms (or per 256 KB), not one per event — stdout to a
// file is a synchronous syscall per write.

import type { EventSink, SpyEvent } from '../events.js';
import { stringifyEvent } from '../record/event-json.js';
import { formatEventLine } from './format.js';

export interface HeadlessPrinterOptions {
  /** takes a batch of whole lines, UTF-8; the printer never touches the bytes again */
  readonly write: (chunk: Uint8Array) => void;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly mode?: 'frames' | 'messages';
  readonly position?: 'clock' | 'offset';
  readonly hideHeartbeats?: boolean;
}

/** A sink that also writes out what it holds on `flush()` (call it before exiting). */
export type HeadlessPrinter = EventSink & { flush(): void };

const BATCH_BYTES = 1024 * 1024;
/** written at once when this much is waiting, else within FLUSH_DELAY_MS (too short to see) */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_DELAY_MS = 10;

export function createHeadlessPrinter(options: HeadlessPrinterOptions): HeadlessPrinter {
  const mode = options.mode ?? 'messages';
  const lineOptions = { color: options.color ?? false, position: options.position ?? 'clock' };
  const hideHeartbeats = options.hideHeartbeats ?? false;
  // Lines are encoded into a large buffer as they come (cheaper than joining strings); each
  // write takes [start, fill) and later lines go after it, so a writer may keep its chunk.
  let batch = Buffer.allocUnsafe(BATCH_BYTES);
  let start = 0;
  let fill = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (fill === start) return;
    const chunk = batch.subarray(start, fill);
    start = fill;
    options.write(chunk);
  };
  const sink = (event: SpyEvent) => {
    if (!shouldPrint(event, mode, hideHeartbeats)) return;
    const line = options.json ? stringifyEvent(event) : formatEventLine(event, lineOptions);
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    const most = line.length * 3 + 1;
    if (fill + most > batch.length) {
      flush();
      batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, most));
      start = fill = 0;
    }
    fill += batch.write(line, fill, 'utf8');
    batch[fill++] = 0x0a;
    if (fill - start >= FLUSH_BYTES) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_DELAY_MS);
      timer.unref(); // the owner flushes before exiting
    }
  };
  return Object.assign(sink, { flush });
}

function shouldPrint(event: SpyEvent, mode: 'frames' | 'messages', hideHeartbeats: boolean): boolean {
  if (event.kind === 'message') return mode === 'messages';
  if (event.kind !== 'frame') return true;
  if (event.frame.type === 'heartbeat') return !hideHeartbeats;
  if (mode === 'frames') return true;
  // in message mode the content method, header and body frames are shown by the message line
  return event.frame.type === 'method' && !event.frame.method.spec.content;
}
