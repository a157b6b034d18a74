// One client connection of the built-in broker: the AMQP 0-9-1 connection state machine
// (protocol header, start/start-ok, tune/tune-ok, open, close both ways, heartbeats,
// blocked/unblocked), channel 0, and the routing of channel frames to BrokerChannel.
// Output is batched by FrameOutput: everything sent during one turn goes out in one write.

import type net from 'node:net';
import { fieldTable, tableGet } from '../decoder/field-table.js';
import { FrameParser, type FrameParserOutput } from '../decoder/frame-parser.js';
import { encodeHeartbeatFrame } from '../decoder/frame-codec.js';
import { decodeMethod } from '../decoder/method-codec.js';
import { saslCredentials } from '../decoder/sasl.js';
import { encodeProtocolHeader } from '../decoder/protocol-header.js';
import type { MethodArgs } from '../decoder/spec.js';
import type { DecodeError } from '../decoder/errors.js';
import type { AmqpString, DecodedMethod, FieldTable, RawFrame } from '../decoder/types.js';
import type { FaultMark, SocketEnd } from '../events.js';
import type { ByteObserver } from '../source/byte-observer.js';
import { VERSION } from '../version.js';
import { AmqpError, cannotDecode, payloadSnippet, replyTextOnWire, unknownFrame } from './amqp-error.js';
import { isLoopbackAddress } from '../source/address.js';
import { FRAME_MIN_SIZE, type AlarmListener, type Broker } from './broker.js';
import { BrokerChannel } from './broker-channel.js';
import { ConnectionFaults, type FaultedConnection } from './broker-faults.js';
import type { ArmedRule } from '../fault/armed-rule.js';
import { ConnectionActionError, type ConnectionAction } from '../fault/fault-control.js';
import type { ChannelHost, ClientCapabilities, ConnectionState } from './channel-host.js';
import { FrameOutput } from './frame-output.js';
import type { VirtualHost } from './vhost.js';

/** RabbitMQ allows frames a little over frame-max (clients get it wrong by 8). */
const FRAME_SIZE_FUDGE = 8;
const ARENA_SIZE = 64 * 1024;
/** Give up on a close handshake after this long. */
const CLOSE_TIMEOUT_MS = 3_000;

const NO_CAPABILITIES: ClientCapabilities = { consumerCancelNotify: false, connectionBlocked: false, authenticationFailureClose: false };

/** The server-properties of connection.start (what clients look for). */
export function serverProperties(): FieldTable {
  return fieldTable({
    product: 'amqp-spy',
    version: VERSION,
    platform: `Node.js ${process.version}`,
    information: 'amqp-spy built-in broker (in memory, for debugging)',
    copyright: 'amqp-spy contributors',
    cluster_name: 'amqp-spy',
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      'basic.nack': true,
      consumer_cancel_notify: true,
      'connection.blocked': true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    },
  });
}

function isTrue(table: FieldTable | undefined, key: string): boolean {
  if (table === undefined) return false;
  const v = tableGet(table, key);
  return v !== undefined && v.type === 't' && v.value;
}

function text(s: AmqpString): string {
  return typeof s === 'string' ? s : Buffer.from(s).toString('utf8');
}

export class BrokerConnection implements AlarmListener, ChannelHost, FaultedConnection {
  state: ConnectionState = 'header';
  channelMax = 0;
  heartbeat = 0;
  vhost: VirtualHost | undefined = undefined;
  user = '';
  capabilities: ClientCapabilities = NO_CAPABILITIES;
  /** start-ok's client-properties (the management API shows them) */
  clientProperties: FieldTable | undefined = undefined;
  /** ms since the epoch, as RabbitMQ's connected_at */
  readonly connectedAt = Date.now();

  /**
   * tune-ok's frame-max applies from the next frame, in the chunk that carries it too (a
   * client may pipeline tune-ok, open and a large publish in one write); an out-of-range
   * frame-max keeps the handshake's limit, and tuneOk closes the connection for it.
   */
  private readonly parser: FrameParser = new FrameParser({
    expectProtocolHeader: true,
    frameMax: FRAME_MIN_SIZE + FRAME_SIZE_FUDGE,
    onTuneOk: (frameMax: number): number =>
      frameMax >= FRAME_MIN_SIZE && frameMax <= this.broker.frameMax ? frameMax + FRAME_SIZE_FUDGE : this.parser.frameMax,
  });
  private readonly channels = new Map<number, BrokerChannel>();
  private mechanism = '';
  /** stream offsets: bytes received before and including the current chunk */
  private received = 0;
  private chunkStart = 0;

