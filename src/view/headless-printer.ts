// The headless sink: one line per event as text (greppable, coloured only on a terminal) or
// as NDJSON in the recording schema. In 'messages' mode a message's content frames are
// folded into its one message line; in 'frames' mode every frame gets its line.
// Lines are batched: one write per event-loop turn (or per 256 KB), not one per event —
// stdout to a file is a synchronous syscall per write.

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

const BATCH_BYTES = 256 * 1024;

export function createHeadlessPrinter(options: HeadlessPrinterOptions): HeadlessPrinter {
  const mode = options.mode ?? 'messages';
  const lineOptions = { color: options.color ?? false, position: options.position ?? 'clock' };
  const hideHeartbeats = options.hideHeartbeats ?? false;
  // lines are encoded into a batch buffer as they come (cheaper than joining strings)
  let batch = Buffer.allocUnsafe(BATCH_BYTES);
  let fill = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (fill === 0) return;
    const chunk = batch.subarray(0, fill);
    // a fresh buffer: the writer may hold on to the chunk
    batch = Buffer.allocUnsafe(BATCH_BYTES);
    fill = 0;
    options.write(chunk);
  };
  const sink = (event: SpyEvent) => {
    if (!shouldPrint(event, mode, hideHeartbeats)) return;
    const line = options.json ? stringifyEvent(event) : formatEventLine(event, lineOptions);
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    const most = line.length * 3 + 1;
    if (fill + most > batch.length) {
      flush();
      if (most > batch.length) batch = Buffer.allocUnsafe(most);
    }
    fill += batch.write(line, fill, 'utf8');
    batch[fill++] = 0x0a;
    if (fill >= BATCH_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
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
