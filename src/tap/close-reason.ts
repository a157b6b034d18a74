// One vocabulary for why a connection ended, whatever the source: the AMQP close handshake
// the tap saw (who sent connection.close, whether close-ok answered it) plus how the sockets
// ended as the source saw it (SocketEnd). A clean close reads `client closed the connection`
// however the sockets went down afterwards (RabbitMQ resets its socket after close-ok).

import { isErrorReplyCode, replyCodeName } from '../decoder/spec.js';
import type { Direction, SocketEnd } from '../events.js';

/** The connection.close the tap saw first, and whether the peer's close-ok answered it. */
export interface CloseHandshake {
  readonly by: Direction;
  readonly replyCode: number;
  answered: boolean;
}

const SIDE: Record<Direction, 'client' | 'server'> = { c2s: 'client', s2c: 'server' };

/** `client closed the socket`, `server reset the socket`, `proxy stopped`, `upstream unreachable: connection refused` */
export function describeSocketEnd(end: SocketEnd): string {
  const detail = end.detail ? `: ${end.detail}` : '';
  switch (end.how) {
    case 'closed':
      return `${end.by} closed the socket${end.detail ? ` (${end.detail})` : ''}`;
    case 'reset':
      return `${end.by} reset the socket`;
    case 'error':
      return `${end.by} socket error${detail}`;
    case 'unreachable':
      return `upstream unreachable${detail}`;
    case 'stopped':
      return end.by === 'proxy' ? 'proxy stopped' : 'broker stopped';
    case 'capture-ended':
      return 'the capture ended before the connection closed';
  }
}

/** Said at a close when frames of the connection were not seen (the UI fell behind the traffic). */
export const FRAMES_NOT_SEEN_AT_CLOSE = 'some of its frames were not shown (the screen fell behind), so what it left open is not known';

/**
 * The close reason: what the handshake says, else how the sockets ended (or the source's words).
 * `framesNotSeen`: frames of the connection never reached the tap, so a handshake missing from
 * what it saw may have happened: that is not claimed, and the reason says frames were not seen.
 */
export function closeReason(handshake: CloseHandshake | undefined, end: SocketEnd | string, framesNotSeen = false): string {
  if (framesNotSeen) {
    const seen = handshake !== undefined ? closeReason(handshake, end) : typeof end === 'string' ? end : describeSocketEnd(end);
    return `${seen}; ${FRAMES_NOT_SEEN_AT_CLOSE}`;
  }
  // a closed socket's detail is said once, after what the handshake tells
  const socket = typeof end === 'string' ? end : end.how === 'closed' ? `${end.by} closed the socket` : describeSocketEnd(end);
  // a closed socket's own reason (missed heartbeats) follows what happened
  const why = typeof end !== 'string' && end.how === 'closed' && end.detail ? ` (${end.detail})` : '';
  if (handshake === undefined) {
    return typeof end !== 'string' && end.how === 'closed' ? `${socket} without connection.close${why}` : socket;
  }
  const side = SIDE[handshake.by];
  const code = isErrorReplyCode(handshake.replyCode) ? ` with ${handshake.replyCode} ${replyCodeName(handshake.replyCode) ?? 'UNKNOWN'}` : '';
  if (handshake.answered) return `${side} closed the connection${code}`;
  if (typeof end !== 'string' && end.by === side && (end.how === 'closed' || end.how === 'reset')) {
    return `${side} sent connection.close${code} and ${end.how === 'closed' ? 'closed' : 'reset'} the socket before close-ok${why}`;
  }
  return `${side} sent connection.close${code}; ${socket} before close-ok${why}`;
}

const LEGACY: Record<string, SocketEnd> = {
  'client closed': { by: 'client', how: 'closed' },
  'upstream closed': { by: 'server', how: 'closed' },
  'client reset (ECONNRESET)': { by: 'client', how: 'reset' },
  'upstream reset (ECONNRESET)': { by: 'server', how: 'reset' },
  'proxy closed': { by: 'proxy', how: 'stopped' },
  // the built-in broker's words
  'client closed the connection': { by: 'server', how: 'closed' },
  'client closed the socket': { by: 'client', how: 'closed' },
  'client closed before close-ok': { by: 'client', how: 'closed' },
  'authentication failed': { by: 'server', how: 'closed', detail: 'authentication failed' },
  'unsupported protocol header': { by: 'server', how: 'closed', detail: 'unsupported protocol header' },
};

/**
 * The SocketEnd behind a reason recorded before the vocabulary was one (`client closed`,
 * `upstream reset (ECONNRESET)`, the broker's own words); undefined for other words.
 */
export function legacySocketEnd(reason: string): SocketEnd | undefined {
  const known = LEGACY[reason];
  if (known !== undefined) return known;
  const match = /^(upstream unreachable|upstream error|client error|socket error): (.*)$/.exec(reason);
  if (match !== null) {
    const detail = match[2]!;
    if (match[1] === 'upstream unreachable') return { by: 'server', how: 'unreachable', detail };
    return { by: match[1] === 'upstream error' ? 'server' : 'client', how: 'error', detail };
  }
  if (reason.startsWith('connection closed by the broker: ')) return { by: 'server', how: 'closed' };
  if (reason.startsWith('missed heartbeats from client')) return { by: 'server', how: 'closed', detail: reason };
  return undefined;
}