  /** this turn's output, written in one go (see FrameOutput) */
  readonly output: FrameOutput;
  private arena = new Uint8Array(0);
  private arenaUsed = 0;

  // heartbeats
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private closeTimer: NodeJS.Timeout | undefined;
  /** armed from accept until connection.open (RabbitMQ's handshake_timeout) */
  private handshakeTimer: NodeJS.Timeout | undefined;

  // flow control (memory alarm)
  /** a publish completed this turn (TTL timers to plan) */
  private published = false;
  private blocked = false;
  private blockedSent = false;
  /** reading held for a sink that fell behind (the recorder): see RunningBroker.holdReading */
  private held = false;
  /** how the socket ended, as the tap is told (it words the reason with the close handshake) */
  private closeReason: SocketEnd | undefined;
  /** fault rules watch this connection (one was armed on the broker): see broker-faults.ts */
  private faults: ConnectionFaults | undefined;
  /** input held by a fault rule (delay, rate, block) */
  private faultHeld = false;
  /** a content frame was handled since the last afterInput (the memory alarm blocks then) */
  private contentSeen = false;

  constructor(
    readonly id: number,
    readonly socket: net.Socket,
    readonly broker: Broker,
    private readonly observer: ByteObserver | undefined,
    private readonly onGone: (conn: BrokerConnection, end: SocketEnd) => void,
  ) {
    this.output = new FrameOutput(id, socket, observer, this);
    socket.setNoDelay(true);
    broker.socketOpened();
    if (broker.handshakeTimeout > 0) this.armHandshakeTimer();
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.output.maybeResume());
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.closeReason ??= e.code === 'ECONNRESET' ? { by: 'client', how: 'reset' } : { by: 'client', how: 'error', detail: e.code ?? e.message };
    });
    socket.on('close', () => this.onSocketClosed());
    if (broker.faults.active) this.watchFaults();
  }

  /** From now on the broker's fault rules are matched against this connection's frames. */
  watchFaults(): void {
    if (this.faults !== undefined || this.state === 'closed') return;
    this.faults = new ConnectionFaults(this, this.broker.faults);
    this.output.stage = this.faults;
  }

  /** A rule was removed or disarmed: what it holds here is let go. */
  releaseFault(rule: ArmedRule): void {
    this.faults?.release(rule);
  }

  /** A one-shot action of the live control, now (the connection watches its frames from then on). */
  actFault(action: ConnectionAction): string {
    this.watchFaults();
    if (this.faults === undefined) throw new ConnectionActionError(`connection ${this.id} is closed`, 409);
    return this.faults.act(action);
  }

  // ---- what the management API lists ----

  channelList(): IterableIterator<BrokerChannel> {
    return this.channels.values();
  }

  get authMechanism(): string {
    return this.mechanism;
  }

  /** the frame-max agreed in tune-ok (before it, the handshake's limit) */
  get frameMax(): number {
    return this.parser.frameMax - FRAME_SIZE_FUDGE;
  }

  // ---- input ----

  private onData(chunk: Buffer): void {
    if (this.faults !== undefined) {
      // every rule disarmed (a live control removed them) and nothing left to finish: the usual paths again
      if (!this.broker.faults.active && this.faults.idle) {
        this.faults = undefined;
        this.output.stage = undefined;
      } else {
        this.onDataWithFaults(chunk, this.faults);
        return;
      }
    }
    this.lastReceived = Date.now();
    if (this.observer?.onData !== undefined) {
      try {
        this.observer.onData(this.id, 'c2s', chunk);
      } catch {
        // an observer's fault must not break the broker
      }
    }
    if (this.state === 'closed') return;
    this.broker.noteBytesIn(chunk.length);
    let items: FrameParserOutput[];
    this.chunkStart = this.received;
    this.received += chunk.length;
    try {
      items = this.parser.push(chunk);
    } catch (e) {
      this.internalError(e);
      return;
    }
    // RabbitMQ blocks a connection once it sends content while the alarm is on
    let content = false;
    for (let i = 0; i < items.length; i++) {
      if ((this.state as ConnectionState) === 'closed') break;
      const item = items[i]!;
      try {
        if (item.kind === 'frame') {
          if (item.frame.type === 2 || item.frame.type === 3) content = true;
          this.onFrame(item.frame);
        } else if (item.kind === 'protocol-header') this.onProtocolHeader(item.header.decoded);
        else this.onParseError(item.error, chunk);
      } catch (e) {
        this.onException(e, 0);
      }
    }
    if (content && this.broker.memoryAlarm) this.block();
    if (this.published) {
      this.published = false;
      this.broker.scheduleExpiry();
    }
  }

  /**
   * onData while fault rules watch: each client frame is judged before it is handled, and the
   * observer gets the chunk frame by frame, a heartbeat a rule ignores marked `suppressed`.
   */
  private onDataWithFaults(chunk: Buffer, faults: ConnectionFaults): void {
    const before = this.lastReceived;
    this.lastReceived = Date.now();
    if (this.state === 'closed') {
      this.reportIn(chunk, undefined);
      return;
    }
    this.broker.noteBytesIn(chunk.length);
    this.chunkStart = this.received;
    this.received += chunk.length;
    let items: FrameParserOutput[];
    try {
      items = this.parser.push(chunk);
    } catch (e) {
      this.reportIn(chunk, undefined);
      this.internalError(e);
      return;
    }
    let dropped = 0;
    for (const item of items) {
      if (item.kind === 'frame') {
        if ((this.state as ConnectionState) === 'closed') {
          this.reportIn(item.frame.raw, undefined);
          continue;
        }
        // told before it is handled: what the broker answers comes after it
        const verdict = faults.input(item.frame, (mark) => this.reportIn(item.frame.raw, mark));
        if (verdict === 'dropped') dropped += item.frame.raw.length;
      } else if (item.kind === 'protocol-header') {
        this.reportIn(item.header.raw, undefined);
        this.onProtocolHeader(item.header.decoded);
      } else {
        if (item.held.length > 0) this.reportIn(item.held, undefined);
        const from = Math.max(0, item.undecodedFrom + item.held.length - this.chunkStart);
        if (from < chunk.length) this.reportIn(chunk.subarray(from), undefined);
        this.onParseError(item.error, chunk);
      }
    }
    this.flushReportIn();
    // heartbeats a rule ignores do not keep the connection alive
    if (dropped === chunk.length) this.lastReceived = before;
    this.afterInput();
  }

  /** client bytes read, not yet told to the observer: consecutive frames of a chunk go as one */
  private reportPending: Uint8Array | undefined;

  private reportIn(bytes: Uint8Array, mark: FaultMark | undefined): void {
    const observer = this.observer;
    if (observer === undefined) return;
    if (mark === undefined) {
      const pending = this.reportPending;
      if (pending !== undefined && pending.buffer === bytes.buffer && pending.byteOffset + pending.length === bytes.byteOffset) {
        this.reportPending = new Uint8Array(pending.buffer, pending.byteOffset, pending.length + bytes.length);
      } else {
        this.flushReportIn();
        this.reportPending = bytes;
      }
      return;
    }
    this.flushReportIn();
    try {
      observer.onFrameMarked?.(this.id, 'c2s', bytes, mark);
    } catch {
      // an observer's fault must not break the broker
    }
  }

  private flushReportIn(): void {
    const pending = this.reportPending;
    if (pending === undefined) return;
    this.reportPending = undefined;
    try {
      this.observer?.onData?.(this.id, 'c2s', Buffer.isBuffer(pending) ? pending : Buffer.from(pending.buffer, pending.byteOffset, pending.length));
    } catch {
      // an observer's fault must not break the broker
    }
  }

  // ---- what fault rules need (FaultedConnection) ----

  /** The broker's own handling of one client frame. */
  handleFrame(frame: RawFrame): void {
    if (this.state === 'closed') return;
    try {
      if (frame.type === 2 || frame.type === 3) this.contentSeen = true;
      this.onFrame(frame);
    } catch (e) {
      this.onException(e, 0);
    }
  }

  afterInput(): void {
    if (this.contentSeen && this.broker.memoryAlarm) this.block();
    this.contentSeen = false;
    if (this.published) {
      this.published = false;
      this.broker.scheduleExpiry();
    }
  }

  holdInput(held: boolean): void {
    if (this.faultHeld === held) return;
    this.faultHeld = held;
    if (held) this.socket.pause();
    else {
      this.lastReceived = Date.now();
      if (!this.blocked && !this.held) this.socket.resume();
    }
  }

  channel(id: number): BrokerChannel | undefined {
    return this.channels.get(id);
  }

  get vhostName(): string {
    return this.vhost?.name ?? '/';
  }

  get who(): string {
    const product = this.clientProperties === undefined ? undefined : tableGet(this.clientProperties, 'product');
    const name = product !== undefined && (product.type === 'S' || product.type === 'x') ? Buffer.from(product.value as Uint8Array | string).toString() : '';
    return `connection ${this.id}${name ? ` (${name})` : ''}`;
  }

  notice(line: string): void {
    this.broker.onNotice?.(line);
  }

  /** Ends the socket as a network failure would (FIN or RST); the broker cleans up as for a lost client. */
  cut(how: 'fin' | 'reset', detail: string): void {
    if (this.state === 'closed') return;
    // a FIN comes after what was already written (answers to the frames before the cut)
    if (how === 'fin') this.output.flush();
    this.closeReason = { by: 'server', how: how === 'fin' ? 'closed' : 'reset', detail };
    this.state = 'closed';
    this.releaseAll();
    if (how === 'fin') this.socket.end();
    else this.socket.resetAndDestroy();
  }

  private onProtocolHeader(supported: boolean): void {
    if (!supported) {
      this.refuse();
      return;
    }
    this.state = 'starting';
    this.output.sendMethod(0, 'connection.start', {
      'version-major': 0,
      'version-minor': 9,
      'server-properties': serverProperties(),
      mechanisms: 'PLAIN AMQPLAIN',
      locales: 'en_US',
    });
  }

  /** Answers a wrong protocol header (or garbage) with ours, then closes. */
  private refuse(): void {
    this.state = 'closed';
    this.closeReason = { by: 'server', how: 'closed', detail: 'unsupported protocol header' };
    this.output.send(encodeProtocolHeader());
    this.output.flush();
    this.socket.end();
  }

  private onParseError(error: DecodeError, chunk?: Uint8Array): void {
    if (this.state === 'header') {
      this.refuse();
      return;
    }
    let detail = error.message;
    const m = /type (\d+), channel (\d+), payload (\d+)/.exec(error.message);
    if (error.code === 'frame-too-large' && m !== null) {
      detail = `type ${m[1]}, all octets = <<>>: {frame_too_large,${m[3]},${this.output.frameMax - 8}}`;
    } else if (error.code === 'frame-end') {
      const end = /end byte is 0x([0-9a-f]+)/.exec(error.message);
      const f = /frame at offset (\d+): type (\d+), channel \d+, payload (\d+) bytes/.exec(error.message);
      let octets = '';
      if (f !== null && chunk !== undefined) {
        const from = Number(f[1]) + 7 - this.chunkStart;
        const size = Number(f[3]);
        if (from >= 0 && from + size <= chunk.length) octets = `, ${payloadSnippet(chunk.subarray(from, from + size))}`;
      }
      detail = `type ${f?.[2] ?? '?'}${octets}: {invalid_frame_end_marker,${end === null ? '?' : parseInt(end[1]!, 16)}}`;
    } else if (error.code === 'unknown-frame-type' && chunk !== undefined) {
      // RabbitMQ reads the whole frame first, then names its type and payload
      const at = error.offset - this.chunkStart;
      const type = chunk[at] ?? 0;
      let octets = '';
      if (at >= 0 && at + 7 <= chunk.length) {
        const size = ((chunk[at + 3]! << 24) | (chunk[at + 4]! << 16) | (chunk[at + 5]! << 8) | chunk[at + 6]!) >>> 0;
        if (at + 7 + size <= chunk.length) octets = `, ${payloadSnippet(chunk.subarray(at + 7, at + 7 + size))}`;
      }
      detail = `type ${type}${octets}: unknown_frame`;
    }
    this.closeWithError(new AmqpError(501, `FRAME_ERROR - ${detail}`), true);
  }

  private onFrame(frame: RawFrame): void {
    const channel = frame.channel;
    if (this.state === 'closing') {
      if (channel === 0 && frame.type === 1) this.closingMethod(frame);
      return;
    }
    if (frame.type === 8) {
      // RabbitMQ's reader takes a heartbeat with a payload for no frame at all
      if (frame.payload.length > 0) throw unknownFrame(8, frame.payload);
      if (channel !== 0) throw new AmqpError(505, `UNEXPECTED_FRAME - type 8, ${payloadSnippet(frame.payload)}`);
      return;
    }
    if (channel === 0) {
      if (frame.type !== 1) throw new AmqpError(505, `UNEXPECTED_FRAME - type ${frame.type}, ${payloadSnippet(frame.payload)}`);
      this.onConnectionMethod(this.decodeConnectionMethod(frame));
      return;
    }
    if (this.state !== 'running') {
      throw new AmqpError(505, `UNEXPECTED_FRAME - type ${frame.type}, ${payloadSnippet(frame.payload)}`);
    }
    let ch = this.channels.get(channel);
    if (ch === undefined) {
      if (frame.type !== 1) throw new AmqpError(505, 'UNEXPECTED_FRAME - expected method frame, got non method frame instead');
      const method = this.decode(frame);
      if (method.name !== 'channel.open') {
        throw new AmqpError(504, "CHANNEL_ERROR - expected 'channel.open'").at(method.classId, method.methodId);
      }
      // RabbitMQ counts open channels; it does not refuse a number above channel-max
      if (this.channelMax !== 0 && this.channels.size >= this.channelMax) {
        throw new AmqpError(
          530,
          `NOT_ALLOWED - number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`,
        ).at(20, 10);
      }
      ch = new BrokerChannel(this, channel);
      this.channels.set(channel, ch);
      this.output.sendMethod(channel, 'channel.open-ok', {});
      return;
    }
    try {
      ch.onFrame(frame);
    } catch (e) {
      this.onException(e, channel);
    }
  }

  /**
   * Decodes a method frame as RabbitMQ 3.10 judges it: shorter than its ids → 501
   * unknown_frame; arguments that do not decode → 501 "cannot decode" with the argument bytes;
   * unknown ids → 540 (RabbitMQ drops the connection without a word there).
   */
  decode(frame: RawFrame): DecodedMethod {
    const p = frame.payload;
    if (p.length < 4) throw unknownFrame(1, p);
    try {
      return decodeMethod(p);
    } catch (e) {
      const classId = (p[0]! << 8) | p[1]!;
      const methodId = (p[2]! << 8) | p[3]!;
      if ((e as DecodeError).code === 'unknown-method') {
        throw new AmqpError(540, `NOT_IMPLEMENTED - unknown method ${classId}.${methodId} (class ${classId}, method ${methodId})`);
      }
      throw cannotDecode(classId, methodId, p.subarray(4));
    }
  }

  /**
   * Channel 0: RabbitMQ decodes an open connection's methods where its frame error escapes
   * as a crash, answered 541 INTERNAL_ERROR (0/0); before open it is the 501 of decode().
   */
  private decodeConnectionMethod(frame: RawFrame): DecodedMethod {
    try {
      return this.decode(frame);
    } catch (e) {
      if (this.state === 'running' && e instanceof AmqpError && e.replyCode === 501 && e.classId !== undefined) {
        throw new AmqpError(541, `INTERNAL_ERROR - ${e.replyText.slice('FRAME_ERROR - '.length)}`);
      }
      throw e;
    }
  }

  private unexpectedMethod(method: DecodedMethod): AmqpError {
    return new AmqpError(504, `CHANNEL_ERROR - unexpected method in connection state ${this.state}`).at(method.classId, method.methodId);
  }

  private onConnectionMethod(method: DecodedMethod): void {
    switch (method.name) {
      case 'connection.start-ok':
        if (this.state !== 'starting') throw this.unexpectedMethod(method);
        this.startOk(method.args as MethodArgs<'connection.start-ok'>);
        return;
      case 'connection.secure-ok':
        throw this.unexpectedMethod(method);
      case 'connection.tune-ok':
        if (this.state !== 'tuning') throw this.unexpectedMethod(method);
        this.tuneOk(method.args as MethodArgs<'connection.tune-ok'>);
        return;
      case 'connection.open':
        if (this.state !== 'opening') throw this.unexpectedMethod(method);
        this.open(text((method.args as MethodArgs<'connection.open'>)['virtual-host']));
        return;
      case 'connection.close':
        if (this.state !== 'running') throw this.unexpectedMethod(method);
        this.clientClose();
        return;
      case 'connection.update-secret':
        if (this.state !== 'running') throw this.unexpectedMethod(method);
        this.output.sendMethod(0, 'connection.update-secret-ok', {});
        return;
      default:
        throw this.unexpectedMethod(method);
    }
  }

  private startOk(args: MethodArgs<'connection.start-ok'>): void {
    const clientProps = args['client-properties'];
    this.clientProperties = clientProps;
    const caps = tableGet(clientProps, 'capabilities');
    const capTable = caps !== undefined && caps.type === 'F' ? caps.value : undefined;
    this.capabilities = {
      consumerCancelNotify: isTrue(capTable, 'consumer_cancel_notify'),
      connectionBlocked: isTrue(capTable, 'connection.blocked'),
      authenticationFailureClose: isTrue(capTable, 'authentication_failure_close'),
    };
    const mechanism = text(args.mechanism);
    this.mechanism = mechanism;
    this.state = 'securing';
    if (mechanism !== 'PLAIN' && mechanism !== 'AMQPLAIN') {
      throw new AmqpError(503, `COMMAND_INVALID - unknown authentication mechanism '${mechanism}'`).at(10, 11);
    }
    const credentials = saslCredentials(mechanism, args.response);
    if (credentials === undefined || credentials.password === undefined) {
      this.authFailed(
        credentials === undefined ? `no user name and password in the ${mechanism} response` : `no password for user '${credentials.user}'`,
        credentials?.user,
      );
      return;
    }
    const refusal = this.broker.refusal(credentials.user, credentials.password);
    if (refusal !== undefined) {
      this.authFailed(refusal, credentials.user);
      return;
    }
    // RabbitMQ's loopback_users: guest/guest is known to everyone
    if (credentials.user === 'guest' && !this.broker.allowRemoteGuest && !isLoopbackAddress(this.socket.remoteAddress)) {
      this.authFailed("user 'guest' can only connect via localhost (--allow-remote-guest allows it)", credentials.user);
      return;
    }
    this.user = credentials.user;
    this.state = 'tuning';
    this.output.sendMethod(0, 'connection.tune', {
      'channel-max': this.broker.channelMax,
      'frame-max': this.broker.frameMax,
      heartbeat: this.broker.heartbeat,
    });
  }

  /**
   * RabbitMQ's code and opening words, so clients react the same; where RabbitMQ points to its
   * log file (there is none here), the reason itself. The person running the broker is told too
   * (a client without authentication_failure_close only sees the socket close).
   */
  private authFailed(reason: string, user: string | undefined): void {
    this.closeReason = { by: 'server', how: 'closed', detail: 'authentication failed' };
    this.broker.onNotice?.(
      `connection #${this.id}: refused login${user !== undefined ? ` of user '${user}'` : ''}: ${reason} (users: ${this.broker.userNames})`,
    );
    if (this.capabilities.authenticationFailureClose) {
      const error = new AmqpError(
        403,
        `ACCESS_REFUSED - Login was refused using authentication mechanism ${this.mechanism}. ${reason[0]!.toUpperCase()}${reason.slice(1)}.`.slice(0, 255),
      );
      this.closeWithError(error, true);
      this.closeReason = { by: 'server', how: 'closed', detail: `authentication failed: ${reason} (403 sent)` };
      return;
    }
    this.state = 'closed';
    this.output.flush();
    this.socket.end();
  }

  private tuneOk(args: MethodArgs<'connection.tune-ok'>): void {
    const frameMax = args['frame-max'];
    const channelMax = args['channel-max'];
    checkNegotiated('frame_max', FRAME_MIN_SIZE, this.broker.frameMax, frameMax);
    checkNegotiated('channel_max', 1, this.broker.channelMax, channelMax);
    this.output.frameMax = frameMax;
    this.channelMax = channelMax;
    this.heartbeat = args.heartbeat;
    this.state = 'opening';
    if (this.heartbeat > 0) {
      const interval = Math.max(250, (this.heartbeat * 1000) / 2);
      this.heartbeatTimer = setInterval(() => this.heartbeatTick(), interval);
      this.heartbeatTimer.unref();
    }
  }

  private open(vhostName: string): void {
    // RabbitMQ's order: the node's connection limit, then the vhost
    if (this.broker.overConnectionLimit) {
      throw new AmqpError(530, `NOT_ALLOWED - connection refused: node connection limit (${this.broker.maxConnections}) is reached`).at(10, 40);
    }
    const vhost = this.broker.vhost(vhostName);
    if (vhost === undefined) {
      this.broker.onNotice?.(`connection #${this.id} (user '${this.user}'): refused vhost '${vhostName}': no such vhost (vhosts: ${this.broker.vhostNames})`);
      throw new AmqpError(530, `NOT_ALLOWED - vhost ${vhostName} not found`).at(10, 40);
    }
    if (!this.broker.mayOpen(this.user, vhostName)) {
      this.broker.onNotice?.(`connection #${this.id} (user '${this.user}'): refused vhost '${vhostName}': not among the user's vhosts`);
      throw new AmqpError(530, `NOT_ALLOWED - access to vhost '${vhostName}' refused for user '${this.user}'`).at(10, 40);
    }
    this.vhost = vhost;
    this.state = 'running';
    this.disarmHandshakeTimer();
    this.broker.addAlarmListener(this);
    this.output.sendMethod(0, 'connection.open-ok', {});
  }

  private clientClose(): void {
    this.releaseAll();
    this.state = 'closed';
    // the tap says `client closed the connection`: it saw the close and this close-ok
    this.closeReason ??= { by: 'server', how: 'closed' };
    this.output.sendMethod(0, 'connection.close-ok', {});
    this.output.flush();
    this.socket.end();
  }

  /** Frames while we wait for connection.close-ok: only close / close-ok count. */
  private closingMethod(frame: RawFrame): void {
    let method: DecodedMethod;
    try {
      method = decodeMethod(frame.payload);
    } catch {
      return;
    }
    if (method.name === 'connection.close-ok') {
      this.state = 'closed';
      this.closeReason ??= { by: 'server', how: 'closed' };
      this.socket.end();
    } else if (method.name === 'connection.close') {
      this.output.sendMethod(0, 'connection.close-ok', {});
      this.state = 'closed';
      this.closeReason ??= { by: 'server', how: 'closed' };
      this.output.flush();
      this.socket.end();
    }
  }

  // ---- handshake timeout ----

  private armHandshakeTimer(): void {
    this.handshakeTimer = setTimeout(this.handshakeExpired, this.broker.handshakeTimeout);
    this.handshakeTimer.unref();
  }

  private disarmHandshakeTimer(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /** Not open in time: closed without a word, as RabbitMQ does (the reason goes to the observer). */
  private readonly handshakeExpired = (): void => {
    this.handshakeTimer = undefined;
    if (this.state === 'running' || this.state === 'closing') return;
    // refused before open and ended by us: a client that never closes its side holds nothing longer
    if (this.state === 'closed') {
      this.socket.destroy();
      return;
    }
    // a client we stopped reading (the recorder fell behind) could not go on: give it the time again
    if (this.held) {
      this.armHandshakeTimer();
      return;
    }
    const ms = this.broker.handshakeTimeout;
    const where =
      this.state !== 'header'
        ? `stopped in connection state ${this.state}`
        : this.received === 0
          ? 'nothing received'
          : `${this.received} bytes received, not a whole protocol header`;
    this.closeReason = { by: 'server', how: 'closed', detail: `handshake timeout: no connection.open within ${ms} ms (${where})` };
    this.state = 'closed';
    this.releaseAll();
    this.socket.destroy();
  };

  // ---- errors ----

  /** An exception from handling a frame: soft ones close the channel, hard ones the connection. */
  onException(e: unknown, channel: number): void {
    if (!(e instanceof AmqpError)) {
      this.internalError(e);
      return;
    }
    if (!e.hard && channel !== 0) {
      const ch = this.channels.get(channel);
      if (ch !== undefined) {
        ch.closeWithError(e);
        return;
      }
    }
    this.closeWithError(e, false);
  }

  private internalError(e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.closeWithError(new AmqpError(541, `INTERNAL_ERROR - ${message}`.slice(0, 255)), false);
  }

  /** Sends connection.close for a hard error and waits (briefly) for close-ok. */
  closeWithError(e: AmqpError, endNow: boolean): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.releaseAll();
    this.output.sendMethod(0, 'connection.close', {
      'reply-code': e.replyCode,
      'reply-text': replyTextOnWire(e.replyText),
      'class-id': e.classId ?? 0,
      'method-id': e.methodId ?? 0,
    });
    this.output.flush();
    // before the connection is open a client rarely answers close-ok: end at once
    if (endNow || this.state !== 'running') {
      this.state = 'closed';
      this.closeReason ??= { by: 'server', how: 'closed' };
      this.socket.end();
      return;
    }
    this.state = 'closing';
    this.closeTimer = setTimeout(() => {
      this.closeReason ??= { by: 'server', how: 'closed', detail: `no close-ok within ${CLOSE_TIMEOUT_MS / 1000} s` };
      this.socket.destroy();
    }, CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  // ---- channels ----

  /** A channel finished closing (close-ok either way): its number may be reused. */
  freeChannel(id: number): void {
    this.channels.delete(id);
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /**
   * Copies small message bodies into shared 64 KiB arenas: one queued message then holds its
   * few bytes instead of the whole socket chunk it arrived in.
   */
  copySmall(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (this.arenaUsed + n > this.arena.length) {
      this.arena = new Uint8Array(ARENA_SIZE);
      this.arenaUsed = 0;
    }
    const view = new Uint8Array(this.arena.buffer, this.arenaUsed, n);
    view.set(bytes);
    this.arenaUsed += n;
    return view;
  }

  /** Marks that a publish happened this turn (TTL timers). */
  notePublish(): void {
    this.published = true;
  }

  /** The socket drained (FrameOutput): consumers held back by backpressure get their messages. */
  resumeDeliveries(): void {
    try {
      for (const ch of this.channels.values()) ch.resumeDeliveries();
    } catch (e) {
      this.internalError(e);
    }
  }

  // ---- heartbeats ----

  private heartbeatTick(): void {
    const now = Date.now();
    const period = this.heartbeat * 1000;
    if (this.state === 'closed' || this.state === 'closing') return;
    if (!this.blocked && !this.held && !this.faultHeld && this.faults?.readingHeld !== true && now - this.lastReceived > period * 2) {
      this.closeReason = { by: 'server', how: 'closed', detail: `missed heartbeats from client, timeout: ${this.heartbeat}s` };
      this.releaseAll();
      this.state = 'closed';
      this.socket.destroy();
      return;
    }
    if (now - this.output.lastSent >= period / 2) this.output.send(encodeHeartbeatFrame());
  }

  // ---- memory alarm ----

  memoryAlarm(on: boolean): void {
    if (!on) this.unblock();
  }

  private block(): void {
    if (this.blocked || this.state !== 'running') return;
    this.blocked = true;
    if (this.capabilities.connectionBlocked) {
      this.blockedSent = true;
      this.output.sendMethod(0, 'connection.blocked', { reason: 'low on memory' });
    }
    this.socket.pause();
  }

  private unblock(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.lastReceived = Date.now();
    if (this.blockedSent && this.state === 'running') {
      this.blockedSent = false;
      this.output.sendMethod(0, 'connection.unblocked', {});
    }
    if (!this.held && !this.faultHeld) this.socket.resume();
  }

  /** Holds or releases reading from the client; a blocked connection stays paused. */
  holdReading(held: boolean): void {
    if (this.held === held) return;
    this.held = held;
    if (held) this.socket.pause();
    else {
      // the client could not be read meanwhile: its heartbeats count from now
      this.lastReceived = Date.now();
      if (!this.blocked && !this.faultHeld) this.socket.resume();
    }
  }

  // ---- teardown ----

  /** Closes every channel (requeueing unacked deliveries) and deletes exclusive queues. */
  private releaseAll(): void {
    for (const ch of this.channels.values()) ch.release();
    this.channels.clear();
    if (this.vhost !== undefined) {
      this.vhost.connectionClosed(this);
      this.broker.scheduleExpiry();
    }
    this.broker.removeAlarmListener(this);
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Server shutdown: CONNECTION_FORCED, as RabbitMQ says it. */
  shutdown(): void {
    this.closeReason ??= { by: 'server', how: 'stopped' };
    if (this.state === 'running') {
      this.closeWithError(new AmqpError(320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"), true);
    } else {
      this.releaseAll();
      this.state = 'closed';
      this.socket.destroy();
    }
  }

  private onSocketClosed(): void {
    if (this.state !== 'closed') {
      this.closeReason ??= { by: 'client', how: 'closed' };
      this.state = 'closed';
    }
    this.releaseAll();
    this.faults?.closed();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.disarmHandshakeTimer();
    this.broker.socketClosed();
    this.onGone(this, this.closeReason ?? { by: 'client', how: 'closed' });
  }
}

/** RabbitMQ's tune-ok checks (`validate_negotiated_integer_value`). */
function checkNegotiated(field: string, min: number, server: number, client: number): void {
  if (client !== 0 && client < min) {
    throw new AmqpError(530, `NOT_ALLOWED - negotiated ${field} = ${client} is lower than the minimum allowed value (${min})`).at(10, 30);
  }
  if (server !== 0 && (client === 0 || client > server)) {
    const detail = field === 'channel_max' && client === 0 ? ' (no limit)' : '';
    throw new AmqpError(530, `NOT_ALLOWED - negotiated ${field} = ${client}${detail} is higher than the maximum allowed value (${server})`).at(10, 30);
  }
}
