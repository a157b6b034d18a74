// Bytes in, events out, for one connection: two frame parsers (one per direction), the
// per-channel message assembly, secret masking and the protocol insight. Proxy, broker and
// replay all feed a tap, so every mode shows the same events.
//
// Secrets: credential frames are masked where they are decoded. Client bytes the tap cannot
// decode (after decoding stopped client to server, before or after connection.open-ok: an
// update-secret may follow at any time) cannot be masked, so they are withheld from every
// sink unless secrets are shown: the event gives their count, not their bytes.

import { DecodeError } from '../decoder/errors.js';
import { decodeFrame } from '../decoder/frame-codec.js';
import { FrameParser } from '../decoder/frame-parser.js';
import { MessageAssembler } from '../decoder/message-assembler.js';
import { isErrorReplyCode } from '../decoder/spec.js';
import { FRAME_OVERHEAD, type DecodedFrame, type DecodedMethod, type RawFrame } from '../decoder/types.js';
import {
  nowMicros,
  type DecodeErrorEvent,
  type Direction,
  type EventBus,
  type FaultMark,
  type FrameEvent,
  type FrameInsight,
  type MessageEvent,
  type SocketEnd,
  type UndecodedBytesEvent,
} from '../events.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
import type { StreamGap } from '../source/byte-observer.js';
import { closeReason, legacySocketEnd } from './close-reason.js';
import { ProtocolInsight } from './protocol-insight.js';
import { mayHoldSecret, redactFrame } from './redact.js';

export interface ConnectionTapOptions {
  /** show credentials as sent; by default they are masked with '*' of the same length */
  readonly showSecrets?: boolean;
  /** emit bytes that arrive after decoding stopped (a recording keeps every byte) */
  readonly keepUndecoded?: boolean;
  /** attach the unmasked bytes of credential frames as `secretRaw` (for `--record-secrets`) */
  readonly keepSecrets?: boolean;
  /**
   * The frame-max in force until connection.tune-ok: RabbitMQ's 4096 by default (it closes a
   * connection whose frame is larger before tune-ok); 0 when none is known, as for a file
   * that may start mid-stream (then the cap for "no limit" applies).
   */
  readonly frameMaxUntilTuneOk?: number;
}

/**
 * RabbitMQ accepts frames up to 8 bytes over the negotiated frame-max (clients that forgot the
 * frame's own 8 bytes), and so does the built-in broker; the tap must too, or it stops
 * decoding a stream the broker goes on reading (and misses the credentials that follow).
 */
const FRAME_MAX_SLACK = 8;
/** RabbitMQ's frame-max until tune-ok (FRAME_MIN_SIZE) */
const HANDSHAKE_FRAME_MAX = 4096;
/**
 * The largest frame buffered when frame-max is 0 ("no limit"): a 128 MiB body (RabbitMQ's
 * largest message by default) in one frame. Past the limit the tap stops decoding that
 * direction rather than hold what a peer declares (a size field says up to 4 GiB).
 */
const NO_LIMIT_FRAME_CAP = 128 * 1024 * 1024 + FRAME_OVERHEAD;

/** channel.close or connection.close with an error reply code. */
function isErrorClose(method: DecodedMethod): boolean {
  const name = method.name;
  return (name === 'channel.close' || name === 'connection.close') && isErrorReplyCode(Number(method.args['reply-code']));
}

/** The largest frame the tap buffers under a frame-max (0 = none). */
function frameLimit(frameMax: number): number {
  return frameMax === 0 ? NO_LIMIT_FRAME_CAP : Math.min(frameMax + FRAME_MAX_SLACK, 0xffffffff);
}

interface DirectionState {
  /** replaced when a capture resynchronises after lost bytes */
  parser: FrameParser;
  readonly assembler: MessageAssembler;
  /** the insight of each channel's content method, for its message event */
  readonly contentInsight: Map<number, FrameInsight | undefined>;
  /** the fault mark of each channel's content method, for its message event */
  readonly contentMark: Map<number, FaultMark>;
  /** the mark of the frames being fed (fault rules feed whole frames), undefined for bytes as sent */
  mark: FaultMark | undefined;
  /** replay: body bytes the recording left out of the frame being fed (--record-bodies) */
  omitted: number;
  /** some were: messages may be shorter than their headers say (never live) */
  sawOmitted: boolean;
  stopped: boolean;
  /** stream offset of the next byte fed */
  offset: number;
}

