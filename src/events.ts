// The one event type that flows from every source (proxy, broker, replay, decode) to every
// sink (TUI, recorder, headless printer, summary). Events are immutable once emitted.

import type { DecodeErrorCode } from './decoder/errors.js';
import type { ContentProperties, DecodedContentHeader, DecodedFrame, DecodedMethod, ProtocolHeader } from './decoder/types.js';

export type Direction = 'c2s' | 's2c';

/**
 * A frame a fault rule made (`injected`: written to the peer, never sent by the other side)
 * or swallowed (`suppressed`: sent, never forwarded). Unmarked frames went through as sent.
 */
export type FaultMark = 'injected' | 'suppressed';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** A connection as its source reports it: the id events carry, and both ends. */
export interface ConnectionInfo {
  readonly id: number;
  readonly client: Endpoint;
  readonly server: Endpoint;
}

interface EventBase {
  /** strictly increasing across the whole session, from 1 */
  readonly seq: number;
  /** microseconds since the Unix epoch */
  readonly ts: number;
  /** connection id, from 1; 0 for session-wide events */
  readonly conn: number;
}

/** What the tap worked out about a frame from the frames around it. */
export interface FrameInsight {
  /** a reply: the request it answers and the round trip */
  readonly request?: { readonly seq: number; readonly name: string; readonly rttMicros: number };
  /** a channel.close / connection.close whose reply code is an error (isErrorReplyCode: not 0 or 200) */
  readonly error?: {
    readonly replyCode: number;
    readonly replyName: string;
    readonly replyText: string;
    /** the frame that caused it, when it can be told */
    readonly causeSeq?: number;
    readonly causeName?: string;
  };
  /** basic.ack/nack/reject from the client: the deliveries it settles */
  readonly settles?: {
    readonly outcome: 'ack' | 'nack' | 'reject';
    readonly requeue: boolean;
    readonly deliverySeqs: readonly number[];
    /** tags acked that were never delivered on this channel (a broker answers 406) */
    readonly unknownTag?: boolean;
  };
  /** basic.ack/nack from the server in confirm mode: the publishes it confirms */
  readonly confirms?: { readonly outcome: 'ack' | 'nack'; readonly publishSeqs: readonly number[] };
  /** basic.return: the publish it returns, when it can be told */
  readonly returnOf?: number;
  /** basic.publish in confirm mode: its sequence number on the channel */
  readonly publishSeqNo?: number;
  /** a basic.deliver / get-ok the client must settle (not no-ack) */
  readonly needsAck?: true;
  /** a channel's unacked deliveries after this frame (deliver/get-ok/ack/nack/reject) */
  readonly unacked?: number;
  /** a channel's unconfirmed publishes after this frame (publish in confirm mode, confirms) */
  readonly unconfirmed?: number;
  /** a request with no-wait set: no reply is expected */
  readonly noWait?: boolean;
  /** basic.publish from the client while the server had it blocked (connection.blocked, not yet unblocked) */
  readonly whileBlocked?: boolean;
  /** connection.unblocked: how long the connection was blocked (µs) */
  readonly blockedMicros?: number;
  /**
   * A prefetch limit reached: on a delivery, the one it brought its consumer (or, with
   * basic.qos global, its channel) to; on an ack/nack/reject, one still reached after it.
   */
  readonly prefetchFull?: PrefetchFull;
}

/** Unacked deliveries at a basic.qos prefetch-count: `FULL 5/5`. */
export interface PrefetchFull {
  /** the unacked deliveries the limit counts: its consumer's, or with `global` its channel's */
  readonly unacked: number;
  readonly limit: number;
  /** basic.qos global=true: the limit is the channel's, shared by its consumers */
  readonly global: boolean;
}

export interface ConnOpenEvent extends EventBase {
  readonly kind: 'conn.open';
  readonly client: Endpoint;
  readonly server: Endpoint;
}

export interface UnansweredRequest {
  readonly seq: number;
  readonly channel: number;
  readonly name: string;
}

