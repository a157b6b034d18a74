// Counts for the end-of-session summary: connections, frames and messages per direction,
// errors. A plain function of events.

import { undecodedSize, type Direction, type EventSink } from '../events.js';
import { isErrorEvent } from './format.js';

export interface SessionCounts {
  connections: number;
  frames: Record<Direction, number>;
  messages: Record<Direction, number>;
  bytes: Record<Direction, number>;
  errors: number;
  decodeErrors: number;
  unanswered: number;
  /** deliveries left unacked and publishes left unconfirmed when their connections closed */
  leftUnacked: number;
  leftUnconfirmed: number;
}

export function createSummary(): { sink: EventSink; counts: SessionCounts; text: () => string } {
  const counts: SessionCounts = {
    connections: 0,
    frames: { c2s: 0, s2c: 0 },
    messages: { c2s: 0, s2c: 0 },
    bytes: { c2s: 0, s2c: 0 },
    errors: 0,
    decodeErrors: 0,
    unanswered: 0,
    leftUnacked: 0,
    leftUnconfirmed: 0,
  };
  const { frames, messages, bytes } = counts;
  const sink: EventSink = (event) => {
    // a content method (basic.return) is an error once: as its message, not also as its frame
    if (isErrorEvent(event) && !(event.kind === 'frame' && event.frame.type === 'method' && event.frame.method.spec.content)) counts.errors++;
    switch (event.kind) {
      case 'conn.open':
        counts.connections++;
        break;
      case 'conn.close':
        counts.unanswered += event.unanswered.length;
        counts.leftUnacked += event.unacked;
        counts.leftUnconfirmed += event.unconfirmed;
        break;
      // named fields, not [event.dir]: this runs for every frame
      case 'frame':
        if (event.dir === 'c2s') {
          frames.c2s++;
          bytes.c2s += event.raw.length;
        } else {
          frames.s2c++;
          bytes.s2c += event.raw.length;
        }
        break;
      case 'message':
        if (event.dir === 'c2s') messages.c2s++;
        else messages.s2c++;
        break;
      case 'decode.error':
        counts.decodeErrors++;
        break;
      case 'bytes':
        counts.bytes[event.dir] += undecodedSize(event);
        break;
      case 'protocol-header':
        counts.bytes[event.dir] += event.raw.length;
        break;
    }
  };
  const text = () =>
    `summary: ${plural(counts.connections, 'connection')}; ` +
    `C→S ${plural(counts.frames.c2s, 'frame')}, ${plural(counts.messages.c2s, 'message')}; ` +
    `S→C ${plural(counts.frames.s2c, 'frame')}, ${plural(counts.messages.s2c, 'message')}; ` +
    `${plural(counts.errors, 'error')}` +
    (counts.decodeErrors ? ` (${counts.decodeErrors} decode)` : '') +
    (counts.unanswered ? `; ${plural(counts.unanswered, 'request')} never answered` : '') +
    (counts.leftUnacked ? `; ${plural(counts.leftUnacked, 'delivery', 'deliveries')} left unacked` : '') +
    (counts.leftUnconfirmed ? `; ${plural(counts.leftUnconfirmed, 'publish', 'publishes')} left unconfirmed` : '');
  return { sink, counts, text };
}

/** "1 message", "2 messages" */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
