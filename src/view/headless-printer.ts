// The headless sink: one line per event as text (greppable, coloured only on a terminal) or
// as NDJSON in the recording schema. In 'messages' mode a message's content frames are
// folded into its one message line; in 'frames' mode every frame gets its line.
// Lines are batched: one write per 10 ms (or per 256 KB), not one per event — stdout to a
// file is a synchronous syscall per write.
// Output to a reader that stops (a pager, `| sleep`) is bounded: past a high-water mark the
// printer either reports itself overloaded, for a source of ours to stop reading until the
// reader takes the output (nothing lost), or drops lines and counts them (the proxy, which
// must keep forwarding).

import type { EventSink, SpyEvent } from '../events.js';
import { stringifyEvent } from '../output/event-json.js';
import { LineBuffers } from '../output/line-buffers.js';
import type { OverloadableSink } from '../tap/tap-observer.js';
import { decodedJsonMember, messageBodyPreview, plainPreviewBytes } from './body-preview.js';
import { writeEventLine } from './line-bytes.js';
import { formatDuration, formatValue } from './format.js';
import { RpcPairing } from './later-facts.js';

/** How far behind the reader is: a stream's writableLength and 'drain'. */
export interface PrinterOutput {
  /** bytes written that the reader has not taken yet */
  pendingBytes(): number;
  /** calls `callback` once the reader took them all (a stream's 'drain') */
  onceDrained(callback: () => void): void;
}

/** process.stdout (or another stream) as a PrinterOutput. */
export function streamOutput(stream: NodeJS.WritableStream & { readonly writableLength: number }): PrinterOutput {
  return {
    pendingBytes: () => stream.writableLength,
    onceDrained: (callback) => {
      stream.once('drain', callback);
    },
  };
}

export interface HeadlessPrinterOptions {
  /** takes a batch of whole lines, UTF-8; the printer never touches the bytes again */
  readonly write: (chunk: Uint8Array) => void;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly mode?: 'frames' | 'messages';
  readonly position?: 'clock' | 'offset';
  readonly hideHeartbeats?: boolean;
  /** what `write` has not delivered yet; without it the output is taken as never behind */
  readonly output?: PrinterOutput;
  /**
   * While the output is more than `highWaterBytes` behind: 'hold' (default) reports the
   * printer overloaded (the source stops reading until the output drains; every line is
   * printed), 'drop' drops lines and counts them (a source that must not wait).
   */
  readonly whenBehind?: 'hold' | 'drop';
  /** default 4 MiB */
  readonly highWaterBytes?: number;
  /** with 'drop': the lines dropped, told once the output takes lines again (or on flush) */
  readonly onDropped?: (lines: number) => void;
  /** a body preview on message lines, the decoded body in --json (default true) */
  readonly bodies?: boolean;
}

/** A sink that also writes out what it holds on `flush()` (call it before exiting). */
export type HeadlessPrinter = EventSink &
  OverloadableSink & {
    flush(): void;
    /** lines printed so far */
    lines(): number;
    /** lines dropped so far ('drop' only) */
    dropped(): number;
  };

const BATCH_BYTES = 1024 * 1024;
/** written at once when this much is waiting, else within FLUSH_DELAY_MS (too short to see) */
const FLUSH_BYTES = 256 * 1024;
const FLUSH_DELAY_MS = 10;
const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;