/**
 * How a connection's sockets ended, as its source saw it (the proxy, the built-in broker, or a
 * recording). The tap words the close reason from it and the AMQP close handshake it saw.
 */
export interface SocketEnd {
  /** who ended it: the client, the server (the upstream, or the built-in broker), or the proxy */
  readonly by: 'client' | 'server' | 'proxy';
  /**
   * closed: an orderly end (FIN); reset: ECONNRESET; error: another socket error;
   * unreachable: the upstream could not be reached; stopped: amqp-spy was shutting down;
   * capture-ended: a capture (pcap file, --sniff) ended before the connection did
   */
  readonly how: 'closed' | 'reset' | 'error' | 'unreachable' | 'stopped' | 'capture-ended';
  /** more words: an errno's text, the broker's own reason (missed heartbeats, ...) */
  readonly detail?: string;
}

export interface ConnCloseEvent extends EventBase {
  readonly kind: 'conn.close';
  /**
   * Who ended the connection and how, in one vocabulary for every source: `client closed the
   * connection` (a connection.close answered by close-ok), `client closed the socket without
   * connection.close`, `server reset the socket`, `proxy stopped`, ...
   */
  readonly reason: string;
  /** what the reason was worded from, when the source said it (not for words alone) */
  readonly socket?: SocketEnd;
  /** synchronous requests that never got their reply */
  readonly unanswered: readonly UnansweredRequest[];
  /** deliveries left unacked (the broker requeues them) */
  readonly unacked: number;
  /** publishes in confirm mode left unconfirmed (their fate unknown to the client) */
  readonly unconfirmed: number;
}

export interface ProtocolHeaderEvent extends EventBase {
  readonly kind: 'protocol-header';
  readonly dir: Direction;
  readonly header: ProtocolHeader;
  readonly raw: Uint8Array;
  readonly offset: number;
}

export interface FrameEvent extends EventBase {
  readonly kind: 'frame';
  readonly dir: Direction;
  readonly channel: number;
  readonly frame: DecodedFrame;
  /** the frame's bytes exactly as forwarded (secrets masked unless asked to show them) */
  readonly raw: Uint8Array;
  /**
   * The unmasked bytes of a frame that carries a credential, present only when the session
   * keeps secrets for some sink (`--record-secrets`); `raw` is masked unless `--show-secrets`.
   */
  readonly secretRaw?: Uint8Array;
  /** offset of the frame in its direction's stream */
  readonly offset: number;
  readonly insight?: FrameInsight;
  /** made or swallowed by a fault rule (see FaultMark) */
  readonly fault?: FaultMark;
  /** a body frame whose bytes a recording partly left out (--record-bodies): how many */
  readonly bodyOmitted?: number;
}

export interface MessageEvent extends EventBase {
  readonly kind: 'message';
  readonly dir: Direction;
  readonly channel: number;
  readonly method: DecodedMethod;
  /** absent only for an incomplete message cut before its content header */
  readonly header?: DecodedContentHeader;
  readonly properties: ContentProperties;
  /** the body (of an incomplete message: what came of it) */
  readonly body: Uint8Array;
  /** seqs of the method, header and body frame events (of an incomplete message: those that came) */
  readonly frames: readonly number[];
  readonly insight?: FrameInsight;
  /**
   * A message cut short, emitted when its channel (or connection) was closed with an error
   * while it was being sent, before the close: `cut by channel.close`. The frames of it that
   * come after are frames only.
   */
  readonly incomplete?: string;
  /** its method frame was made or swallowed by a fault rule */
  readonly fault?: FaultMark;
  /** body bytes a recording left out (--record-bodies): `body` holds the rest, if any */
  readonly bodyOmitted?: number;
}

export interface DecodeErrorEvent extends EventBase {
  readonly kind: 'decode.error';
  readonly dir: Direction;
  readonly error: {
    readonly code: DecodeErrorCode;
    readonly offset: number;
    readonly text: string;
    readonly channel?: number;
    readonly classId?: number;
    readonly methodId?: number;
  };
  /** the offending frame's bytes, when the frame itself could be cut from the stream */
  readonly raw?: Uint8Array;
  /** decoding of this direction stopped here (later bytes pass through undecoded) */
  readonly stopped: boolean;
  /**
   * Bytes of whole frames a view did not get because it fell behind the traffic (the terminal
   * UI's thread): they were forwarded and recorded; only this view lacks them
   */
  readonly notShown?: number;
}

