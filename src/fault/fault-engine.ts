// The fault engine: the proxy's interposer while rules are armed. Each connection's bytes are
// cut into frames (one FrameParser per direction); a frame is forwarded, held (delay, rate),
// swallowed, or answered with frames the engine writes, so that both peers stay in a state the
// protocol allows: what one side is told, the other is told too, and the replies neither
// expects are swallowed. Frames run through each direction's Outlet in order, so holding
// one holds what follows it, as TCP would.

import { DecodeError } from '../decoder/errors.js';
import { isFieldTable } from '../decoder/field-table.js';
import { decodeFrame, encodeMethodFrame } from '../decoder/frame-codec.js';
import { FrameParser } from '../decoder/frame-parser.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_OVERHEAD, type DecodedMethod, type RawFrame } from '../decoder/types.js';
import type { Direction, FrameEvent } from '../events.js';
import type { InterposedConnection, InterposedSide, Interposer, RelayControl } from '../proxy/interposer.js';
import { ArmedRule, checkRoom, MAX_RULES } from './armed-rule.js';
import { ConnectionActionError, type ConnectionAction, type FaultControl, type FaultRuleInfo } from './fault-control.js';
import type { FaultAction, FaultRule } from './fault-rule.js';
import { channelCloseText, connectionCloseText, replyCodeName, type LoginContext } from './wording.js';

export interface FaultEngineOptions {
  /** one-line notices for people: a fault a client cannot be told of */
  readonly notice?: (line: string) => void;
  /** for tests: the chance draw (default Math.random) */
  readonly random?: () => number;
}

/**
 * The rules every connection reads: replaced, never changed in place, when one is added or
 * removed, so a connection that runs them on a frame sees one list throughout.
 */
interface RuleSet {
  rules: readonly ArmedRule[];
}

export class FaultEngine implements Interposer, FaultControl {
  readonly #set: RuleSet;
  readonly #random: () => number;
  readonly #notice: (line: string) => void;
  readonly #connections = new Map<number, ConnectionFaults>();
  /** rules removed since the start, still counted in the summary */
  readonly #removed: ArmedRule[] = [];
  #nextId = 1;

  constructor(rules: readonly FaultRule[], options: FaultEngineOptions = {}) {
    const now = Date.now();
    this.#set = { rules: rules.map((rule) => new ArmedRule(this.#nextId++, rule, now)) };
    this.#random = options.random ?? Math.random;
    this.#notice = options.notice ?? (() => {});
  }