export function createHeadlessPrinter(options: HeadlessPrinterOptions): HeadlessPrinter {
  const mode = options.mode ?? 'messages';
  const lineOptions = { color: options.color ?? false, position: options.position ?? 'clock' };
  const hideHeartbeats = options.hideHeartbeats ?? false;
  const bodies = options.bodies ?? true;
  const output = options.output;
  const dropping = options.whenBehind === 'drop';
  const highWater = options.highWaterBytes ?? DEFAULT_HIGH_WATER;
  // lines are encoded into large buffers as they come (cheaper than joining strings); the
  // regions handed to `write` are never written again, so a writer may keep its chunk
  const out = new LineBuffers(BATCH_BYTES);
  let timer: NodeJS.Timeout | undefined;
  /** the output is past the high-water mark; cleared by its drain */
  let behind = false;
  let drainCallbacks: (() => void)[] = [];
  let dropped = 0;
  /** dropped lines not yet told to onDropped */
  let droppedUntold = 0;

  const tellDropped = () => {
    if (droppedUntold === 0) return;
    const n = droppedUntold;
    droppedUntold = 0;
    options.onDropped?.(n);
  };

  const drained = () => {
    behind = false;
    tellDropped();
    const callbacks = drainCallbacks;
    drainCallbacks = [];
    for (const cb of callbacks) cb();
  };

  const flush = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    out.seal();
    for (const chunk of out.takeSealed().buffers) options.write(chunk);
    if (output !== undefined && !behind && output.pendingBytes() > highWater) {
      behind = true;
      output.onceDrained(drained);
    }
  };
  let lines = 0;
  // a reply comes after its request, so its line can say so (text lines; JSON has correlation-id)
  const rpc = options.json ? undefined : new RpcPairing();
  const sink = (event: SpyEvent) => {
    const reply = rpc !== undefined && event.kind === 'message' ? rpc.observe(event) : undefined;
    if (!shouldPrint(event, mode, hideHeartbeats)) return;
    if (behind && dropping) {
      dropped++;
      droppedUntold++;
      return;
    }
    lines++;
    out.beginLine();
    if (options.json) {
      const line = stringifyEvent(event);
      // the decoded body goes beside the raw one, inside the event's object
      out.utf8(event.kind === 'message' && event.body.length > 0 && bodies ? `${line.slice(0, -1)}${decodedJsonMember(event)}}` : line);
    } else {
      writeEventLine(out, event, lineOptions);
      if (event.kind === 'message' && bodies) {
        // most bodies are shown as their first bytes: copied, not made into a string
        const plain = plainPreviewBytes(event);
        if (plain !== undefined) {
          out.bytes(PREVIEW_GAP);
          out.bytes(event.body.subarray(0, plain.bytes));
          if (plain.cut) out.bytes(ELLIPSIS);
        } else {
          const preview = messageBodyPreview(event);
          if (preview !== undefined) out.utf8(`  ${cleanPreview(preview)}`);
        }
      }
      if (reply !== undefined)
        out.utf8(`  [RPC reply to correlation-id ${formatValue(reply.correlationId)}, ${formatDuration(reply.rttMicros)} after its request]`);
    }
    out.endLine();
    if (out.sealedBytes + out.unsealedBytes >= FLUSH_BYTES) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, FLUSH_DELAY_MS);
      timer.unref(); // the owner flushes before exiting
    }
  };
  const printer = Object.assign(sink, {
    flush() {
      flush();
      tellDropped();
    },
    lines: () => lines,
    dropped: () => dropped,
    onDrain(callback: () => void) {
      if (behind && !dropping) drainCallbacks.push(callback);
      else callback();
    },
  });
  // a getter (Object.assign would copy its value once): with 'hold', a source of ours stops
  // reading while the reader is behind
  return Object.defineProperty(printer, 'overloaded', { get: () => behind && !dropping, enumerable: true }) as HeadlessPrinter;
}

/** A body's text from the wire: no escape sequence reaches the terminal (ASCII previews have none). */
function cleanPreview(text: string): string {
  return CONTROLS.test(text) ? text.replace(CONTROLS_ALL, ' ') : text;
}
const PREVIEW_GAP = Buffer.from('  ');
const ELLIPSIS = Buffer.from('…');
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
const CONTROLS_ALL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

function shouldPrint(event: SpyEvent, mode: 'frames' | 'messages', hideHeartbeats: boolean): boolean {
  if (event.kind === 'message') return mode === 'messages';
  if (event.kind !== 'frame') return true;
  if (event.frame.type === 'heartbeat') return !hideHeartbeats;
  if (mode === 'frames') return true;
  // in message mode the content method, header and body frames are shown by the message line
  return event.frame.type === 'method' && !event.frame.method.spec.content;
}
