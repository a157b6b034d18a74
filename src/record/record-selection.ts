// What a recording keeps: `--record-filter EXPR` (only matching events, plus what replay needs
// of their connection and channel: the connection's handshake and close, and the open and close
// of each channel that carries a recorded event) and `--record-bodies none|head:N` (body
// frames cut to the first N bytes of their message, each saying how many bytes it left out).
// Sits between the bus and the recorder; with neither option it is not there at all.

import { encodeFrame } from '../decoder/frame-codec.js';
import { FRAME_BODY } from '../decoder/types.js';
import type { Direction, EventSink, FrameEvent, SpyEvent } from '../events.js';
import { UsageError } from '../errors.js';
import type { Filter } from '../view/filter.js';

export interface RecordSelection {
  /** only events it matches are recorded (with their setup); undefined: every event */
  readonly filter?: Filter;
  /** body bytes kept per message (0: none); undefined: whole bodies */
  readonly bodyHead?: number;
}

/** `none` → 0, `head:N` → N (a size: 512, 4KiB), `all` → undefined. */
export function parseRecordBodies(text: string): number | undefined {
  if (text === 'all') return undefined;
  if (text === 'none') return 0;
  const m = /^head:(\d+)\s*(B|KB|KiB|MB|MiB)?$/i.exec(text);
  if (m) {
    const unit = ({ b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 * 1024 } as Record<string, number>)[(m[2] ?? 'b').toLowerCase()]!;
    const n = Number(m[1]) * unit;
    if (Number.isSafeInteger(n)) return n;
  }
  throw new UsageError(`--record-bodies takes none, head:N (bytes per message, e.g. head:256 or head:4KiB) or all, got "${text}"`);
}

/** The header's `bodies` field for a body head: `none`, `head:256`. */
export function describeBodies(head: number): string {
  return head === 0 ? 'none' : `head:${head}`;
}

/** Handshake events held for a connection not yet recorded (a hostile one cannot grow it). */
const MAX_SETUP_EVENTS = 32;

interface ChannelState {
  /** its channel.open (and open-ok) are in the file */
  written: boolean;
  /** channel.open / open-ok, held until the channel carries a recorded event */
  opening: FrameEvent[];
  /** content frames (method, header, body) of the message in progress, by direction, until its message event decides */
  c2s: FrameEvent[];
  s2c: FrameEvent[];
}

interface ConnectionState {
  /** conn.open and the handshake are in the file */
  written: boolean;
  setup: SpyEvent[];
  channels: Map<number, ChannelState>;
}

export interface SelectionSink extends EventSink {
  /** events given, and events passed on to the recording */
  readonly counts: { readonly seen: number; readonly recorded: number };
}