export class ConnectionTap {
  private readonly directions: Record<Direction, DirectionState>;
  private readonly insight = new ProtocolInsight();
  private closed = false;
  /** bytes of whole frames not given to this tap (see `skip`), both directions */
  private notShown = 0;
  private readonly onTuneOk: (negotiated: number) => number;

  constructor(
    readonly conn: number,
    private readonly bus: EventBus,
    private readonly options: ConnectionTapOptions = {},
  ) {
    const frameMax = frameLimit(options.frameMaxUntilTuneOk ?? HANDSHAKE_FRAME_MAX);
    // tune-ok's frame-max applies from the next frame on, in the chunk that carries it too
    const onTuneOk = (negotiated: number): number => {
      const limit = frameLimit(negotiated);
      this.directions.c2s.parser.setFrameMax(limit);
      this.directions.s2c.parser.setFrameMax(limit);
      return limit;
    };
    this.onTuneOk = onTuneOk;
    const direction = (): DirectionState => ({
      parser: new FrameParser({ expectProtocolHeader: 'auto', frameMax, onTuneOk }),
      assembler: new MessageAssembler(),
      contentInsight: new Map(),
      contentMark: new Map(),
      mark: undefined,
      omitted: 0,
      sawOmitted: false,
      stopped: false,
      offset: 0,
    });
    this.directions = { c2s: direction(), s2c: direction() };
  }

  /**
   * Feeds bytes as they were forwarded. `ts` (µs) defaults to now; replay passes the recorded
   * time. `mark`: whole frames a fault rule injected or suppressed (see FaultMark).
   */
  feed(dir: Direction, chunk: Uint8Array, ts: number = nowMicros(), mark?: FaultMark, omitted?: number): void {
    const state = this.directions[dir];
    if (omitted !== undefined) {
      // replay of a body frame a recording cut short: the frame stands for `omitted` more bytes
      state.omitted = omitted;
      state.sawOmitted = true;
      try {
        this.feed(dir, chunk, ts, mark);
      } finally {
        state.omitted = 0;
      }
      return;
    }
    if (mark !== undefined) {
      state.mark = mark;
      try {
        this.feed(dir, chunk, ts);
      } finally {
        state.mark = undefined;
      }
      return;
    }
    const chunkOffset = state.offset;
    state.offset += chunk.length;
    if (state.stopped) {
      if (this.options.keepUndecoded) this.emitBytes(dir, chunk, chunkOffset, ts, dir === 'c2s');
      return;
    }
    const items = state.parser.push(chunk);
    for (const item of items) {
      if (item.kind === 'frame') this.onFrame(dir, state, item.frame, ts);
      else if (item.kind === 'protocol-header') {
        this.bus.emit({
          kind: 'protocol-header',
          seq: this.bus.nextSeq(),
          ts,
          conn: this.conn,
          dir,
          header: item.header,
          raw: item.header.raw,
          offset: item.header.offset,
        });
      } else {
        state.stopped = true;
        this.emitError(dir, item.error, true, ts);
        // the rest passes undecoded from the start of the frame that failed (not from the
        // error's offset: a frame-end error is at the frame's last byte), including what of it
        // came in earlier chunks, so every byte fed is in exactly one event
        if (this.options.keepUndecoded) {
          const inChunk = chunk.subarray(Math.min(chunk.length, Math.max(0, item.undecodedFrom + item.held.length - chunkOffset)));
          const data = item.held.length === 0 ? inChunk : Buffer.concat([item.held, inChunk]);
          if (data.length > 0) this.emitBytes(dir, data, item.undecodedFrom, ts, dir === 'c2s');
        }
      }
    }
  }

  /** Bytes held for incomplete frames (both directions): at most one frame's worth each. */
  get buffered(): number {
    return this.directions.c2s.parser.buffered + this.directions.s2c.parser.buffered;
  }

