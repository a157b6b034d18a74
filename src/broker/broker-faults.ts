// Fault rules acted out by the built-in broker itself (`--standalone --fault ...`), with the
// rules, filters and counting of the proxy's fault engine but none of its relaying: the broker
// is one of the two peers, so it simply behaves as the rule says (fails the method, nacks the
// publish, blocks the connection, cancels the consumer, holds its output or input, cuts the
// socket). A connection gets one of these only once a rule is armed on the broker; until then
// its input and output take their usual paths.
//
// Client frames are judged as they are read and then handled in order, now or later (delay,
// rate, block); a turn's output comes through `take` (the connection's OutputStage) and is
// written, held, dropped or cut frame by frame. What a rule made is marked `injected`, what it
// kept from the wire `suppressed`, as the proxy marks them.

import { encodeMethodFrame } from '../decoder/frame-codec.js';
import { decodeMethod } from '../decoder/method-codec.js';
import { FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, type DecodedMethod, type RawFrame } from '../decoder/types.js';
import type { Direction, FaultMark, FrameEvent } from '../events.js';
import type { FaultAction } from '../fault/fault-rule.js';
import type { ArmedRule } from '../fault/armed-rule.js';
import { ConnectionActionError, type ConnectionAction } from '../fault/fault-control.js';
import type { FaultSet } from '../fault/fault-set.js';
import { channelCloseText, connectionCloseText, replyCodeName } from '../fault/wording.js';
import { AmqpError } from './amqp-error.js';
import type { BrokerChannel } from './broker-channel.js';
import type { ConnectionState } from './channel-host.js';
import type { FrameOutput, OutputStage } from './frame-output.js';

/** What the faults need of their connection (BrokerConnection implements it). */
export interface FaultedConnection {
  readonly id: number;
  readonly state: ConnectionState;
  readonly output: FrameOutput;
  readonly user: string;
  readonly vhostName: string;
  /** `connection 3 (amqplib)`, for notices */
  readonly who: string;
  readonly capabilities: { readonly consumerCancelNotify: boolean; readonly connectionBlocked: boolean };
  channel(id: number): BrokerChannel | undefined;
  /** the broker's own handling of a client frame */
  handleFrame(frame: RawFrame): void;
  /** what the broker does after a batch of client frames (TTL timers, memory alarm) */
  afterInput(): void;
  /** stops (true) or resumes reading the client, for input held by a rule */
  holdInput(held: boolean): void;
  /** connection.close with this error, and the close handshake */
  closeWithError(error: AmqpError, endNow: boolean): void;
  /** ends the socket now, FIN or RST, the connection released as a lost client's */
  cut(how: 'fin' | 'reset', detail: string): void;
  notice(line: string): void;
}

/** Bytes held (input or output) above which the client is no longer read, and below which it is again. */
const HOLD_ABOVE = 1024 * 1024;
const RESUME_BELOW = 256 * 1024;
/** What a held frame costs beside its bytes (its entry and closure): many tiny frames count too. */
const ITEM_COST = 96;
/** As in the proxy: a cancel that follows a consume-ok waits for the client to register its consumer. */
const CANCEL_AFTER_CONSUME_OK_MS = 20;

interface InputItem {
  /** when it may run (0 once a removed rule let it go) */
  at: number;
  readonly bytes: number;
  readonly run: () => void;
}

interface OutputItem {
  at: number;
  readonly bytes: Uint8Array;
  /** undefined: written as made; `cut-*`: the socket ends here */
  readonly op: FaultMark | 'write' | 'cut-fin' | 'cut-reset';
}

interface BlockState {
  /** the client announced the capability and got connection.blocked */
  readonly told: boolean;
  /** a publish came: the client's input is held, and it is not read */
  holding: boolean;
  timer: NodeJS.Timeout | undefined;
  /** the rule that blocked it (its removal lifts the block); undefined: the control's act */
  readonly by: ArmedRule | undefined;
}

/** An after-bytes cut not reached yet: where, and the rule that asked for it. */
interface CutAt {
  readonly offset: number;
  readonly how: 'fin' | 'reset';
  readonly rule: string;
  readonly by: ArmedRule;
}

interface DirectionRates {
  /** rate rules that fired on a channel's content method: its content frames count too */
  readonly content: Map<number, readonly ArmedRule[]>;
  /** each rate rule's time (ms) from which its bucket is free again */
  readonly free: Map<ArmedRule, number>;
}