/** The recorder's sink behind a selection. */
export function selectForRecording(selection: RecordSelection, next: EventSink): SelectionSink {
  const trimmed = selection.bodyHead !== undefined ? trimBodies(selection.bodyHead, next) : next;
  const counts = { seen: 0, recorded: 0 };
  const write: EventSink = (e) => {
    counts.recorded++;
    trimmed(e);
  };
  const filter = selection.filter;
  if (filter === undefined || filter.empty) {
    return Object.assign(
      (e: SpyEvent) => {
        counts.seen++;
        write(e);
      },
      { counts },
    );
  }
  const conns = new Map<number, ConnectionState>();

  const connection = (conn: number): ConnectionState => {
    let state = conns.get(conn);
    if (state === undefined) {
      // events of a connection whose open came before (cannot happen live): recorded as they come
      state = { written: true, setup: [], channels: new Map() };
      conns.set(conn, state);
    }
    return state;
  };
  const ensureConnection = (state: ConnectionState): void => {
    if (state.written) return;
    state.written = true;
    for (const e of state.setup) write(e);
    state.setup = [];
  };
  const channelState = (state: ConnectionState, channel: number): ChannelState => {
    let ch = state.channels.get(channel);
    if (ch === undefined) {
      ch = { written: true, opening: [], c2s: [], s2c: [] };
      state.channels.set(channel, ch);
    }
    return ch;
  };
  const ensureChannel = (state: ConnectionState, ch: ChannelState): void => {
    ensureConnection(state);
    if (ch.written) return;
    ch.written = true;
    for (const e of ch.opening) write(e);
    ch.opening = [];
  };
  const pendingOf = (ch: ChannelState, dir: Direction): FrameEvent[] => (dir === 'c2s' ? ch.c2s : ch.s2c);

  const onFrame = (e: FrameEvent, state: ConnectionState): void => {
    const frame = e.frame;
    if (e.channel === 0) {
      // the connection's own frames: its handshake is held, its close follows a recorded connection
      if (frame.type === 'method' && frame.method.classId === 10) {
        if (state.written) write(e);
        else if (state.setup.length < MAX_SETUP_EVENTS) state.setup.push(e);
      } else if (filter.matches(e)) {
        ensureConnection(state);
        write(e);
      }
      return;
    }
    if (frame.type === 'method') {
      const name = frame.method.name;
      if (name === 'channel.open') {
        const ch: ChannelState = { written: false, opening: [e], c2s: [], s2c: [] };
        state.channels.set(e.channel, ch);
        if (filter.matches(e)) ensureChannel(state, ch);
        return;
      }
      const ch = channelState(state, e.channel);
      if (name === 'channel.open-ok' && !ch.written) {
        ch.opening.push(e);
        if (filter.matches(e)) ensureChannel(state, ch);
        return;
      }
      if (name === 'channel.close' || name === 'channel.close-ok') {
        if (ch.written || filter.matches(e)) {
          ensureChannel(state, ch);
          write(e);
        }
        if (name === 'channel.close-ok') state.channels.delete(e.channel);
        return;
      }
      if (frame.method.spec.content) {
        // a new message: what is left of the one before (frames after a cut) is not its
        const pending = pendingOf(ch, e.dir);
        pending.length = 0;
        pending.push(e);
        return;
      }
      if (filter.matches(e)) {
        ensureChannel(state, ch);
        write(e);
      }
      return;
    }
    if (frame.type === 'header' || frame.type === 'body') {
      const pending = pendingOf(channelState(state, e.channel), e.dir);
      // frames of a message whose method was never seen are frames only: left out with it
      if (pending.length > 0) pending.push(e);
      return;
    }
    if (filter.matches(e)) {
      ensureChannel(state, channelState(state, e.channel));
      write(e);
    }
  };

  const sink: EventSink = (e) => {
    counts.seen++;
    switch (e.kind) {
      case 'conn.open':
        conns.set(e.conn, { written: false, setup: [e], channels: new Map() });
        return;
      case 'protocol-header': {
        const state = connection(e.conn);
        if (state.written) write(e);
        else if (state.setup.length < MAX_SETUP_EVENTS) state.setup.push(e);
        return;
      }
      case 'frame':
        onFrame(e, connection(e.conn));
        return;
      case 'message': {
        const state = connection(e.conn);
        const ch = channelState(state, e.channel);
        const pending = pendingOf(ch, e.dir);
        const frames = pending.filter((f) => e.frames.includes(f.seq));
        pending.length = 0;
        if (frames.length > 0 && filter.matches(e)) {
          ensureChannel(state, ch);
          for (const f of frames) write(f);
        }
        return;
      }
      case 'conn.close': {
        const state = conns.get(e.conn);
        conns.delete(e.conn);
        if (state?.written) write(e);
        return;
      }
      default:
        if (filter.matches(e)) {
          ensureConnection(connection(e.conn));
          write(e);
        }
    }
  };
  return Object.assign(sink, { counts });
}

/**
 * Cuts body frames to the first `head` bytes of their message. A cut frame is a well-formed
 * frame of the bytes kept, with `bodyOmitted`: replay takes it as standing for the rest.
 */
function trimBodies(head: number, next: EventSink): EventSink {
  /** body bytes seen so far of each message in progress, by connection, then channel and direction */
  const seen = new Map<number, Map<number, number>>();
  return (e) => {
    if (e.kind === 'conn.close') seen.delete(e.conn);
    if (e.kind !== 'frame' || (e.frame.type !== 'header' && e.frame.type !== 'body')) {
      next(e);
      return;
    }
    let ofConn = seen.get(e.conn);
    if (ofConn === undefined) seen.set(e.conn, (ofConn = new Map()));
    const key = e.channel * 2 + (e.dir === 'c2s' ? 0 : 1);
    if (e.frame.type === 'header') {
      ofConn.set(key, 0);
      next(e);
      return;
    }
    const body = e.frame.body;
    const before = ofConn.get(key) ?? 0;
    ofConn.set(key, before + body.length);
    const keep = Math.max(0, Math.min(body.length, head - before));
    if (keep === body.length) {
      next(e);
      return;
    }
    const kept = body.subarray(0, keep);
    const raw = encodeFrame(FRAME_BODY, e.channel, kept);
    const cut: FrameEvent = {
      ...e,
      raw,
      frame: { type: 'body', channel: e.channel, body: raw.subarray(7, 7 + keep) },
      bodyOmitted: body.length - keep,
    };
    // a body frame holds no credentials: nothing to keep unmasked
    delete (cut as { secretRaw?: Uint8Array }).secretRaw;
    next(cut);
  };
}