  /**
   * Replay of a span a recording withheld (`"withheld": length`): its bytes are unknown, so
   * decoding of `dir` stops here, with the error recorded when decoding stopped (`cause`), as
   * the live session reported it.
   */
  feedWithheld(dir: Direction, length: number, ts: number, cause?: DecodeErrorEvent['error']): void {
    const state = this.directions[dir];
    const offset = state.offset;
    state.offset += length;
    if (!state.stopped) {
      state.stopped = true;
      this.emitErrorInfo(
        dir,
        cause ?? { code: 'not-decoded', offset, text: `${length} bytes withheld from the recording (they may hold credentials) are not decoded` },
        true,
        ts,
      );
    }
    if (this.options.keepUndecoded) this.bus.emit({ kind: 'bytes', seq: this.bus.nextSeq(), ts, conn: this.conn, dir, offset, withheld: length });
  }

  /**
   * Whole frames (`length` bytes) of `dir` were dropped before reaching this tap, by a source
   * feeding an observer that fell behind (the terminal UI): they were forwarded and recorded,
   * only not shown. Decoding goes on after them; the gap is one event at its place.
   */
  skip(dir: Direction, length: number, ts: number): void {
    const state = this.directions[dir];
    const offset = state.offset;
    state.offset += length;
    this.notShown += length;
    if (state.stopped) return;
    if (!state.parser.skip(length)) {
      // not at a frame boundary (the source cuts only there): the rest cannot be decoded
      state.stopped = true;
      this.emitErrorInfo(
        dir,
        {
          code: 'not-decoded',
          offset,
          text: `${length} bytes not shown (the screen fell behind the traffic) inside a frame: the rest of this direction is not decoded`,
        },
        true,
        ts,
      );
      return;
    }
    state.assembler.skipGap();
    state.contentInsight.clear();
    this.bus.emit({
      kind: 'decode.error',
      seq: this.bus.nextSeq(),
      ts,
      conn: this.conn,
      dir,
      stopped: false,
      notShown: length,
      error: {
        code: 'not-decoded',
        offset,
        text: `${length} bytes of whole frames not shown: the screen fell behind the traffic (they were forwarded and recorded)`,
      },
    });
  }

  /**
   * A capture lost bytes of `dir`, or started in the middle of it (see StreamGap): `gap.lost`
   * bytes were never captured, then `gap.skipped` captured ones were dropped up to the frame
   * boundary the next bytes fed start at. What the parser held of a frame cut by the gap is
   * dropped too; decoding goes on from the boundary, with one event saying what was missed.
   */
  resync(dir: Direction, gap: StreamGap, ts: number = nowMicros()): void {
    const state = this.directions[dir];
    const offset = state.offset;
    state.offset += gap.lost + gap.skipped;
    if (state.stopped) return;
    const held = state.parser.buffered;
    const parser = new FrameParser({ expectProtocolHeader: false, frameMax: state.parser.frameMax, onTuneOk: this.onTuneOk });
    parser.skip(state.offset);
    state.parser = parser;
    state.assembler.skipGap();
    state.contentInsight.clear();
    const dropped = gap.skipped + held;
    const text = gap.midStream
      ? `the capture starts in the middle of this direction: ${dropped} bytes before the first frame boundary skipped, decoding resynchronised there`
      : `${gap.lost} bytes missing from the capture${dropped > 0 ? ` (and ${dropped} captured bytes of the frames they cut skipped)` : ''}: decoding resynchronised at the next frame boundary`;
    this.emitErrorInfo(dir, { code: 'not-decoded', offset: offset - held, text }, false, ts);
  }

  /**
   * The connection ended, its sockets as `end` says (or a source's words, such as a reason
   * from an older recording); the reason given is worded from that and the close handshake
   * seen, with the requests never answered and what was left unacked and unconfirmed.
   */
  close(end: SocketEnd | string, ts: number = nowMicros()): void {
    if (this.closed) return;
    this.closed = true;
    this.endOfStreams(ts);
    const socket = typeof end === 'string' ? legacySocketEnd(end) : end;
    // frames this tap never saw may hold the replies and the acks: nothing is claimed left open
    const framesNotSeen = this.notShown > 0;
    const { unacked, unconfirmed } = framesNotSeen ? { unacked: 0, unconfirmed: 0 } : this.insight.outstanding();
    this.bus.emit({
      kind: 'conn.close',
      seq: this.bus.nextSeq(),
      ts,
      conn: this.conn,
      reason: closeReason(this.insight.closeHandshake, socket ?? end, framesNotSeen),
      ...(socket ? { socket } : {}),
      unanswered: framesNotSeen ? [] : this.insight.unanswered(),
      unacked,
      unconfirmed,
    });
  }