export class ConnectionFaults implements OutputStage {
  readonly #conn: FaultedConnection;
  readonly #set: FaultSet;
  readonly #random: () => number;
  // ---- input ----
  readonly #input: InputItem[] = [];
  #inputHead = 0;
  #inputBytes = 0;
  #inputTimer: NodeJS.Timeout | undefined;
  #inputHeld = false;
  /** output held past HOLD_ABOVE: the client, whose requests make more of it, is not read */
  #outputHeld = false;
  /** a block rule held the client's input from its first publish on */
  #gated = false;
  /** an after-bytes cut in the client's stream: frames reaching past this offset are not handled */
  #inputCutAt: CutAt | undefined;
  // ---- output ----
  readonly #output: OutputItem[] = [];
  #outputHead = 0;
  #outputBytes = 0;
  #outputTimer: NodeJS.Timeout | undefined;
  /** forwarded bytes not yet written: consecutive frames of one part are written as one */
  #pending: Uint8Array | undefined;
  /** parts handed over while a part is being judged (a rule's own output): judged after it */
  readonly #incoming: { readonly part: Uint8Array; readonly marked: boolean }[] = [];
  #taking = false;
  /** bytes of output judged so far (after-bytes cuts count from a frame's start) */
  #outputOffset = 0;
  #outputCutAt: CutAt | undefined;
  /** a close-connection rule fired on output: the broker's own frames are dropped until its close */
  #closingOutput = false;
  // ---- both ----
  readonly #rates: Record<Direction, DirectionRates> = {
    c2s: { content: new Map(), free: new Map() },
    s2c: { content: new Map(), free: new Map() },
  };
  #blocked: BlockState | undefined;
  /** channels whose next consume-ok names a consumer a rule cancels */
  readonly #cancelNext = new Set<number>();
  /** `channel/tag` of consumers a rule cancelled: deliveries still in this turn's output are kept back */
  readonly #cancelled = new Set<string>();
  /** channels whose delivery was kept back: its content frames are too */
  readonly #dropContent = new Set<number>();
  /** the socket was cut (or a cut is queued): nothing more is judged */
  #cut = false;

  constructor(conn: FaultedConnection, set: FaultSet, random: () => number = Math.random) {
    this.#conn = conn;
    this.#set = set;
    this.#random = random;
  }

  /** Whether the client's input is held (its heartbeats are not missed meanwhile). */
  get readingHeld(): boolean {
    return this.#inputHeld || this.#outputHeld || this.#gated;
  }

  /** Nothing held, blocked, cut or pending: the connection may go back to its usual paths. */
  get idle(): boolean {
    return (
      this.#input.length === this.#inputHead &&
      this.#output.length === this.#outputHead &&
      this.#pending === undefined &&
      this.#blocked === undefined &&
      !this.#cut &&
      !this.#closingOutput &&
      this.#inputCutAt === undefined &&
      this.#outputCutAt === undefined &&
      this.#cancelNext.size === 0 &&
      !this.#taking
    );
  }

  get heldBytes(): number {
    return this.#outputBytes;
  }

  // ---------------------------------------------------------------- input

  /**
   * Judges a client frame: `dropped` (a heartbeat a rule ignores), `taken` (a rule answered it
   * or cut the connection), else the frame is handled now or, behind held frames, later.
   */
  input(frame: RawFrame, report: (mark: FaultMark | undefined) => void): 'handled' | 'dropped' | 'taken' {
    // told to the observer before it is handled (what the broker answers comes after it); a
    // heartbeat once the rules said whether it is ignored (no rule answers one at once)
    const heartbeat = frame.type === FRAME_HEARTBEAT;
    if (!heartbeat) report(undefined);
    const verdict = this.#judgeInput(frame);
    if (heartbeat) report(verdict === 'dropped' ? 'suppressed' : undefined);
    return verdict;
  }

  #judgeInput(frame: RawFrame): 'handled' | 'dropped' | 'taken' {
    if (this.#cut) return 'taken';
    const now = Date.now();
    const cutAt = this.#inputCutAt;
    if (cutAt !== undefined && frame.offset + frame.raw.length > cutAt.offset) {
      // the client's bytes end here for the broker: the frame is not handled
      this.#queueInputCut(cutAt.how, cutAt.rule, 0);
      return 'taken';
    }
    let method: DecodedMethod | undefined;
    if (frame.type === FRAME_METHOD) method = tryDecode(frame.payload);
    const channel = frame.channel > 0 ? this.#conn.channel(frame.channel) : undefined;
    let notBefore = 0;
    let publishFault: 'nack' | AmqpError | undefined;
    let nowaitCancel: string | undefined;
    if (frame.type === FRAME_HEADER || frame.type === FRAME_BODY) {
      notBefore = this.#contentRate('c2s', frame, now);
    } else if (method !== undefined || frame.type === FRAME_HEARTBEAT) {
      let event: FrameEvent | undefined;
      const eventOf = (): FrameEvent => (event ??= frameEvent(this.#conn.id, 'c2s', frame, method, now));
      let rates: ArmedRule[] | undefined;
      for (const rule of this.#set.rules) {
        const action = rule.action;
        if (!this.#applies(action, 'c2s', frame, method, channel) || !rule.armed(now) || !rule.fires(eventOf, this.#random)) continue;
        switch (action.kind) {
          case 'close-channel': {
            const error = new AmqpError(action.code, channelCloseText(action.code, method!, { vhost: this.#conn.vhostName, user: this.#conn.user })).at(
              method!.classId,
              method!.methodId,
            );
            if (method!.spec.content) {
              // RabbitMQ answers a publish once its body has come: the channel fails it then
              publishFault = error;
              break;
            }
            const target = channel!;
            this.#enqueue(notBefore, 0, () => this.#conn.output.injecting(() => target.closeWithError(error)));
            return 'taken';
          }
          case 'close-connection': {
            const error = new AmqpError(action.code, connectionCloseText(action.code)).at(method!.classId, method!.methodId);
            this.#enqueue(notBefore, 0, () => this.#closeConnection(error));
            return 'taken';
          }
          case 'drop-heartbeats':
            return 'dropped';
          case 'nack':
            publishFault ??= 'nack';
            break;
          case 'block':
            this.#block(action.ms, rule);
            break;
          case 'unblock':
            this.#unblock();
            break;
          case 'cancel-consumer':
            // a consume without consume-ok (nowait) names its consumer itself
            if (method!.args['nowait'] === true) nowaitCancel = consumerTag(method!);
            else this.#cancelNext.add(frame.channel);
            break;
          case 'cut':
          case 'reset': {
            const how = action.kind === 'cut' ? 'fin' : 'reset';
            if (action.afterBytes !== undefined) {
              this.#inputCutAt ??= { offset: frame.offset + action.afterBytes, how, rule: rule.rule.source, by: rule };
              if (frame.raw.length <= action.afterBytes) break;
            }
            // the broker has the whole frame either way: mid-frame too ends before handling it
            this.#queueInputCut(how, rule.rule.source, notBefore);
            return 'taken';
          }
          case 'delay':
            notBefore = Math.max(notBefore, now + delayOf(action, this.#random));
            break;
          case 'rate':
            notBefore = Math.max(notBefore, this.#rate('c2s', rule, frame.raw.length, now));
            (rates ??= []).push(rule);
            break;
        }
      }
      if (method?.spec.content) this.#noteContentRates('c2s', frame.channel, rates);
    }
    // as RabbitMQ, a blocked connection is no longer read once the client publishes
    const blocked = this.#blocked;
    if (blocked !== undefined && !blocked.holding && method?.name === 'basic.publish') {
      blocked.holding = true;
      this.#gated = true;
      this.#syncHold();
    }
    const fault = publishFault;
    const cancel = nowaitCancel;
    this.#enqueue(
      notBefore,
      frame.raw.length,
      fault === undefined && cancel === undefined
        ? () => this.#conn.handleFrame(frame)
        : () => {
            if (fault !== undefined) this.#conn.channel(frame.channel)?.armPublishFault(fault);
            this.#conn.handleFrame(frame);
            if (cancel !== undefined) this.#cancelConsumer(frame.channel, cancel, true);
          },
    );
    return 'handled';
  }

  /** The client is read unless held input, held output or a block says otherwise. */
  #syncHold(): void {
    this.#conn.holdInput(this.#inputHeld || this.#outputHeld || this.#gated);
  }

  #queueInputCut(how: 'fin' | 'reset', rule: string, notBefore: number): void {
    this.#cut = true;
    this.#enqueue(notBefore, 0, () => this.#conn.cut(how, `fault rule ${how === 'fin' ? 'cut' : 'reset'} the connection (${rule})`));
  }

  #enqueue(at: number, bytes: number, run: () => void): void {
    if (this.#input.length === this.#inputHead && !this.#gated && at <= Date.now()) {
      run();
      return;
    }
    this.#input.push({ at: Math.max(at, this.#input[this.#input.length - 1]?.at ?? 0), bytes: bytes + ITEM_COST, run });
    this.#inputBytes += bytes + ITEM_COST;
    if (!this.#inputHeld && this.#inputBytes > HOLD_ABOVE) {
      this.#inputHeld = true;
      this.#syncHold();
    }
    this.#scheduleInput();
  }

  #scheduleInput(): void {
    if (this.#inputTimer !== undefined || this.#gated) return;
    const next = this.#input[this.#inputHead];
    if (next === undefined) return;
    this.#inputTimer = setTimeout(() => this.#releaseInput(), Math.max(0, next.at - Date.now()));
  }

  #releaseInput(): void {
    this.#inputTimer = undefined;
    if (this.#gated) return;
    const now = Date.now();
    let ran = false;
    while (this.#inputHead < this.#input.length && this.#input[this.#inputHead]!.at <= now && !this.#gated) {
      const item = this.#input[this.#inputHead++]!;
      this.#inputBytes -= item.bytes;
      if (this.#conn.state === 'closed') continue;
      item.run();
      ran = true;
    }
    if (this.#inputHead === this.#input.length) {
      this.#input.length = 0;
      this.#inputHead = 0;
    }
    if (ran) this.#conn.afterInput();
    if (this.#inputHeld && this.#inputBytes < RESUME_BELOW) {
      this.#inputHeld = false;
      this.#syncHold();
    }
    this.#scheduleInput();
  }

  // ---------------------------------------------------------------- output

  take(parts: readonly Uint8Array[], marked: ReadonlySet<Uint8Array> | undefined): void {
    for (const part of parts) this.#incoming.push({ part, marked: marked?.has(part) === true });
    // a rule's own output (a close written and flushed at once) is judged after the current part
    if (this.#taking) return;
    this.#taking = true;
    try {
      for (let i = 0; i < this.#incoming.length; i++) {
        const { part, marked: isMarked } = this.#incoming[i]!;
        if (isMarked) this.#push('injected', part, 0);
        else this.#judgeOutput(part);
      }
    } finally {
      this.#incoming.length = 0;
      this.#taking = false;
      this.#cancelled.clear();
      this.#dropContent.clear();
      this.#flushPending();
    }
  }

  /** Cuts a turn's output into frames and judges each. */
  #judgeOutput(part: Uint8Array): void {
    let at = 0;
    while (at < part.length) {
      if (this.#cut) return;
      if (part.length - at < 8) {
        this.#push('write', part.subarray(at), 0);
        return;
      }
      const size = ((part[at + 3]! << 24) | (part[at + 4]! << 16) | (part[at + 5]! << 8) | part[at + 6]!) >>> 0;
      const end = at + 8 + size;
      if (end > part.length) {
        this.#push('write', part.subarray(at), 0);
        return;
      }
      const raw = part.subarray(at, end);
      this.#judgeOutputFrame({
        type: part[at]!,
        channel: (part[at + 1]! << 8) | part[at + 2]!,
        payload: raw.subarray(7, 7 + size),
        raw,
        offset: this.#outputOffset,
      });
      this.#outputOffset += raw.length;
      at = end;
    }
  }

  #judgeOutputFrame(frame: RawFrame): void {
    const cutAt = this.#outputCutAt;
    if (cutAt !== undefined && frame.offset + frame.raw.length > cutAt.offset) {
      const keep = Math.max(0, cutAt.offset - frame.offset);
      if (keep > 0) this.#push('write', frame.raw.subarray(0, keep), 0);
      this.#queueOutputCut(cutAt.how, 0);
      return;
    }
    if (this.#closingOutput) {
      this.#push('suppressed', frame.raw, 0);
      return;
    }
    let method: DecodedMethod | undefined;
    if (frame.type === FRAME_METHOD) method = tryDecode(frame.payload);
    if (this.#dropContent.size > 0 && (frame.type === FRAME_HEADER || frame.type === FRAME_BODY) && this.#dropContent.has(frame.channel)) {
      this.#push('suppressed', frame.raw, 0);
      return;
    }
    if (method !== undefined) this.#dropContent.delete(frame.channel);
    if (this.#cancelled.size > 0 && method?.name === 'basic.deliver' && this.#cancelled.has(`${frame.channel}/${consumerTag(method)}`)) {
      // in flight to a consumer a rule cancelled: the client never sees it, its queue gets it back
      this.#push('suppressed', frame.raw, 0);
      this.#dropContent.add(frame.channel);
      this.#conn.channel(frame.channel)?.faultRequeue(BigInt(method.args['delivery-tag'] as bigint | number));
      return;
    }
    const now = Date.now();
    let notBefore = 0;
    if (frame.type === FRAME_HEADER || frame.type === FRAME_BODY) {
      this.#push('write', frame.raw, this.#contentRate('s2c', frame, now));
      return;
    }
    const channel = frame.channel > 0 ? this.#conn.channel(frame.channel) : undefined;
    if (method !== undefined || frame.type === FRAME_HEARTBEAT) {
      let event: FrameEvent | undefined;
      const eventOf = (): FrameEvent => (event ??= frameEvent(this.#conn.id, 's2c', frame, method, now));
      let rates: ArmedRule[] | undefined;
      let cancelTag: string | undefined;
      for (const rule of this.#set.rules) {
        const action = rule.action;
        if (!this.#applies(action, 's2c', frame, method, channel) || !rule.armed(now) || !rule.fires(eventOf, this.#random)) continue;
        switch (action.kind) {
          case 'close-connection': {
            this.#push('suppressed', frame.raw, 0);
            this.#closingOutput = true;
            this.#closeConnection(new AmqpError(action.code, connectionCloseText(action.code)));
            return;
          }
          case 'drop-heartbeats':
            this.#push('suppressed', frame.raw, notBefore);
            return;
          case 'block':
            this.#block(action.ms, rule, true);
            break;
          case 'unblock':
            this.#unblock(true);
            break;
          case 'cancel-consumer':
            cancelTag = consumerTag(method!);
            break;
          case 'cut':
          case 'reset': {
            const how = action.kind === 'cut' ? 'fin' : 'reset';
            if (action.afterBytes !== undefined) {
              this.#outputCutAt ??= { offset: frame.offset + action.afterBytes, how, rule: rule.rule.source, by: rule };
              if (frame.raw.length <= action.afterBytes) break;
              this.#push('write', frame.raw.subarray(0, action.afterBytes), notBefore);
            } else if (action.midFrame) this.#push('write', frame.raw.subarray(0, frame.raw.length >> 1), notBefore);
            this.#cutRule = rule.rule.source;
            this.#queueOutputCut(how, notBefore);
            return;
          }
          case 'delay':
            notBefore = Math.max(notBefore, now + delayOf(action, this.#random));
            break;
          case 'rate':
            notBefore = Math.max(notBefore, this.#rate('s2c', rule, frame.raw.length, now));
            (rates ??= []).push(rule);
            break;
          case 'close-channel':
          case 'nack':
            break; // client methods only (see #applies)
        }
      }
      if (method?.spec.content) this.#noteContentRates('s2c', frame.channel, rates);
      if (method?.name === 'basic.consume-ok' && this.#cancelNext.delete(frame.channel)) cancelTag ??= consumerTag(method);
      this.#push('write', frame.raw, notBefore);
      if (cancelTag !== undefined) this.#cancelConsumer(frame.channel, cancelTag, method!.name === 'basic.consume-ok');
      return;
    }
    this.#push('write', frame.raw, notBefore);
  }

  #cutRule = '';

  #queueOutputCut(how: 'fin' | 'reset', notBefore: number): void {
    this.#cut = true;
    const rule = this.#cutRule || this.#outputCutAt?.rule || '';
    this.#cutRule = rule;
    this.#push(how === 'fin' ? 'cut-fin' : 'cut-reset', EMPTY, notBefore);
  }

  /** Queues or writes one piece of output, in order after what is held. */
  #push(op: OutputItem['op'], bytes: Uint8Array, notBefore: number): void {
    const last = this.#output.length > this.#outputHead ? this.#output[this.#output.length - 1]!.at : 0;
    const at = Math.max(notBefore, last);
    if (this.#output.length === this.#outputHead && at <= Date.now()) {
      this.#run(op, bytes);
      return;
    }
    this.#flushPending();
    this.#output.push({ op, bytes, at });
    this.#outputBytes += bytes.length + ITEM_COST;
    if (!this.#outputHeld && this.#outputBytes > HOLD_ABOVE) {
      this.#outputHeld = true;
      this.#syncHold();
    }
    this.#scheduleOutput();
  }

  #run(op: OutputItem['op'], bytes: Uint8Array): void {
    if (op === 'write') {
      const pending = this.#pending;
      if (pending !== undefined && pending.buffer === bytes.buffer && pending.byteOffset + pending.length === bytes.byteOffset) {
        this.#pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.length + bytes.length);
      } else {
        this.#flushPending();
        this.#pending = bytes;
      }
      return;
    }
    this.#flushPending();
    if (op === 'cut-fin' || op === 'cut-reset') {
      const how = op === 'cut-fin' ? 'fin' : 'reset';
      this.#conn.cut(how, `fault rule ${how === 'fin' ? 'cut' : 'reset'} the connection (${this.#cutRule})`);
      return;
    }
    this.#conn.output.write(toBuffer(bytes), op);
  }

  #flushPending(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    this.#pending = undefined;
    this.#conn.output.write(toBuffer(pending), undefined);
  }

  #scheduleOutput(): void {
    if (this.#outputTimer !== undefined) return;
    const next = this.#output[this.#outputHead];
    if (next === undefined) return;
    this.#outputTimer = setTimeout(() => this.#releaseOutput(), Math.max(0, next.at - Date.now()));
  }

  #releaseOutput(): void {
    this.#outputTimer = undefined;
    const now = Date.now();
    while (this.#outputHead < this.#output.length && this.#output[this.#outputHead]!.at <= now) {
      const item = this.#output[this.#outputHead++]!;
      this.#outputBytes -= item.bytes.length + ITEM_COST;
      this.#run(item.op, item.bytes);
    }
    this.#flushPending();
    if (this.#outputHead === this.#output.length) {
      this.#output.length = 0;
      this.#outputHead = 0;
    }
    if (this.#outputHeld && this.#outputBytes < RESUME_BELOW) {
      this.#outputHeld = false;
      this.#syncHold();
    }
    this.#conn.output.maybeResume();
    this.#scheduleOutput();
  }

  // ---------------------------------------------------------------- actions

  /** Whether an action can act on this frame at all (only those count as matches), as in the proxy. */
  #applies(action: FaultAction, dir: Direction, frame: RawFrame, method: DecodedMethod | undefined, channel: BrokerChannel | undefined): boolean {
    switch (action.kind) {
      case 'close-channel':
        return dir === 'c2s' && method !== undefined && channel !== undefined && !channel.closing && !method.name.startsWith('channel.');
      case 'close-connection':
        return this.#conn.state === 'running' && method !== undefined && method.name !== 'connection.close' && method.name !== 'connection.close-ok';
      case 'nack':
        return dir === 'c2s' && method?.name === 'basic.publish' && channel?.confirming === true && !channel.closing;
      case 'drop-heartbeats':
        return frame.type === FRAME_HEARTBEAT;
      case 'delay':
      case 'rate':
      case 'cut':
      case 'reset':
        return true;
      case 'block':
        return this.#conn.state === 'running' && this.#blocked === undefined;
      case 'unblock':
        return this.#blocked !== undefined;
      case 'cancel-consumer':
        if (channel === undefined || method === undefined || channel.closing) return false;
        if (dir === 'c2s') return method.name === 'basic.consume' && !this.#cancelNext.has(frame.channel);
        return (
          (method.name === 'basic.consume-ok' || method.name === 'basic.deliver') &&
          channel.hasConsumer(consumerTag(method)) &&
          !this.#cancelled.has(`${frame.channel}/${consumerTag(method)}`)
        );
    }
  }

  #closeConnection(error: AmqpError): void {
    this.#conn.output.injecting(() => this.#conn.closeWithError(error, false));
  }

  /** Sends a frame a rule made: `before` the output frame being judged (a rule on output), else with the turn's output. */
  #inject(frame: Uint8Array, before: boolean): void {
    if (before) this.#push('injected', frame, 0);
    else this.#conn.output.sendMarked(frame);
  }

  #block(ms: number | undefined, rule: ArmedRule | undefined, onOutput = false): void {
    const told = this.#conn.capabilities.connectionBlocked;
    // RabbitMQ's memory alarm words it so
    if (told) this.#inject(encodeMethodFrame(0, 'connection.blocked', { reason: 'low on memory' }), onOutput);
    else
      this.#conn.notice(
        `${this.#conn.who} did not announce the connection.blocked capability: ${rule === undefined ? 'the control' : `fault rule '${rule.rule.source}'`} blocks it without telling it (its publishes are held all the same)`,
      );
    const blocked: BlockState = { told, holding: false, timer: undefined, by: rule };
    if (ms !== undefined) {
      blocked.timer = setTimeout(() => this.#unblock(), ms);
      blocked.timer.unref();
    }
    this.#blocked = blocked;
  }

  #unblock(onOutput = false): void {
    const blocked = this.#blocked;
    if (blocked === undefined) return;
    this.#blocked = undefined;
    clearTimeout(blocked.timer);
    if (blocked.told && this.#conn.state === 'running') this.#inject(encodeMethodFrame(0, 'connection.unblocked'), onOutput);
    if (blocked.holding) {
      this.#gated = false;
      this.#syncHold();
      this.#releaseInput();
    }
  }

  /**
   * Cancels a consumer as when its queue is deleted; at a consume-ok a moment later, as the
   * proxy does (clients register a consumer once they handle its consume-ok).
   */
  #cancelConsumer(channelNo: number, tag: string, later: boolean): void {
    const cancel = (): void => {
      const told = this.#conn.channel(channelNo)?.faultCancel(tag);
      if (told === false)
        this.#conn.notice(
          `${this.#conn.who} did not announce the consumer_cancel_notify capability: its consumer ${tag} on channel ${channelNo} is cancelled without telling it`,
        );
    };
    if (later) {
      setTimeout(() => {
        if (this.#conn.state === 'running') cancel();
      }, CANCEL_AFTER_CONSUME_OK_MS).unref();
      return;
    }
    this.#cancelled.add(`${channelNo}/${tag}`);
    cancel();
  }

  /** Content frames go as their method went: a rate that fired on it counts their bytes. */
  #contentRate(dir: Direction, frame: RawFrame, now: number): number {
    const rules = this.#rates[dir].content.get(frame.channel);
    let notBefore = 0;
    if (rules !== undefined) for (const rule of rules) notBefore = Math.max(notBefore, this.#rate(dir, rule, frame.raw.length, now));
    return notBefore;
  }

  #noteContentRates(dir: Direction, channel: number, rates: readonly ArmedRule[] | undefined): void {
    const content = this.#rates[dir].content;
    if (rates !== undefined) content.set(channel, rates);
    else if (content.size > 0) content.delete(channel);
  }

  /** When `bytes` more have passed a rate rule's bucket. */
  #rate(dir: Direction, rule: ArmedRule, bytes: number, now: number): number {
    if (rule.action.kind !== 'rate') return 0;
    const free = this.#rates[dir].free;
    const done = Math.max(now, free.get(rule) ?? 0) + (bytes * 1000) / rule.action.bytesPerSecond;
    free.set(rule, done);
    return done;
  }

  /**
   * A rule was removed or disarmed: what it holds on this connection is let go, as the proxy
   * does. A block it made is lifted (connection.unblocked); what waits for a delay or a rate
   * is handled or written now, in order (what another timed rule holds too); an after-bytes
   * cut not yet reached is called off.
   */
  release(rule: ArmedRule): void {
    if (this.#cut) return;
    if (this.#blocked !== undefined && this.#blocked.by === rule) this.#unblock();
    if (rule.action.kind === 'delay' || rule.action.kind === 'rate') {
      for (const rates of [this.#rates.c2s, this.#rates.s2c]) {
        rates.free.delete(rule);
        for (const [channelNo, rules] of rates.content)
          if (rules.includes(rule)) {
            const rest = rules.filter((r) => r !== rule);
            if (rest.length > 0) rates.content.set(channelNo, rest);
            else rates.content.delete(channelNo);
          }
      }
      for (let i = this.#inputHead; i < this.#input.length; i++) this.#input[i]!.at = 0;
      clearTimeout(this.#inputTimer);
      this.#inputTimer = undefined;
      this.#releaseInput();
      for (let i = this.#outputHead; i < this.#output.length; i++) this.#output[i]!.at = 0;
      clearTimeout(this.#outputTimer);
      this.#outputTimer = undefined;
      this.#releaseOutput();
    }
    if (this.#inputCutAt?.by === rule) this.#inputCutAt = undefined;
    if (this.#outputCutAt?.by === rule) this.#outputCutAt = undefined;
  }

  /**
   * A one-shot action from the control API, the TUI or `session.faults.act`, now: the broker
   * does it itself, as it does a rule's action. Throws ConnectionActionError (409) when it
   * cannot be done now.
   */
  act(action: ConnectionAction): string {
    const who = `connection ${this.#conn.id}`;
    const refuse = (why: string): never => {
      throw new ConnectionActionError(`${who} ${why}`, 409);
    };
    if (this.#cut) refuse('is being cut');
    const state = this.#conn.state;
    if (state === 'closing' || state === 'closed' || this.#closingOutput) refuse('is closing');
    const open = state === 'running';
    const source = `control: ${action.kind}`;
    let done: string;
    switch (action.kind) {
      case 'close-connection':
        if (!open) refuse('is not open yet (no connection.open-ok)');
        this.#closeConnection(new AmqpError(action.code, connectionCloseText(action.code)));
        done = `connection.close ${action.code} ${replyCodeName(action.code)} sent to the client`;
        break;
      case 'close-channel': {
        const channel = this.#conn.channel(action.channel);
        if (channel === undefined || channel.closing) return refuse(`has no open channel ${action.channel}`);
        this.#rates.c2s.content.delete(action.channel);
        this.#rates.s2c.content.delete(action.channel);
        const error = new AmqpError(action.code, `${replyCodeName(action.code)} - injected by amqp-spy`);
        // as any channel.close: its consumers are cancelled and its unacked deliveries requeued
        this.#conn.output.injecting(() => channel.closeWithError(error));
        done = `channel.close ${action.code} ${replyCodeName(action.code)} sent on channel ${action.channel} (its unacked deliveries requeued)`;
        break;
      }
      case 'block':
        if (!open) refuse('is not open yet (no connection.open-ok)');
        if (this.#blocked !== undefined) refuse('is blocked already');
        this.#block(action.ms, undefined);
        done = `blocked${action.ms === undefined ? '' : ` for ${action.ms} ms`}${this.#blocked!.told ? ' (connection.blocked sent)' : ' (the client did not announce connection.blocked: not told)'}`;
        break;
      case 'unblock':
        if (this.#blocked === undefined) refuse('is not blocked');
        this.#unblock();
        done = 'unblocked';
        break;
      case 'cut':
      case 'reset': {
        const how = action.kind === 'cut' ? 'fin' : 'reset';
        this.#flushPending();
        this.#cut = true;
        this.#conn.cut(how, `fault rule ${action.kind} the connection (${source})`);
        done = how === 'fin' ? 'cut (FIN to the client)' : 'reset (RST to the client)';
        break;
      }
    }
    return `${who}: ${done}`;
  }

  /** The connection is gone: timers and what is held are dropped. */
  closed(): void {
    clearTimeout(this.#inputTimer);
    clearTimeout(this.#outputTimer);
    clearTimeout(this.#blocked?.timer);
    this.#input.length = 0;
    this.#inputHead = 0;
    this.#output.length = 0;
    this.#outputHead = 0;
    this.#outputBytes = 0;
    this.#pending = undefined;
    this.#cut = true;
  }
}

/** The event a rule's filter is matched against: the one the tap would make of the frame. */
function frameEvent(conn: number, dir: Direction, frame: RawFrame, method: DecodedMethod | undefined, now: number): FrameEvent {
  return {
    kind: 'frame',
    seq: 0,
    ts: now * 1000,
    conn,
    dir,
    channel: frame.channel,
    frame: method !== undefined ? { type: 'method', channel: frame.channel, method } : { type: 'heartbeat', channel: frame.channel },
    raw: frame.raw,
    offset: frame.offset,
  };
}

function tryDecode(payload: Uint8Array): DecodedMethod | undefined {
  try {
    return decodeMethod(payload);
  } catch {
    return undefined; // the broker's own handling answers it as it always does
  }
}

function delayOf(action: FaultAction, random: () => number): number {
  if (action.kind !== 'delay') return 0;
  return action.ms + (action.jitterMs > 0 ? (random() * 2 - 1) * action.jitterMs : 0);
}

function consumerTag(method: DecodedMethod): string {
  const tag = method.args['consumer-tag'];
  return typeof tag === 'string' ? tag : tag instanceof Uint8Array ? Buffer.from(tag).toString('latin1') : '';
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}

const EMPTY = new Uint8Array(0);
