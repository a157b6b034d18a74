// The headless sink: one line per event as text (greppable, coloured only on a terminal) or
// as NDJSON in the recording schema. In 'messages' mode a message's content frames are
// folded into its one message line; in 'frames' mode every frame gets its line.

import type { EventSink, SpyEvent } from '../events.js';
import { stringifyEvent } from '../record/event-json.js';
import { formatEventLine } from './format.js';

export interface HeadlessPrinterOptions {
  readonly write: (text: string) => void;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly mode?: 'frames' | 'messages';
  readonly position?: 'clock' | 'offset';
  readonly hideHeartbeats?: boolean;
}

export function createHeadlessPrinter(options: HeadlessPrinterOptions): EventSink {
  const mode = options.mode ?? 'messages';
  const lineOptions = { color: options.color ?? false, position: options.position ?? 'clock' };
  return (event: SpyEvent) => {
    if (!shouldPrint(event, mode, options.hideHeartbeats ?? false)) return;
    options.write(`${options.json ? stringifyEvent(event) : formatEventLine(event, lineOptions)}\n`);
  };
}

function shouldPrint(event: SpyEvent, mode: 'frames' | 'messages', hideHeartbeats: boolean): boolean {
  if (event.kind === 'message') return mode === 'messages';
  if (event.kind !== 'frame') return true;
  if (event.frame.type === 'heartbeat') return !hideHeartbeats;
  if (mode === 'frames') return true;
  // in message mode the content method, header and body frames are shown by the message line
  return event.frame.type === 'method' && !event.frame.method.spec.content;
}