  /** Whether a connection.close was answered by close-ok: the connection ended as both sides meant. */
  get closedCleanly(): boolean {
    return this.insight.closeHandshake?.answered === true;
  }

  /** No more bytes will come (a connection closed, a file read to its end): reports a frame cut short. */
  endOfStreams(ts: number = nowMicros()): void {
    // a frame cut short by the close: its bytes were forwarded, so they are reported too
    for (const dir of ['c2s', 's2c'] as const) {
      const { parser, stopped } = this.directions[dir];
      if (stopped || parser.buffered === 0) continue;
      const held = parser.heldBytes();
      this.emitError(
        dir,
        new DecodeError('truncated', `connection closed inside a frame: ${held.length} bytes of it were forwarded`, parser.heldOffset),
        true,
        ts,
      );
      // decoding went on up to here, so the frame's first bytes tell whether it may be a credential
      if (this.options.keepUndecoded) this.emitBytes(dir, held, parser.heldOffset, ts, dir === 'c2s' && mayHoldSecret(held));
      this.directions[dir].stopped = true;
    }
  }

  private onFrame(dir: Direction, state: DirectionState, frame: RawFrame, ts: number): void {
    let raw = frame.raw;
    let source = frame;
    let secretRaw: Uint8Array | undefined;
    if (!this.options.showSecrets && mayHoldSecret(raw)) {
      raw = redactFrame(raw);
      if (raw !== frame.raw) {
        source = { ...frame, raw, payload: raw.subarray(7, raw.length - 1) };
        if (this.options.keepSecrets) secretRaw = frame.raw.slice();
      }
    }
    let decoded: DecodedFrame;
    try {
      decoded = decodeFrame(source);
      if (state.omitted > 0 && decoded.type === 'body') decoded = { ...decoded, omitted: state.omitted };
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      // the frame's bounds are sound, so the stream goes on decoding after it
      this.emitError(dir, error, false, ts, raw);
      return;
    }
    // a channel (or the connection) closed with an error while the peer was sending a message
    // on it: that message (often the cause) comes before the close, as far as it came
    if (decoded.type === 'method' && decoded.method.classId <= 20 && isErrorClose(decoded.method))
      this.cutMessages(dir, frame.channel, decoded.method.name, ts);
    const seq = this.bus.nextSeq();
    let insight: FrameInsight | undefined;
    const mark = state.mark;
    if (decoded.type === 'method') {
      // the insight follows the client's side of the conversation: what it sent (forwarded or
      // suppressed) and what it received (forwarded or injected); frames only the broker saw
      // (injected toward it, or its own suppressed) are shown but not counted
      const clientSide = mark === undefined || (mark === 'suppressed') === (dir === 'c2s');
      if (clientSide) insight = this.insight.observe(dir, frame.channel, decoded.method, seq, ts);
      if (decoded.method.spec.content) {
        state.contentInsight.set(frame.channel, insight);
        if (mark !== undefined) state.contentMark.set(frame.channel, mark);
        else if (state.contentMark.size > 0) state.contentMark.delete(frame.channel);
      } else if (decoded.method.name === 'channel.close-ok' || decoded.method.name === 'channel.open') {
        // a closed or reopened channel starts afresh: a message cut short by the close is gone
        for (const d of [this.directions.c2s, this.directions.s2c]) {
          d.assembler.resetChannel(frame.channel);
          d.contentInsight.delete(frame.channel);
        }
      }
    }
    // one object per frame (this is the hot path): optional fields set before it is emitted
    const event: Mutable<FrameEvent> = { kind: 'frame', seq, ts, conn: this.conn, dir, channel: frame.channel, frame: decoded, raw, offset: frame.offset };
    if (insight) event.insight = insight;
    if (secretRaw) event.secretRaw = secretRaw;
    if (mark !== undefined) event.fault = mark;
    if (decoded.type === 'body' && decoded.omitted !== undefined) event.bodyOmitted = decoded.omitted;
    this.bus.emit(event);
    const assembled = state.assembler.push(decoded, seq, frame.offset);
    if (assembled === undefined) return;
    if (assembled.kind === 'error') {
      this.emitError(dir, assembled.error, false, ts);
      return;
    }
    const message = assembled.message;
    const methodInsight = state.contentInsight.get(message.channel);
    // cleared in place, not deleted: a set and delete per message makes the map rehash often
    if (methodInsight !== undefined) state.contentInsight.set(message.channel, undefined);
    const messageEvent: Mutable<MessageEvent> = {
      kind: 'message',
      seq: this.bus.nextSeq(),
      ts,
      conn: this.conn,
      dir,
      channel: message.channel,
      method: message.method,
      header: message.header,
      properties: message.header.properties,
      body: message.body,
      frames: message.frames,
    };
    if (methodInsight) messageEvent.insight = methodInsight;
    const messageMark = state.contentMark.size > 0 ? state.contentMark.get(message.channel) : undefined;
    if (messageMark !== undefined) messageEvent.fault = messageMark;
    // only a replayed recording made with --record-bodies has a body shorter than its header says
    if (state.sawOmitted && message.body.length < message.header.bodySize) messageEvent.bodyOmitted = Number(message.header.bodySize) - message.body.length;
    this.bus.emit(messageEvent);
  }