  /** Each rule's matches and firings so far (removed ones too), for a summary. */
  stats(): { readonly rule: string; readonly matches: number; readonly fired: number }[] {
    return [...this.#removed, ...this.#set.rules].sort((a, b) => a.id - b.id).map((r) => ({ rule: r.rule.source, matches: r.matches, fired: r.fired }));
  }

  open(control: RelayControl): InterposedConnection {
    const connection = new ConnectionFaults(control, this.#set, this.#random, this.#notice, () => this.#connections.delete(control.id));
    this.#connections.set(control.id, connection);
    return connection;
  }

  list(): FaultRuleInfo[] {
    const now = Date.now();
    return this.#set.rules.map((r) => r.info(now));
  }

  add(rules: readonly FaultRule[]): FaultRuleInfo[] {
    checkRoom(this.#set.rules.length, rules.length);
    const now = Date.now();
    const armed = rules.map((rule) => new ArmedRule(this.#nextId++, rule, now));
    this.#set.rules = [...this.#set.rules, ...armed];
    return armed.map((r) => r.info(now));
  }

  remove(id: number): boolean {
    const rule = this.#set.rules.find((r) => r.id === id);
    if (rule === undefined) return false;
    this.#set.rules = this.#set.rules.filter((r) => r !== rule);
    this.#keepRemoved([rule]);
    this.#released(rule);
    return true;
  }

  removeAll(): number {
    const rules = this.#set.rules;
    this.#set.rules = [];
    this.#keepRemoved(rules);
    for (const rule of rules) this.#released(rule);
    return rules.length;
  }

  setArmed(id: number, armed: boolean): FaultRuleInfo | undefined {
    const rule = this.#set.rules.find((r) => r.id === id);
    if (rule === undefined) return undefined;
    if (armed && rule.disarmed) {
      rule.disarmed = false;
      rule.armedAt = Date.now(); // its duration counts from now
    } else if (!armed && !rule.disarmed) {
      rule.disarmed = true;
      this.#released(rule);
    }
    return rule.info(Date.now());
  }

  act(connection: number, action: ConnectionAction): string {
    const target = this.#connections.get(connection);
    if (target === undefined) throw new ConnectionActionError(`no connection ${connection} is open (through the proxy)`, 404);
    return target.act(action);
  }

  /** Removed rules stay in the summary: the last MAX_RULES of them (rules come and go all session long). */
  #keepRemoved(rules: readonly ArmedRule[]): void {
    this.#removed.push(...rules);
    if (this.#removed.length > MAX_RULES) this.#removed.splice(0, this.#removed.length - MAX_RULES);
  }

  /** What a rule no longer armed held is let go on every connection. */
  #released(rule: ArmedRule): void {
    for (const connection of this.#connections.values()) connection.release(rule);
  }
}

export { MAX_RULES } from './armed-rule.js';
/** Frames as large as RabbitMQ's largest message in one frame; past it a direction passes undecoded. */
const FRAME_CAP = 128 * 1024 * 1024 + FRAME_OVERHEAD;
/** Bytes an Outlet may hold before its sender is no longer read, and below which it is again. */
const HOLD_ABOVE = 1024 * 1024;
const RESUME_BELOW = 256 * 1024;
/**
 * A cancel that follows a consume-ok is told this much later: clients register a consumer only
 * once they handle its consume-ok (@cloudamqp/amqp-client in a later tick), and drop a cancel for
 * a consumer they do not know yet.
 */
const CANCEL_AFTER_CONSUME_OK_MS = 20;
const FRAME_HEAD = 7;
const FRAME_END_BYTE = 0xce;
/** A method frame split over reads larger than this is not followed (no method the engine follows is near it). */
const FOLLOW_COPY_MAX = 1024 * 1024;
/** class-id × 65536 + method-id of basic.publish: counted on confirm channels, never decoded when followed */
const BASIC_PUBLISH = 60 * 65536 + 40;
/**
 * The methods a followed frame is decoded for (see ConnectionFaults.#follow): what #track and
 * #confirm read. connection.start-ok, open, open-ok; channel.open, close-ok; confirm.select;
 * basic.ack, basic.nack.
 */
const FOLLOWED = new Set([
  10 * 65536 + 11,
  10 * 65536 + 40,
  10 * 65536 + 41,
  20 * 65536 + 10,
  20 * 65536 + 41,
  85 * 65536 + 10,
  60 * 65536 + 80,
  60 * 65536 + 120,
]);
/** How long a client may take to answer an injected connection.close before its socket is ended anyway. */
const CLOSE_OK_WAIT_MS = 2000;

/** cut-fin / cut-reset: end both sockets, in order after what was queued before */
type OutOp = 'forward' | 'inject' | 'suppress' | 'end' | 'cut-fin' | 'cut-reset';

interface Queued {
  readonly op: OutOp;
  readonly bytes: Uint8Array;
  /** not written before this time (ms) */
  at: number;
}

/**
 * One direction's way out: writes at once while nothing is held, else queues in order. Forwarded
 * frames that lie next to each other in one read are written as one slice.
 */
class Outlet {
  readonly #side: InterposedSide;
  readonly #cut: (how: 'fin' | 'reset') => void;
  readonly #queue: Queued[] = [];
  #head = 0;
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #held = false;
  /** forwarded bytes not yet written: consecutive slices of one buffer grow it */
  #pending: Uint8Array | undefined;
  #closed = false;
  /** everything queues, nothing leaves (a blocked connection's publishes) */
  #gated = false;

  constructor(side: InterposedSide, cut: (how: 'fin' | 'reset') => void) {
    this.#side = side;
    this.#cut = cut;
  }

  push(op: OutOp, bytes: Uint8Array, notBefore = 0): void {
    if (this.#closed) return;
    const last = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1]!.at : 0;
    const at = Math.max(notBefore, last);
    if (this.#queue.length === this.#head && at <= Date.now() && !this.#gated) {
      this.#run(op, bytes);
      return;
    }
    this.flush();
    this.#queue.push({ op, bytes, at });
    this.#queuedBytes += bytes.length;
    if (!this.#held && this.#queuedBytes > HOLD_ABOVE) {
      this.#held = true;
      this.#side.holdSender(true);
    }
    this.#schedule();
  }

  /** What waits for its time (a delay, a rate) goes now, in order: the rule that held it is gone. */
  releaseTimed(): void {
    if (this.#queue.length === this.#head) return;
    for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]!.at = 0;
    clearTimeout(this.#timer);
    this.#release();
  }

  /** Holds (true) or releases everything pushed, in order. */
  gate(on: boolean): void {
    this.#gated = on;
    if (!on) this.#release();
  }

  /** Writes the forwarded bytes gathered from one read. */
  flush(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#side.forward(pending);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#queue.length = 0;
    this.#pending = undefined;
  }

  #run(op: OutOp, bytes: Uint8Array): void {
    if (op === 'forward') {
      const pending = this.#pending;
      if (pending !== undefined && pending.buffer === bytes.buffer && pending.byteOffset + pending.length === bytes.byteOffset) {
        this.#pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.length + bytes.length);
      } else {
        this.flush();
        this.#pending = bytes;
      }
      return;
    }
    this.flush();
    if (op === 'inject') this.#side.inject(bytes);
    else if (op === 'suppress') this.#side.suppress(bytes);
    else if (op === 'end') this.#side.end();
    else this.#cut(op === 'cut-fin' ? 'fin' : 'reset');
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#gated) return;
    const next = this.#queue[this.#head];
    if (next === undefined) return;
    this.#timer = setTimeout(() => this.#release(), Math.max(0, next.at - Date.now()));
  }

  #release(): void {
    this.#timer = undefined;
    if (this.#gated || this.#closed) return;
    const now = Date.now();
    while (this.#head < this.#queue.length && this.#queue[this.#head]!.at <= now) {
      const item = this.#queue[this.#head++]!;
      this.#queuedBytes -= item.bytes.length;
      this.#run(item.op, item.bytes);
    }
    this.flush();
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    if (this.#held && this.#queuedBytes < RESUME_BELOW) {
      this.#held = false;
      this.#side.holdSender(false);
    }
    this.#schedule();
  }
}

interface DeadChannel {
  /** the client has not yet answered our channel.close with close-ok */
  awaitClient: boolean;
  /** the broker has not yet answered our channel.close with close-ok */
  awaitUpstream: boolean;
  /** client frames of a reopened channel, held until the broker's close-ok ends the old one */
  readonly held: RawFrame[];
  /**
   * The closes to send once the content of the method they answer has come (RabbitMQ answers
   * a publish after its body): bytes of it still to come, -1 before its content header.
   */
  pending: { readonly send: () => void; remaining: number } | undefined;
}

interface ChannelState {
  /** confirm.select was sent: publishes are numbered from 1 */
  confirm: boolean;
  published: number;
  /** publish numbers not yet confirmed, ascending */
  readonly outstanding: number[];
  /** publish numbers a nack rule chose: the client gets basic.nack for them */
  readonly nack: Set<number>;
  dead: DeadChannel | undefined;
  /** a cancel-consumer rule fired on a basic.consume: cancel the consumer its consume-ok names */
  cancelNextConsumer: boolean;
  /** consumers cancelled upstream by a rule, their cancel-ok not yet swallowed */
  readonly cancelling: Set<string>;
  /** a delivery to a cancelled consumer was swallowed: its content frames are too */
  dropContent: boolean;
  /** the client is told of a cancel once the delivery that fired it has all its content (bytes still to come, -1 before its header) */
  notifyAfterContent: { readonly tag: string; remaining: number } | undefined;
}

interface DirectionState {
  readonly parser: FrameParser;
  readonly out: Outlet;
  /** decoding failed: the rest of this direction is forwarded as it comes */
  passthrough: boolean;
  /** stream offset of the next byte read */
  offset: number;
  /** rate rules that fired on a channel's content method: its content frames count too */
  readonly contentRates: Map<number, readonly ArmedRule[]>;
  /** each rate rule's time (ms) from which its bucket is free again */
  readonly rateFree: Map<ArmedRule, number>;
  /**
   * Stream offset up to which bytes were forwarded whole, chunk by chunk, while no rule was
   * armed: frames before it are only followed, never acted on (a rule armed meanwhile acts from
   * the next frame on).
   */
  sentTo: number;
  /** frame boundaries read without the parser while idle (see ConnectionFaults.#scan) */
  readonly scan: IdleScan;
  /** a cut/reset rule with after-bytes fired: the connection is cut at this offset of the stream */
  cutAt: { readonly offset: number; readonly op: 'cut-fin' | 'cut-reset'; readonly rule: string; readonly by: ArmedRule } | undefined;
}

/** Where an idle direction's scan is: in a frame header, or in a frame's payload. */
interface IdleScan {
  /** the parser stepped aside: its offset is where the scan began */
  on: boolean;
  readonly head: Uint8Array;
  headFill: number;
  /** bytes of the current frame still to come (payload and end byte) */
  remaining: number;
  type: number;
  channel: number;
  /** stream offset of the current frame */
  start: number;
  /** a method frame split over reads, gathered to be followed */
  keep: Uint8Array | undefined;
  keepFill: number;
}

interface BlockState {
  /** the rule that blocked the connection (undefined: a one-shot action) */
  readonly by: ArmedRule | undefined;
  /** the client announced the capability and got connection.blocked */
  readonly told: boolean;
  /** a publish came: the client's bytes are held, and it is not read */
  holding: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface ConnectionClosing {
  awaitClient: boolean;
  awaitUpstream: boolean;
  /** the broker's FIN came while the client had not yet answered: passed on after its close-ok */
  endClientPending: boolean;
  /** the client's FIN came before the broker's close-ok: passed on after it (RabbitMQ gives up on a close whose socket ends first) */
  endUpstreamPending: boolean;
  timer: NodeJS.Timeout | undefined;
}

class ConnectionFaults implements InterposedConnection {
  readonly #control: RelayControl;
  readonly #set: RuleSet;
  readonly #random: () => number;
  readonly #notice: (line: string) => void;
  readonly #onClosed: () => void;
  readonly #dirs: Record<Direction, DirectionState>;
  readonly #channels = new Map<number, ChannelState>();
  readonly #login = { vhost: '/', user: '' };
  /** connection.open-ok seen: a connection.close may be injected */
  #open = false;
  /** the client's capabilities (connection.start-ok): who may be told of a block or a cancel */
  readonly #capabilities = { blocked: false, cancelNotify: false, product: '' };
  /** a block rule fired: the client is told, and not read from its next publish on */
  #blocked: BlockState | undefined;
  #closing: ConnectionClosing | undefined;
  /** a cut/reset rule's cut is queued: no frame read after it is handled */
  #cutQueued = false;
  /** the rule whose cut is queued, for the close reason */
  #cutRule = '';
  /** the cut ran: nothing more passes */
  #cutBy: 'fin' | 'reset' | undefined;
  /** a direction could not be cut into frames: what is still parsed passes as it is */
  #inert = false;
  /**
   * A rule fired or an action acted on this connection: its frames go through the rules one by
   * one from then on (what a rule started, a dead channel, a block, may still need them).
   */
  #acted = false;

  constructor(control: RelayControl, set: RuleSet, random: () => number, notice: (line: string) => void, onClosed: () => void) {
    this.#control = control;
    this.#set = set;
    this.#random = random;
    this.#notice = notice;
    this.#onClosed = onClosed;
    const direction = (dir: Direction): DirectionState => ({
      parser: new FrameParser({ expectProtocolHeader: 'auto', frameMax: FRAME_CAP }),
      out: new Outlet(control[dir], (how) => this.#cutNow(how)),
      passthrough: false,
      offset: 0,
      contentRates: new Map(),
      rateFree: new Map(),
      sentTo: 0,
      scan: { on: false, head: new Uint8Array(FRAME_HEAD), headFill: 0, remaining: 0, type: 0, channel: 0, start: 0, keep: undefined, keepFill: 0 },
      cutAt: undefined,
    });
    this.#dirs = { c2s: direction('c2s'), s2c: direction('s2c') };
  }

  data(dir: Direction, chunk: Buffer): void {
    if (this.#cutBy !== undefined) return;
    const state = this.#dirs[dir];
    if (state.passthrough) {
      state.out.push('forward', chunk);
      state.out.flush();
      return;
    }
    let chunkStart = state.offset;
    state.offset += chunk.length;
    // no rule armed, none ever acted here, every byte before this chunk handled: the chunk goes
    // whole, as the plain relay would send it, and its frames are only followed (see #follow)
    const idle = this.#set.rules.length === 0 && !this.#acted && state.sentTo === chunkStart;
    if (idle) {
      state.out.push('forward', chunk);
      state.sentTo = state.offset;
      // past the protocol header and at a frame boundary, the parser steps aside: #scan finds
      // the boundaries without making frames
      const parser = state.parser;
      if (state.scan.on || (parser.offset === chunkStart && parser.offset > 0 && parser.buffered === 0 && !parser.stopped)) {
        state.scan.on = true;
        if (this.#scan(dir, state, chunk, chunkStart, false) < 0) this.#scanFailed(state);
        this.#dirs.c2s.out.flush();
        this.#dirs.s2c.out.flush();
        return;
      }
    } else if (state.scan.on) {
      // a rule was armed while a frame was being scanned: it passes as it began (its start is
      // forwarded already), and the parser takes over at its end
      const used = this.#scan(dir, state, chunk, chunkStart, true);
      if (used < 0) {
        this.#scanFailed(state);
        state.out.push('forward', chunk);
        state.out.flush();
        return;
      }
      if (used > 0) state.out.push('forward', chunk.subarray(0, used));
      state.sentTo = chunkStart + used;
      if (state.scan.remaining > 0 || state.scan.headFill > 0) {
        state.out.flush();
        return;
      }
      state.scan.on = false;
      state.parser.skip(chunkStart + used - state.parser.offset);
      chunk = chunk.subarray(used);
      chunkStart += used;
    }
    for (const item of state.parser.push(chunk)) {
      if (item.kind === 'frame') {
        if (item.frame.offset < state.sentTo) this.#follow(dir, item.frame, state);
        else this.#frame(dir, item.frame);
      } else if (item.kind === 'protocol-header') this.#sendUnsent(state, 0, item.header.raw);
      else {
        // not AMQP frames any more: forward the rest unchanged (what the broker makes of it is its
        // own); a frame injected into a stream cut at no boundary would corrupt it, so no rule
        // acts on this connection any more
        state.passthrough = true;
        this.#inert = true;
        if (item.held.length > 0) this.#sendUnsent(state, item.undecodedFrom, item.held);
        const from = Math.max(0, item.undecodedFrom + item.held.length - chunkStart);
        if (from < chunk.length) this.#sendUnsent(state, chunkStart + from, chunk.subarray(from));
      }
    }
    // every byte read so far is handled (forwarded, queued or swallowed): the next chunk may go whole
    if (state.sentTo < state.offset && state.parser.buffered === 0) state.sentTo = state.offset;
    this.#dirs.c2s.out.flush();
    this.#dirs.s2c.out.flush();
  }

  /** Forwards what of `bytes` (at `offset` in the stream) was not forwarded whole already. */
  #sendUnsent(state: DirectionState, offset: number, bytes: Uint8Array): void {
    const sent = Math.max(0, state.sentTo - offset);
    if (sent < bytes.length) state.out.push('forward', sent === 0 ? bytes : bytes.subarray(sent));
  }

  /**
   * A frame forwarded (whole, or its start) with its chunk while no rule was armed: no rule acts
   * on it, but the engine follows what it must know of the conversation (the login, channels,
   * publish numbers), decoding only the few methods that tell it. Its unsent end is forwarded.
   */
  #follow(dir: Direction, frame: RawFrame, state: DirectionState): void {
    if (frame.offset + frame.raw.length > state.sentTo) this.#sendUnsent(state, frame.offset, frame.raw);
    this.#followFrame(dir, frame);
  }

  /** A publish followed: numbered on a confirm channel, as #track numbers it. */
  #countPublish(channelNo: number): void {
    const channel = this.#channels.get(channelNo);
    if (channel?.confirm) {
      channel.published++;
      channel.outstanding.push(channel.published);
    }
  }

  /** What the engine must know of a frame it does not act on (see #follow). */
  #followFrame(dir: Direction, frame: RawFrame): void {
    if (frame.type !== FRAME_METHOD || frame.payload.length < 4) return;
    const p = frame.payload;
    const key = ((p[0]! << 8) | p[1]!) * 65536 + ((p[2]! << 8) | p[3]!);
    if (key === BASIC_PUBLISH) {
      this.#countPublish(frame.channel);
      return;
    }
    if (!FOLLOWED.has(key)) return;
    const channel = frame.channel > 0 ? this.#channels.get(frame.channel) : undefined;
    let method: DecodedMethod;
    try {
      const decoded = decodeFrame(frame);
      if (decoded.type !== 'method') return;
      method = decoded.method;
    } catch (error) {
      if (error instanceof DecodeError) return;
      throw error;
    }
    if (dir === 's2c' && (method.name === 'basic.ack' || method.name === 'basic.nack')) {
      if (channel?.confirm) this.#confirm(frame, method, channel);
    } else this.#track(dir, frame.channel, method, channel);
  }

  /**
   * Reads frame boundaries in a chunk already forwarded, without the parser: only methods the
   * engine follows are looked at (a method frame split over reads is copied, nothing else).
   * With `stopAtBoundary`, stops at the first frame boundary. Returns the bytes read, -1 when
   * the bytes are not AMQP frames.
   */
  #scan(dir: Direction, state: DirectionState, chunk: Uint8Array, chunkStart: number, stopAtBoundary: boolean): number {
    const s = state.scan;
    let i = 0;
    while (i < chunk.length) {
      if (s.remaining === 0) {
        if (stopAtBoundary && s.headFill === 0) return i;
        let head: Uint8Array;
        let at: number;
        if (s.headFill === 0 && i + FRAME_HEAD <= chunk.length) {
          // the usual case: the header is read where it lies
          head = chunk;
          at = i;
          i += FRAME_HEAD;
        } else {
          const take = Math.min(FRAME_HEAD - s.headFill, chunk.length - i);
          s.head.set(chunk.subarray(i, i + take), s.headFill);
          s.headFill += take;
          i += take;
          if (s.headFill < FRAME_HEAD) break;
          s.headFill = 0;
          head = s.head;
          at = 0;
        }
        const type = head[at]!;
        const size = ((head[at + 3]! << 24) >>> 0) + ((head[at + 4]! << 16) | (head[at + 5]! << 8) | head[at + 6]!);
        if ((type !== FRAME_METHOD && type !== FRAME_HEADER && type !== FRAME_BODY && type !== FRAME_HEARTBEAT) || size + FRAME_OVERHEAD > FRAME_CAP) return -1;
        const channel = (head[at + 1]! << 8) | head[at + 2]!;
        const start = chunkStart + i - FRAME_HEAD;
        if (head === chunk && i + size + 1 <= chunk.length) {
          // the whole frame is in this chunk: looked at in place
          if (chunk[i + size] !== FRAME_END_BYTE) return -1;
          if (type === FRAME_METHOD && size >= 4) {
            const key = ((chunk[i]! << 8) | chunk[i + 1]!) * 65536 + ((chunk[i + 2]! << 8) | chunk[i + 3]!);
            if (key === BASIC_PUBLISH) this.#countPublish(channel);
            else if (FOLLOWED.has(key)) {
              const raw = chunk.subarray(i - FRAME_HEAD, i + size + 1);
              this.#followFrame(dir, { type, channel, payload: raw.subarray(FRAME_HEAD, FRAME_HEAD + size), raw, offset: start });
            }
          }
          i += size + 1;
          continue;
        }
        s.type = type;
        s.channel = channel;
        s.start = start;
        s.remaining = size + 1;
        s.keep = undefined;
        if (type === FRAME_METHOD && size <= FOLLOW_COPY_MAX) {
          s.keep = new Uint8Array(FRAME_HEAD + size + 1);
          s.keep.set(head.subarray(at, at + FRAME_HEAD));
          s.keepFill = FRAME_HEAD;
        }
        continue;
      }
      const take = Math.min(s.remaining, chunk.length - i);
      if (s.keep !== undefined) {
        s.keep.set(chunk.subarray(i, i + take), s.keepFill);
        s.keepFill += take;
      }
      i += take;
      s.remaining -= take;
      if (s.remaining > 0) break;
      if (chunk[i - 1] !== FRAME_END_BYTE) return -1;
      const raw = s.keep;
      s.keep = undefined;
      if (raw !== undefined)
        this.#followFrame(dir, { type: s.type, channel: s.channel, payload: raw.subarray(FRAME_HEAD, raw.length - 1), raw, offset: s.start });
    }
    return i;
  }

  /** A scanned direction is not AMQP frames: what comes passes as it is, and no rule acts on the connection. */
  #scanFailed(state: DirectionState): void {
    state.passthrough = true;
    state.scan.on = false;
    this.#inert = true;
  }

  ended(dir: Direction): void {
    const closing = this.#closing;
    if (dir === 's2c' && closing?.awaitClient) {
      closing.endClientPending = true;
      return;
    }
    if (dir === 'c2s' && closing?.awaitUpstream) {
      closing.endUpstreamPending = true;
      return;
    }
    this.#dirs[dir].out.push('end', EMPTY);
  }

  closed(): void {
    this.#onClosed();
    clearTimeout(this.#blocked?.timer);
    this.#dirs.c2s.out.close();
    this.#dirs.s2c.out.close();
    clearTimeout(this.#closing?.timer);
  }

  /**
   * A rule was removed or disarmed: what it holds on this connection is let go. A block it
   * made is lifted (connection.unblocked); frames waiting for a delay or a rate go now, in order
   * (those another timed rule holds too); an after-bytes cut not yet reached is called off.
   */
  release(rule: ArmedRule): void {
    if (this.#cutBy !== undefined) return;
    if (this.#blocked !== undefined && this.#blocked.by === rule) this.#unblock();
    if (rule.action.kind === 'delay' || rule.action.kind === 'rate') {
      for (const state of [this.#dirs.c2s, this.#dirs.s2c]) {
        state.rateFree.delete(rule);
        for (const [channelNo, rates] of state.contentRates) {
          if (rates.includes(rule))
            state.contentRates.set(
              channelNo,
              rates.filter((r) => r !== rule),
            );
        }
        state.out.releaseTimed();
      }
    }
    for (const state of [this.#dirs.c2s, this.#dirs.s2c]) if (state.cutAt?.by === rule) state.cutAt = undefined;
    this.#dirs.c2s.out.flush();
    this.#dirs.s2c.out.flush();
  }

  /** A one-shot action from the control API or the TUI, now. */
  act(action: ConnectionAction): string {
    const who = `connection ${this.#control.id}`;
    const refuse = (why: string): never => {
      throw new ConnectionActionError(`${who} ${why}`, 409);
    };
    if (this.#cutBy !== undefined || this.#cutQueued) refuse('is being cut');
    if (this.#closing !== undefined) refuse('is closing');
    if (this.#inert) refuse('sends what is not AMQP frames: nothing is injected into it');
    const source = `control: ${actionText(action)}`;
    this.#acted = true;
    let done: string;
    switch (action.kind) {
      case 'close-connection':
        if (!this.#open) refuse('is not open yet (no connection.open-ok)');
        this.#closeConnection('c2s', undefined, undefined, action.code, source);
        done = `connection.close ${action.code} ${replyCodeName(action.code)} sent to the client, the connection closed upstream`;
        break;
      case 'close-channel': {
        const channel = this.#channels.get(action.channel);
        if (channel === undefined || channel.dead !== undefined) refuse(`has no open channel ${action.channel}`);
        channel!.dead = { awaitClient: true, awaitUpstream: true, held: [], pending: undefined };
        this.#dirs.c2s.contentRates.delete(action.channel);
        this.#dirs.s2c.contentRates.delete(action.channel);
        this.#sendChannelClose(action.channel, undefined, action.code, source);
        done = `channel.close ${action.code} ${replyCodeName(action.code)} sent on channel ${action.channel}, the channel closed upstream`;
        break;
      }
      case 'block':
        if (!this.#open) refuse('is not open yet (no connection.open-ok)');
        if (this.#blocked !== undefined) refuse('is blocked already');
        this.#block(action.ms, source, undefined);
        done = `blocked${action.ms === undefined ? '' : ` for ${action.ms} ms`}${this.#capabilities.blocked ? ' (connection.blocked sent)' : ' (the client did not announce connection.blocked: not told)'}`;
        break;
      case 'unblock':
        if (this.#blocked === undefined) refuse('is not blocked');
        this.#unblock();
        done = 'unblocked';
        break;
      case 'cut':
      case 'reset':
        this.#cutRule = source;
        this.#cutQueued = true;
        this.#cutNow(action.kind === 'cut' ? 'fin' : 'reset');
        done = action.kind === 'cut' ? 'cut (FIN to both sides)' : 'reset (RST to both sides)';
        break;
    }
    this.#dirs.c2s.out.flush();
    this.#dirs.s2c.out.flush();
    return `${who}: ${done}`;
  }

  /** A cut/reset rule's cut comes out of its direction's queue: both sockets end. */
  #cutNow(how: 'fin' | 'reset'): void {
    if (this.#cutBy !== undefined) return;
    this.#cutBy = how;
    this.#dirs.c2s.out.close();
    this.#dirs.s2c.out.close();
    this.#control.cut(how, `fault rule ${how === 'fin' ? 'cut' : 'reset'} the connection (${this.#cutRule})`);
  }

  /** Queues the cut after what is queued: nothing of `dir` after it is forwarded. */
  #queueCut(dir: Direction, op: 'cut-fin' | 'cut-reset', rule: string, notBefore: number): void {
    this.#cutRule = rule;
    this.#dirs[dir].out.push(op, EMPTY, notBefore);
    this.#cutQueued = true;
  }

  #frame(dir: Direction, frame: RawFrame): void {
    if (this.#cutQueued) return;
    if (this.#inert) {
      this.#dirs[dir].out.push('forward', frame.raw);
      return;
    }
    let method: DecodedMethod | undefined;
    if (frame.type === FRAME_METHOD) {
      try {
        const decoded = decodeFrame(frame);
        if (decoded.type === 'method') method = decoded.method;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
      }
    }
    if (this.#closing !== undefined) {
      this.#closingFrame(dir, frame, method);
      return;
    }
    const channel = frame.channel > 0 ? this.#channels.get(frame.channel) : undefined;
    if (channel?.dead !== undefined) {
      this.#deadChannelFrame(dir, frame, method, channel, channel.dead);
      return;
    }
    if (dir === 's2c' && channel !== undefined && method !== undefined && channel.confirm && (method.name === 'basic.ack' || method.name === 'basic.nack')) {
      if (this.#confirm(frame, method, channel)) return;
    }
    if (dir === 's2c' && channel !== undefined && (channel.cancelling.size > 0 || channel.dropContent) && this.#cancelledConsumerFrame(frame, method, channel))
      return;
    const notBefore = this.#applyRules(dir, frame, method, channel);
    if (notBefore === undefined) return; // the frame was taken by a rule
    if (method !== undefined) this.#track(dir, frame.channel, method, channel);
    if (channel?.cancelNextConsumer && dir === 's2c' && method?.name === 'basic.consume-ok') {
      channel.cancelNextConsumer = false;
      this.#forward(dir, frame, notBefore);
      this.#cancelConsumer(frame.channel, consumerTag(method), channel, false, Date.now() + CANCEL_AFTER_CONSUME_OK_MS);
      return;
    }
    // blocked: as RabbitMQ, the connection is no longer read once the client publishes
    const blocked = this.#blocked;
    if (blocked !== undefined && !blocked.holding && dir === 'c2s' && method?.name === 'basic.publish') {
      blocked.holding = true;
      this.#dirs.c2s.out.gate(true);
      this.#control.c2s.holdSender(true);
    }
    this.#forward(dir, frame, notBefore);
    const notify = dir === 's2c' ? channel?.notifyAfterContent : undefined;
    if (notify !== undefined && (frame.type === FRAME_HEADER || frame.type === FRAME_BODY)) {
      if (frame.type === FRAME_HEADER && frame.payload.length >= 12) notify.remaining = Number(readBodySize(frame.payload));
      else if (frame.type === FRAME_BODY) notify.remaining -= frame.payload.length;
      if (notify.remaining <= 0) {
        channel!.notifyAfterContent = undefined;
        this.#dirs.s2c.out.push('inject', encodeMethodFrame(frame.channel, 'basic.cancel', { 'consumer-tag': notify.tag, nowait: true }));
      }
    }
  }

  /** Forwards a frame, or the part of it before a cut that falls inside it (then the cut). */
  #forward(dir: Direction, frame: RawFrame, notBefore: number): void {
    const state = this.#dirs[dir];
    const cutAt = state.cutAt;
    if (cutAt === undefined || frame.offset + frame.raw.length <= cutAt.offset) {
      state.out.push('forward', frame.raw, notBefore);
      return;
    }
    const keep = Math.max(0, cutAt.offset - frame.offset);
    if (keep > 0) state.out.push('forward', frame.raw.subarray(0, keep), notBefore);
    this.#queueCut(dir, cutAt.op, cutAt.rule, notBefore);
  }

  /**
   * Runs the armed rules on a frame. Returns when it may be forwarded (0: now), or undefined
   * when a rule took it (swallowed, or answered instead).
   */
  #applyRules(dir: Direction, frame: RawFrame, method: DecodedMethod | undefined, channel: ChannelState | undefined): number | undefined {
    const state = this.#dirs[dir];
    const now = Date.now();
    let notBefore = 0;
    let event: FrameEvent | undefined;
    const eventOf = (): FrameEvent =>
      (event ??= {
        kind: 'frame',
        seq: 0,
        ts: now * 1000,
        conn: this.#control.id,
        dir,
        channel: frame.channel,
        frame: method !== undefined ? { type: 'method', channel: frame.channel, method } : { type: 'heartbeat', channel: frame.channel },
        raw: frame.raw,
        offset: frame.offset,
      });
    // content frames are not matched: they go as their method went (a rate counts their bytes)
    if (frame.type === FRAME_HEADER || frame.type === FRAME_BODY) {
      const rates = state.contentRates.get(frame.channel);
      if (rates !== undefined) for (const rule of rates) notBefore = Math.max(notBefore, this.#rate(state, rule, frame.raw.length, now));
      return notBefore;
    }
    if (method === undefined && frame.type !== FRAME_HEARTBEAT) return 0;
    let rates: ArmedRule[] | undefined;
    for (const rule of this.#set.rules) {
      const action = rule.action;
      if (!this.#applies(action, dir, frame, method, channel) || !rule.armed(now) || !rule.fires(eventOf, this.#random)) continue;
      this.#acted = true;
      switch (action.kind) {
        case 'close-channel':
          this.#closeChannel(frame, method!, action.code, rule);
          return undefined;
        case 'close-connection':
          this.#closeConnection(dir, frame, method, action.code, rule.rule.source);
          return undefined;
        case 'drop-heartbeats':
          state.out.push('suppress', frame.raw, notBefore);
          return undefined;
        case 'block':
          this.#block(action.ms, `fault rule '${rule.rule.source}'`, rule);
          break;
        case 'cancel-consumer':
          if (method!.name === 'basic.consume') channel!.cancelNextConsumer = true;
          else {
            // the consume-ok or delivery goes first: the client then hears of the cancel
            this.#track(dir, frame.channel, method!, channel);
            this.#forward(dir, frame, notBefore);
            this.#cancelConsumer(frame.channel, consumerTag(method!), channel!, method!.name === 'basic.deliver');
            return undefined;
          }
          break;
        case 'unblock':
          this.#unblock();
          break;
        case 'cut':
        case 'reset': {
          const op = action.kind === 'cut' ? 'cut-fin' : 'cut-reset';
          if (action.afterBytes !== undefined) {
            // the bytes before the cut still pass (this frame included, as far as they reach)
            state.cutAt ??= { offset: frame.offset + action.afterBytes, op, rule: rule.rule.source, by: rule };
            break;
          }
          if (action.midFrame) state.out.push('forward', frame.raw.subarray(0, frame.raw.length >> 1), notBefore);
          this.#queueCut(dir, op, rule.rule.source, notBefore);
          return undefined;
        }
        case 'nack':
          channel!.nack.add(channel!.published + 1);
          break;
        case 'delay':
          notBefore = Math.max(notBefore, now + action.ms + (action.jitterMs > 0 ? (this.#random() * 2 - 1) * action.jitterMs : 0));
          break;
        case 'rate':
          notBefore = Math.max(notBefore, this.#rate(state, rule, frame.raw.length, now));
          (rates ??= []).push(rule);
          break;
      }
    }
    if (method?.spec.content) {
      if (rates !== undefined) state.contentRates.set(frame.channel, rates);
      else if (state.contentRates.size > 0) state.contentRates.delete(frame.channel);
    }
    return notBefore;
  }

  /** Whether an action can act on this frame at all (only those count as matches). */
  #applies(action: FaultAction, dir: Direction, frame: RawFrame, method: DecodedMethod | undefined, channel: ChannelState | undefined): boolean {
    switch (action.kind) {
      case 'close-channel':
        // a client method on an open channel, other than the close handshake itself
        return dir === 'c2s' && method !== undefined && channel !== undefined && !method.name.startsWith('channel.');
      case 'close-connection':
        return this.#open && method !== undefined && method.name !== 'connection.close' && method.name !== 'connection.close-ok';
      case 'nack':
        return dir === 'c2s' && method?.name === 'basic.publish' && channel?.confirm === true;
      case 'drop-heartbeats':
        return frame.type === FRAME_HEARTBEAT;
      case 'delay':
      case 'rate':
      case 'cut':
      case 'reset':
        return true;
      case 'block':
        return this.#open && this.#blocked === undefined;
      case 'cancel-consumer': {
        if (channel === undefined || method === undefined) return false;
        if (dir === 'c2s') return method.name === 'basic.consume' && !channel.cancelNextConsumer;
        return (method.name === 'basic.consume-ok' || method.name === 'basic.deliver') && !channel.cancelling.has(consumerTag(method));
      }
      case 'unblock':
        return this.#blocked !== undefined;
    }
  }

  /** When `bytes` more have passed a rate rule's bucket: they go once the time they take at that rate is over. */
  #rate(state: DirectionState, rule: ArmedRule, bytes: number, now: number): number {
    if (rule.action.kind !== 'rate') return 0;
    const done = Math.max(now, state.rateFree.get(rule) ?? 0) + (bytes * 1000) / rule.action.bytesPerSecond;
    state.rateFree.set(rule, done);
    return done;
  }

  /** What the engine must know of the conversation: the login, open channels, publish numbers. */
  #track(dir: Direction, channelNo: number, method: DecodedMethod, channel: ChannelState | undefined): void {
    switch (method.name) {
      case 'connection.start-ok':
        this.#readCapabilities(method);
        if (method.args['mechanism'] === 'PLAIN') {
          const response = method.args['response'];
          const text = typeof response === 'string' ? response : response instanceof Uint8Array ? Buffer.from(response).toString('utf8') : '';
          this.#login.user = text.split('\0')[1] ?? '';
        }
        break;
      case 'connection.open':
        if (typeof method.args['virtual-host'] === 'string') this.#login.vhost = method.args['virtual-host'];
        break;
      case 'connection.open-ok':
        this.#open = true;
        break;
      case 'channel.open':
        if (dir === 'c2s') this.#channels.set(channelNo, newChannel());
        break;
      case 'channel.close-ok':
        this.#channels.delete(channelNo);
        break;
      case 'confirm.select':
        if (dir === 'c2s' && channel !== undefined) channel.confirm = true;
        break;
      case 'basic.publish':
        // publishes are numbered on every confirm channel: a nack rule may be armed any time
        if (channel?.confirm) {
          channel.published++;
          channel.outstanding.push(channel.published);
        }
        break;
    }
  }

  /**
   * The broker confirms publishes: when a nack rule chose some of them, the client gets
   * basic.nack for those and basic.ack for the rest, in order, instead. True when the
   * broker's frame was replaced.
   */
  #confirm(frame: RawFrame, method: DecodedMethod, channel: ChannelState): boolean {
    const tag = Number(method.args['delivery-tag']);
    const multiple = method.args['multiple'] === true;
    const outstanding = channel.outstanding;
    let settled: number[];
    if (multiple) {
      let end = 0;
      while (end < outstanding.length && (tag === 0 || outstanding[end]! <= tag)) end++;
      settled = outstanding.splice(0, end);
    } else {
      const at = outstanding.indexOf(tag);
      settled = at < 0 ? [] : outstanding.splice(at, 1);
    }
    if (method.name === 'basic.nack' || !settled.some((n) => channel.nack.has(n))) {
      for (const n of settled) channel.nack.delete(n);
      return false;
    }
    const s2c = this.#dirs.s2c.out;
    s2c.push('suppress', frame.raw);
    // runs of acks and nacks, ascending: `multiple` settles a run, earlier runs being settled
    let runStart = 0;
    for (let i = 1; i <= settled.length; i++) {
      const nack = channel.nack.has(settled[runStart]!);
      if (i < settled.length && channel.nack.has(settled[i]!) === nack) continue;
      const last = settled[i - 1]!;
      const many = i - runStart > 1;
      s2c.push(
        'inject',
        nack
          ? encodeMethodFrame(frame.channel, 'basic.nack', { 'delivery-tag': last, multiple: many, requeue: false })
          : encodeMethodFrame(frame.channel, 'basic.ack', { 'delivery-tag': last, multiple: many }),
      );
      runStart = i;
    }
    for (const n of settled) channel.nack.delete(n);
    return true;
  }

  #readCapabilities(method: DecodedMethod): void {
    const props = method.args['client-properties'];
    if (!isFieldTable(props)) return;
    for (const [key, value] of props.entries) {
      if (key === 'product' && (value.type === 'S' || value.type === 'x'))
        this.#capabilities.product = Buffer.from(value.value as Uint8Array | string).toString();
      if (key !== 'capabilities' || value.type !== 'F') continue;
      for (const [name, flag] of value.value.entries) {
        if (name === 'connection.blocked') this.#capabilities.blocked = flag.value === true;
        if (name === 'consumer_cancel_notify') this.#capabilities.cancelNotify = flag.value === true;
      }
    }
  }

  /** Who the client is, for notices: `connection 3 (amqplib)`. */
  #who(): string {
    const product = this.#capabilities.product;
    return `connection ${this.#control.id}${product ? ` (${product})` : ''}`;
  }

  #block(ms: number | undefined, what: string, by: ArmedRule | undefined): void {
    const told = this.#capabilities.blocked;
    // RabbitMQ's memory alarm words it so
    if (told) this.#dirs.s2c.out.push('inject', encodeMethodFrame(0, 'connection.blocked', { reason: 'low on memory' }));
    else
      this.#notice(
        `${this.#who()} did not announce the connection.blocked capability: ${what} blocks it without telling it (its publishes are held all the same)`,
      );
    const blocked: BlockState = { by, told, holding: false, timer: undefined };
    if (ms !== undefined) {
      blocked.timer = setTimeout(() => {
        this.#unblock();
        this.#dirs.c2s.out.flush();
        this.#dirs.s2c.out.flush();
      }, ms);
      blocked.timer.unref();
    }
    this.#blocked = blocked;
  }

  #unblock(): void {
    const blocked = this.#blocked;
    if (blocked === undefined) return;
    this.#blocked = undefined;
    clearTimeout(blocked.timer);
    if (blocked.told) this.#dirs.s2c.out.push('inject', encodeMethodFrame(0, 'connection.unblocked'));
    if (blocked.holding) {
      this.#dirs.c2s.out.gate(false);
      this.#control.c2s.holdSender(false);
    }
  }

  /**
   * Cancels a consumer as the broker does when its queue goes: basic.cancel to a client that
   * announced consumer_cancel_notify (others are not told: one notice), and basic.cancel to the
   * broker, whose cancel-ok is swallowed.
   */
  #cancelConsumer(channelNo: number, tag: string, channel: ChannelState, afterContent = false, notBefore = 0): void {
    // a delivery's content frames must follow its method: the client is told after them
    if (afterContent && this.#capabilities.cancelNotify) channel.notifyAfterContent = { tag, remaining: -1 };
    else if (this.#capabilities.cancelNotify)
      this.#dirs.s2c.out.push('inject', encodeMethodFrame(channelNo, 'basic.cancel', { 'consumer-tag': tag, nowait: true }), notBefore);
    else
      this.#notice(
        `${this.#who()} did not announce the consumer_cancel_notify capability: its consumer ${tag} on channel ${channelNo} is cancelled without telling it`,
      );
    this.#dirs.c2s.out.push('inject', encodeMethodFrame(channelNo, 'basic.cancel', { 'consumer-tag': tag, nowait: false }));
    channel.cancelling.add(tag);
  }

  /**
   * Broker frames for a consumer a rule cancelled: its cancel-ok is swallowed, and deliveries
   * still in flight to it are swallowed and rejected upstream with requeue (the client was told
   * the consumer is gone, so they go back to the queue). True when the frame was taken.
   */
  #cancelledConsumerFrame(frame: RawFrame, method: DecodedMethod | undefined, channel: ChannelState): boolean {
    const s2c = this.#dirs.s2c.out;
    if (method === undefined) {
      if (!channel.dropContent || (frame.type !== FRAME_HEADER && frame.type !== FRAME_BODY)) return false;
      s2c.push('suppress', frame.raw);
      return true;
    }
    channel.dropContent = false;
    const name = method.name;
    if (name !== 'basic.cancel-ok' && name !== 'basic.deliver') return false;
    const tag = consumerTag(method);
    if (!channel.cancelling.has(tag)) return false;
    s2c.push('suppress', frame.raw);
    if (name === 'basic.cancel-ok') channel.cancelling.delete(tag);
    else {
      channel.dropContent = true;
      this.#dirs.c2s.out.push(
        'inject',
        encodeMethodFrame(frame.channel, 'basic.reject', { 'delivery-tag': method.args['delivery-tag'] as bigint, requeue: true }),
      );
    }
    return true;
  }

  /** channel.close to the client in answer to its method, and to the broker; the method is swallowed. */
  #closeChannel(frame: RawFrame, method: DecodedMethod, code: number, rule: ArmedRule): void {
    const channelNo = frame.channel;
    const channel = this.#channels.get(channelNo)!;
    this.#dirs.c2s.out.push('suppress', frame.raw);
    const send = (): void => this.#sendChannelClose(channelNo, method, code, rule.rule.source);
    channel.dead = { awaitClient: true, awaitUpstream: true, held: [], pending: method.spec.content ? { send, remaining: -1 } : undefined };
    this.#dirs.c2s.contentRates.delete(channelNo);
    this.#dirs.s2c.contentRates.delete(channelNo);
    if (!method.spec.content) send();
  }

  /** The closes of a channel: `method` is the client's method answered (none for a one-shot action). */
  #sendChannelClose(channelNo: number, method: DecodedMethod | undefined, code: number, source: string): void {
    const { c2s, s2c } = { c2s: this.#dirs.c2s.out, s2c: this.#dirs.s2c.out };
    s2c.push(
      'inject',
      encodeMethodFrame(channelNo, 'channel.close', {
        'reply-code': code,
        'reply-text': method ? channelCloseText(code, method, this.#login satisfies LoginContext) : `${replyCodeName(code)} - injected by amqp-spy`,
        'class-id': method?.classId ?? 0,
        'method-id': method?.methodId ?? 0,
      }),
    );
    c2s.push(
      'inject',
      encodeMethodFrame(channelNo, 'channel.close', {
        'reply-code': 200,
        'reply-text': clip(`amqp-spy fault rule: closed with ${code} ${replyCodeName(code)} to the client (${source})`),
        'class-id': 0,
        'method-id': 0,
      }),
    );
  }

  /**
   * A channel closed by a rule: every frame on it is swallowed but the close-oks each side
   * owes, which are swallowed too (neither side expects the other's). A close sent meanwhile
   * is answered, as RabbitMQ answers one that crosses its own.
   */
  #deadChannelFrame(dir: Direction, frame: RawFrame, method: DecodedMethod | undefined, channel: ChannelState, dead: DeadChannel): void {
    const name = method?.name;
    const channelNo = frame.channel;
    if (dir === 'c2s' && dead.pending !== undefined) {
      // the content of the method being answered: swallowed, then the closes go
      this.#dirs.c2s.out.push('suppress', frame.raw);
      const pending = dead.pending;
      if (frame.type === FRAME_HEADER && frame.payload.length >= 12) pending.remaining = Number(readBodySize(frame.payload));
      else if (frame.type === FRAME_BODY && pending.remaining > 0) pending.remaining -= frame.payload.length;
      else if (frame.type !== FRAME_HEARTBEAT) pending.remaining = 0; // no content after all
      if (pending.remaining === 0 || (frame.type === FRAME_BODY && pending.remaining <= 0)) {
        dead.pending = undefined;
        pending.send();
      }
      return;
    }
    if (dir === 'c2s') {
      if (!dead.awaitClient) {
        // the client is done with the old channel and opens it again: after the broker's close-ok
        dead.held.push(frame);
        return;
      }
      this.#dirs.c2s.out.push('suppress', frame.raw);
      if (name === 'channel.close-ok') dead.awaitClient = false;
      else if (name === 'channel.close') this.#dirs.s2c.out.push('inject', encodeMethodFrame(channelNo, 'channel.close-ok'));
    } else {
      this.#dirs.s2c.out.push('suppress', frame.raw);
      if (name === 'channel.close-ok') dead.awaitUpstream = false;
      else if (name === 'channel.close') this.#dirs.c2s.out.push('inject', encodeMethodFrame(channelNo, 'channel.close-ok'));
    }
    if (dead.awaitClient || dead.awaitUpstream) return;
    if (this.#channels.get(channelNo) === channel) this.#channels.delete(channelNo);
    for (const held of dead.held) this.#frame('c2s', held);
  }

  /**
   * connection.close to the client, and to the broker; every frame after is swallowed. `frame`
   * is the one that fired it (none for a one-shot action).
   */
  #closeConnection(dir: Direction, frame: RawFrame | undefined, method: DecodedMethod | undefined, code: number, source: string): void {
    const { c2s, s2c } = { c2s: this.#dirs.c2s.out, s2c: this.#dirs.s2c.out };
    if (frame !== undefined) this.#dirs[dir].out.push('suppress', frame.raw);
    const cause = dir === 'c2s' && method !== undefined ? method : undefined;
    s2c.push(
      'inject',
      encodeMethodFrame(0, 'connection.close', {
        'reply-code': code,
        'reply-text': connectionCloseText(code),
        'class-id': cause?.classId ?? 0,
        'method-id': cause?.methodId ?? 0,
      }),
    );
    c2s.push(
      'inject',
      encodeMethodFrame(0, 'connection.close', {
        'reply-code': 200,
        'reply-text': clip(`amqp-spy fault rule: closed with ${code} ${replyCodeName(code)} to the client (${source})`),
        'class-id': 0,
        'method-id': 0,
      }),
    );
    const closing: ConnectionClosing = { awaitClient: true, awaitUpstream: true, endClientPending: false, endUpstreamPending: false, timer: undefined };
    // a peer that never answers is not waited for forever
    closing.timer = setTimeout(() => {
      this.#clientAnswered(closing);
      this.#upstreamAnswered(closing);
    }, CLOSE_OK_WAIT_MS);
    closing.timer.unref();
    this.#closing = closing;
  }

  #closingFrame(dir: Direction, frame: RawFrame, method: DecodedMethod | undefined): void {
    const closing = this.#closing!;
    const name = method?.name;
    this.#dirs[dir].out.push('suppress', frame.raw);
    if (dir === 'c2s') {
      if (name === 'connection.close-ok') this.#clientAnswered(closing);
      else if (name === 'connection.close') {
        this.#dirs.s2c.out.push('inject', encodeMethodFrame(0, 'connection.close-ok'));
        this.#clientAnswered(closing);
      }
    } else if (name === 'connection.close-ok') this.#upstreamAnswered(closing);
    else if (name === 'connection.close') this.#dirs.c2s.out.push('inject', encodeMethodFrame(0, 'connection.close-ok'));
  }

  #upstreamAnswered(closing: ConnectionClosing): void {
    if (!closing.awaitUpstream) return;
    closing.awaitUpstream = false;
    if (!closing.awaitClient) clearTimeout(closing.timer);
    if (closing.endUpstreamPending) this.#dirs.c2s.out.push('end', EMPTY);
  }

  #clientAnswered(closing: ConnectionClosing): void {
    if (!closing.awaitClient) return;
    if (!closing.awaitUpstream) clearTimeout(closing.timer);
    closing.awaitClient = false;
    if (closing.endClientPending) this.#dirs.s2c.out.push('end', EMPTY);
  }
}

/** A one-shot action in the rule grammar, for reply texts and notices. */
function actionText(action: ConnectionAction): string {
  switch (action.kind) {
    case 'close-connection':
    case 'close-channel':
      return `${action.kind}=${action.code}`;
    case 'block':
      return action.ms === undefined ? 'block' : `block=${action.ms}ms`;
    default:
      return action.kind;
  }
}

function consumerTag(method: DecodedMethod): string {
  const tag = method.args['consumer-tag'];
  return typeof tag === 'string' ? tag : tag instanceof Uint8Array ? Buffer.from(tag).toString('latin1') : '';
}

/** A content header's body-size (after class-id and weight). */
function readBodySize(payload: Uint8Array): bigint {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getBigUint64(4);
}

function newChannel(): ChannelState {
  return {
    confirm: false,
    published: 0,
    outstanding: [],
    nack: new Set(),
    dead: undefined,
    cancelNextConsumer: false,
    cancelling: new Set(),
    dropContent: false,
    notifyAfterContent: undefined,
  };
}

/** A reply text fits a shortstr (255 bytes). */
function clip(text: string): string {
  return Buffer.byteLength(text) <= 255
    ? text
    : `${Buffer.from(text)
        .subarray(0, 240)
        .toString('utf8')
        .replace(/\uFFFD$/, '')}...`;
}

const EMPTY = new Uint8Array(0);
