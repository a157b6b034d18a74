// The headless sink: one line per event as text (greppable, coloured only on a terminal) or
// as NDJSON in the recording schema. In 'messages' mode a message's content frames are
// folded into its one message line; in 'frames' mode every frame gets its line.
// Lines are batched: one write per 10 ms (or per 256 KB), not one per event — stdout to a
// file is a synchronous syscall per write.

import type { EventSink, SpyEvent } from '../events.js';
import { stringifyEvent } from '../record/event-json.js';
import { LineBuffers } from '../record/line-buffers.js';
import { writeEventLine } from './line-bytes.js';
import { formatDuration, formatValue } from './format.js';
import { RpcPairing } from './later-facts.js';

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
export type HeadlessPrinter = EventSink & {
  flush(): void;
  /** lines printed so far */
  lines(): number;
};

const BATCH_BYTES = 1024 * 1024;
/** written at once when this much is waiting, else within FLUSH_DELAY_MS (too short to see) */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_DELAY_MS = 10;

export function createHeadlessPrinter(options: HeadlessPrinterOptions): HeadlessPrinter {
  const mode = options.mode ?? 'messages';
  const lineOptions = { color: options.color ?? false, position: options.position ?? 'clock' };
  const hideHeartbeats = options.hideHeartbeats ?? false;
  // lines are encoded into large buffers as they come (cheaper than joining strings); the
  // regions handed to `write` are never written again, so a writer may keep its chunk
  const out = new LineBuffers(BATCH_BYTES);
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    out.seal();
    for (const chunk of out.takeSealed().buffers) options.write(chunk);
  };
  let lines = 0;
  // a reply comes after its request, so its line can say so (text lines; JSON has correlation-id)
  const rpc = options.json ? undefined : new RpcPairing();
  const sink = (event: SpyEvent) => {
    const reply = rpc !== undefined && event.kind === 'message' ? rpc.observe(event) : undefined;
    if (!shouldPrint(event, mode, hideHeartbeats)) return;
    lines++;
    out.beginLine();
    if (options.json) out.utf8(stringifyEvent(event));
    else {
      writeEventLine(out, event, lineOptions);
      if (reply !== undefined) out.utf8(`  [RPC reply to correlation-id ${formatValue(reply.correlationId)}, ${formatDuration(reply.rttMicros)} after its request]`);
    }
    out.endLine();
    if (out.sealedBytes + out.unsealedBytes >= FLUSH_BYTES) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_DELAY_MS);
      timer.unref(); // the owner flushes before exiting
    }
  };
  return Object.assign(sink, { flush, lines: () => lines });
}

function shouldPrint(event: SpyEvent, mode: 'frames' | 'messages', hideHeartbeats: boolean): boolean {
  if (event.kind === 'message') return mode === 'messages';
  if (event.kind !== 'frame') return true;
  if (event.frame.type === 'heartbeat') return !hideHeartbeats;
  if (mode === 'frames') return true;
  // in message mode the content method, header and body frames are shown by the message line
  return event.frame.type === 'method' && !event.frame.method.spec.content;
}