/**
 * Bytes forwarded undecoded (after decoding of their direction stopped, or a frame cut short
 * by the close), kept so a recording holds every byte.
 */
export interface UndecodedBytesEvent extends EventBase {
  readonly kind: 'bytes';
  readonly dir: Direction;
  readonly offset: number;
  /** the bytes as forwarded; absent when withheld */
  readonly data?: Uint8Array;
  /**
   * Client bytes the tap cannot decode may hold credentials it cannot find to mask (a
   * start-ok or update-secret), so unless secrets are shown they are withheld: `data` is
   * absent and this is their count.
   */
  readonly withheld?: number;
  /** the withheld bytes, present only when the session keeps secrets for some sink (`--record-secrets`) */
  readonly secretData?: Uint8Array;
}

/** How many bytes an undecoded-bytes event stands for, shown or withheld. */
export function undecodedSize(event: UndecodedBytesEvent): number {
  return event.data?.length ?? event.withheld ?? 0;
}

export type SpyEvent = ConnOpenEvent | ConnCloseEvent | ProtocolHeaderEvent | FrameEvent | MessageEvent | DecodeErrorEvent | UndecodedBytesEvent;

export type SpyEventKind = SpyEvent['kind'];
export type EventSink = (event: SpyEvent) => void;

/** One event a sink threw on: the sink keeps receiving later events, this one is lost to it. */
export interface SinkFailure {
  /** the sink's position in the bus's list (the order it was given) */
  readonly sinkIndex: number;
  readonly seq: number;
  readonly kind: SpyEventKind;
  readonly conn: number;
  readonly error: unknown;
}

/**
 * Fan-out to sinks. The sinks are fixed when the bus is made, so a source can never emit
 * before one of them is attached (the TUI once subscribed after its lazy import and missed
 * the first events). A sink that throws loses that one event, never the session: the failure
 * is counted and reported, and the sink gets the next event as usual.
 */
export class EventBus {
  private lastSeq = 0;
  private readonly sinks: readonly EventSink[];
  private readonly onSinkError: (failure: SinkFailure) => void;
  /** events some sink failed on, over the whole session */
  failures = 0;

  constructor(sinks: readonly EventSink[], onSinkError: (failure: SinkFailure) => void = () => {}) {
    this.sinks = [...sinks];
    this.onSinkError = onSinkError;
  }

  nextSeq(): number {
    return ++this.lastSeq;
  }

  emit(event: SpyEvent): void {
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) {
      try {
        sinks[i]!(event);
      } catch (error) {
        this.failures++;
        this.onSinkError({ sinkIndex: i, seq: event.seq, kind: event.kind, conn: event.conn, error });
      }
    }
  }
}

/**
 * Reports sink failures as one-line notices: the first failure of each sink in full, then one
 * line per power of ten, so a sink failing on every event cannot flood the screen.
 */
export function sinkFailureNotices(notice: (line: string) => void, names: readonly string[] = []): (failure: SinkFailure) => void {
  const counts: number[] = [];
  return (failure) => {
    const count = (counts[failure.sinkIndex] ?? 0) + 1;
    counts[failure.sinkIndex] = count;
    if (count !== 1 && !Number.isInteger(Math.log10(count))) return;
    const name = names[failure.sinkIndex] ?? `sink ${failure.sinkIndex + 1}`;
    const reason = failure.error instanceof Error ? failure.error.message : String(failure.error);
    notice(
      count === 1
        ? `${name} failed on event ${failure.seq} (${failure.kind}, connection ${failure.conn}): ${reason}; that event is missing from it, later events still reach it`
        : `${name} has failed on ${count} events so far (latest: event ${failure.seq}: ${reason})`,
    );
  };
}

/** Microseconds since the Unix epoch, with sub-millisecond resolution. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