  /** Emits the messages the other side was sending on `channel` (all channels for connection.close) as incomplete. */
  private cutMessages(closer: Direction, channel: number, closeName: string, ts: number): void {
    const dir: Direction = closer === 'c2s' ? 's2c' : 'c2s';
    const state = this.directions[dir];
    const cut = channel === 0 ? state.assembler.cutAll() : [state.assembler.cut(channel)];
    for (const partial of cut) {
      if (partial === undefined) continue;
      const methodInsight = state.contentInsight.get(partial.channel);
      if (methodInsight !== undefined) state.contentInsight.set(partial.channel, undefined);
      const event: Mutable<MessageEvent> = {
        kind: 'message',
        seq: this.bus.nextSeq(),
        ts,
        conn: this.conn,
        dir,
        channel: partial.channel,
        method: partial.method,
        properties: partial.header?.properties ?? {},
        body: partial.body,
        frames: partial.frames,
        incomplete: `cut by ${closeName}`,
      };
      if (partial.header !== undefined) event.header = partial.header;
      if (methodInsight) event.insight = methodInsight;
      this.bus.emit(event);
    }
  }

  private emitError(dir: Direction, error: DecodeError, stopped: boolean, ts: number, raw?: Uint8Array): void {
    const { channel, classId, methodId } = error.context;
    const info = {
      code: error.code,
      offset: error.offset,
      text: error.message,
      ...(channel !== undefined ? { channel } : {}),
      ...(classId !== undefined ? { classId } : {}),
      ...(methodId !== undefined ? { methodId } : {}),
    };
    this.emitErrorInfo(dir, info, stopped, ts, raw);
  }

  private emitErrorInfo(dir: Direction, error: DecodeErrorEvent['error'], stopped: boolean, ts: number, raw?: Uint8Array): void {
    this.bus.emit({ kind: 'decode.error', seq: this.bus.nextSeq(), ts, conn: this.conn, dir, error, stopped, ...(raw ? { raw } : {}) });
  }

  /** Undecoded bytes; withheld (their count only) when they may hold a `secret` and secrets are not shown. */
  private emitBytes(dir: Direction, data: Uint8Array, offset: number, ts: number, secret: boolean): void {
    const event: Mutable<UndecodedBytesEvent> = { kind: 'bytes', seq: this.bus.nextSeq(), ts, conn: this.conn, dir, offset };
    if (!secret || this.options.showSecrets) event.data = data;
    else {
      event.withheld = data.length;
      if (this.options.keepSecrets) event.secretData = data;
    }
    this.bus.emit(event);
  }
}
