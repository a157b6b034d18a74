// `amqp-spy replay FILE --to host:port`: plays the client side of every recorded connection
// to a broker, as a real client over a plain socket. In recorded order, a client frame is
// sent only once every server frame that preceded it in the recording has come from the new
// server (so each synchronous reply is awaited), and server-chosen names (server-named
// queues, consumer tags, delivery tags) are mapped from the new replies into later frames.
// Each new server frame is compared with the recorded one in its place; the differences are
// the result.

import net from 'node:net';
import tls from 'node:tls';
import { decodeFrame, encodeContentHeaderFrame, encodeHeartbeatFrame, encodeMethodFrame } from '../../decoder/frame-codec.js';
import { isFieldTable, tableString } from '../../decoder/field-table.js';
import { FrameParser } from '../../decoder/frame-parser.js';
import { saslCredentials } from '../../decoder/sasl.js';
import { isErrorReplyCode } from '../../decoder/spec.js';
import type { ArgumentValue, DecodedContentHeader, DecodedFrame, DecodedMethod } from '../../decoder/types.js';
import { formatHostPort } from '../../proxy/address.js';
import { formatArguments } from '../../view/format.js';
import { openRecording, type RecordedBytes } from '../../record/recording-reader.js';
import { diffValues, NameMap } from './replay-compare.js';

export interface ReplayTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** replace the recorded credentials (always needed when the recording masked them) */
  readonly username?: string;
  readonly password?: string;
}

export interface ReplayToOptions {
  readonly path: string;
  readonly target: ReplayTarget;
  /** how long to wait for a server frame the recording says comes next (default 5000 ms) */
  readonly timeoutMs?: number;
  readonly lenient?: boolean;
  /** accept any certificate from an amqps:// target */
  readonly insecure?: boolean;
  readonly onWarning?: (line: string) => void;
  /**
   * The recording's own pace, scaled (default 1: as recorded, so TTLs and expiries meet the
   * same clock; 10 is ten times faster). A client frame is never sent before its recorded
   * time, nor before the server frames recorded ahead of it came.
   */
  readonly speed?: number;
  /** each difference as it is found */
  readonly onDifference?: (difference: ReplayDifference) => void;
}

export interface ReplayDifference {
  readonly conn: number;
  readonly channel: number;
  /** the recording's line of the server frame that differs, when there is one */
  readonly line?: number;
  /** one line for people: `queue.declare-ok: recorded message-count=0, now message-count=3` */
  readonly text: string;
}

export interface ReplayToResult {
  readonly connections: number;
  readonly framesSent: number;
  /** recorded server methods compared with the new server's */
  readonly compared: number;
  /** publishes whose confirms were compared (recorded ack/nack against the new server's) */
  readonly confirmsCompared: number;
  /** recorded client frames not sent because their channel or connection had diverged */
  readonly skipped: number;
  /**
   * The servers of the first connection, from connection.start (`RabbitMQ 3.10.8`), when the
   * new one is another product or version: not a difference, but worth knowing when reading them.
   */
  readonly servers?: { readonly recorded: string; readonly now: string };
  readonly differences: readonly ReplayDifference[];
}

/** The target cannot be reached; one line. */
export class ReplayTargetError extends Error {
  constructor(readonly host: string, readonly port: number, reason: string) {
    super(`--to ${formatHostPort(host, port)}: ${reason}`);
    this.name = 'ReplayTargetError';
  }
}

export function formatDifference(d: ReplayDifference): string {
  return `#${d.conn} ch${d.channel}${d.line !== undefined ? ` (line ${d.line})` : ''}: ${d.text}`;
}

/** A server method with its content, when it has some. */
interface ServerItem {
  readonly method: DecodedMethod;
  readonly line?: number;
  header?: DecodedContentHeader;
  readonly body: Uint8Array[];
  received: number;
  complete: boolean;
}

/** Server methods that come unasked (deliveries, returns) are matched apart from replies. */
const ASYNC_METHODS = new Set(['basic.deliver', 'basic.return']);
/**
 * Publisher confirms are batched as each broker pleases (multiple=true), so they are not
 * matched frame by frame: each publish's outcome is compared instead (see ConfirmLog).
 */
const CONFIRM_METHODS = new Set(['basic.ack', 'basic.nack']);

const CONFIRM_NONE = 0;
const CONFIRM_ACK = 1;
const CONFIRM_NACK = 2;
/** at most this many ranges of differing confirms are reported per channel */
const MAX_CONFIRM_RANGES = 20;

/** One side's publisher confirms on a channel: the outcome of each publish by sequence number. */
class ConfirmLog {
  /** index = publish sequence number (from 1): CONFIRM_NONE, CONFIRM_ACK or CONFIRM_NACK */
  private outcomes = new Uint8Array(64);
  /** every publish below this has an outcome */
  private floor = 1;
  /** publishes with an outcome */
  resolved = 0;

  /**
   * A basic.ack / basic.nack: `tag` 0 with `multiple` means every publish so far. A tag past
   * the publishes made is cut to them (no memory for a bogus 2^60).
   */
  settle(tag: number, multiple: boolean, outcome: number, published: number): void {
    const upTo = multiple && tag === 0 ? published : Math.min(tag, published);
    if (upTo >= this.outcomes.length) {
      const grown = new Uint8Array(Math.max(upTo + 1, this.outcomes.length * 2));
      grown.set(this.outcomes);
      this.outcomes = grown;
    }
    const o = this.outcomes;
    for (let seq = multiple ? this.floor : upTo; seq <= upTo; seq++) {
      if (seq < 1 || o[seq] !== CONFIRM_NONE) continue;
      o[seq] = outcome;
      this.resolved++;
    }
    while (this.floor < o.length && o[this.floor] !== CONFIRM_NONE) this.floor++;
  }

  outcome(seq: number): number {
    return this.outcomes[seq] ?? CONFIRM_NONE;
  }
}

const CONFIRM_WORDS = ['none', 'ack', 'nack'] as const;

interface Stream {
  readonly recorded: ServerItem[];
  readonly fresh: ServerItem[];
}

class ChannelState {
  readonly sync: Stream = { recorded: [], fresh: [] };
  readonly async: Stream = { recorded: [], fresh: [] };
  /** recorded delivery tag → the new server's */
  readonly deliveryTags = new Map<bigint, bigint>();
  /** confirm.select was sent: publishes are numbered and their confirms compared */
  confirming = false;
  /** publishes sent since confirm.select (the same for both sides: the recorded ones, in order) */
  published = 0;
  recordedConfirms = new ConfirmLog();
  freshConfirms = new ConfirmLog();
  /** gave up waiting for the new server's confirms (the final comparison names the publishes) */
  confirmsOverdue = false;
  /** the item receiving content frames, per side */
  recordedContent: ServerItem | undefined;
  freshContent: ServerItem | undefined;
  /** the last request the client sent, to tell which names the server chose */
  lastRequest: DecodedMethod | undefined;
  /** diverged: its recorded frames are dropped until the client opens it again */
  dead = false;
  /** we closed it ourselves and await the new server's close-ok */
  awaitingCloseOk = false;

  settled(): boolean {
    if (this.awaitingCloseOk) return false;
    if (this.dead) return true;
    return this.sync.recorded.length === 0 && this.async.recorded.length === 0 && this.confirmsCaughtUp();
  }

  /** The new server confirmed as many publishes as the recording had by this point. */
  confirmsCaughtUp(): boolean {
    return this.confirmsOverdue || this.freshConfirms.resolved >= this.recordedConfirms.resolved;
  }
}

function methodText(method: DecodedMethod): string {
  const args = formatArguments(method);
  return args ? `${method.name} ${args}` : method.name;
}

/** Both closes are normal (0 from py-amqp and Bunny, 200 from others): the same answer, whatever their codes and texts. */
function bothNormalCloses(r: DecodedMethod, f: DecodedMethod): boolean {
  return (r.name === 'channel.close' || r.name === 'connection.close') &&
    !isErrorReplyCode(Number(r.args['reply-code'])) && !isErrorReplyCode(Number(f.args['reply-code']));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

class ReplayConnection {
  readonly channels = new Map<number, ChannelState>();
  readonly parser = new FrameParser({ expectProtocolHeader: false });
  socket: net.Socket | undefined;
  /** the new server closed the connection (or the socket ended): nothing more is sent */
  dead = false;
  /** connection.close was sent by either side: the socket closing is expected */
  closing = false;
  /** the recording has this connection's close (it was not cut short) */
  recordingClosed = false;
  closedBy: string | undefined;
  private wake: (() => void) | undefined;
  heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly id: number) {}

  channel(n: number): ChannelState {
    let state = this.channels.get(n);
    if (!state) {
      state = new ChannelState();
      this.channels.set(n, state);
    }
    return state;
  }

  settled(): boolean {
    if (this.dead) return true;
    for (const ch of this.channels.values()) if (!ch.settled()) return false;
    return true;
  }

  /** Wakes a pending `until` to check again. */
  poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves true when settled, false on timeout. */
  async until(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.settled()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return true;
  }

  send(bytes: Uint8Array): void {
    if (!this.dead && this.socket && !this.socket.destroyed) this.socket.write(bytes);
  }
}

export async function replayTo(options: ReplayToOptions): Promise<ReplayToResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const warn = options.onWarning ?? (() => {});
  const recording = await openRecording(options.path, { lenient: options.lenient ?? false, onWarning: warn });
  const masked = recording.header.secrets !== 'kept';
  const target = options.target;
  const differences: ReplayDifference[] = [];
  /** recorded server-chosen name → the new server's */
  const names = new NameMap();
  const connections = new Map<number, ReplayConnection>();
  let framesSent = 0;
  let compared = 0;
  let confirmsCompared = 0;
  let skipped = 0;
  let servers: { recorded: string; now: string } | undefined;
  let connectionCount = 0;

  const differ = (conn: number, channel: number, line: number | undefined, text: string) => {
    const d: ReplayDifference = { conn, channel, ...(line !== undefined ? { line } : {}), text };
    differences.push(d);
    options.onDifference?.(d);
  };

  /** Records a name the new server chose in place of the recorded one. */
  const learnName = (recorded: ArgumentValue | undefined, fresh: ArgumentValue | undefined): boolean => {
    if (typeof recorded !== 'string' || typeof fresh !== 'string') return false;
    names.learn(recorded, fresh);
    return true;
  };

  /** Compares one recorded server method (with content) to the new server's, learning names. */
  const compare = (conn: ReplayConnection, channelNo: number, ch: ChannelState, recorded: ServerItem, fresh: ServerItem) => {
    compared++;
    const r = recorded.method;
    const f = fresh.method;
    if (r.name !== f.name) {
      differ(conn.id, channelNo, recorded.line, `recorded ${methodText(r)}, now ${methodText(f)}`);
      diverge(conn, channelNo, ch, fresh);
      return;
    }
    const serverChose = (arg: string) => {
      const request = ch.lastRequest;
      if (r.name === 'queue.declare-ok' && arg === 'queue') return request?.name === 'queue.declare' && request.args['queue'] === '';
      if (r.name === 'basic.consume-ok' && arg === 'consumer-tag') return request?.name === 'basic.consume' && request.args['consumer-tag'] === '';
      return false;
    };
    if (r.name === 'connection.start' && servers === undefined) {
      servers = { recorded: serverName(r.args['server-properties']), now: serverName(f.args['server-properties']) };
    }
    const diffs: string[] = [];
    if (r.name !== 'connection.start' && r.name !== 'connection.open-ok' && !bothNormalCloses(r, f)) {
      for (const field of r.spec.fields) {
        const rv = r.args[field.name];
        const fv = f.args[field.name];
        if (rv === undefined || fv === undefined) continue;
        if (field.name === 'delivery-tag' && (r.name === 'basic.deliver' || r.name === 'basic.get-ok')) {
          ch.deliveryTags.set(rv as bigint, fv as bigint);
          continue;
        }
        if (serverChose(field.name) && learnName(rv, fv)) continue;
        diffValues(field.name, rv, fv, names, diffs);
      }
    }
    if (recorded.header && fresh.header) {
      const rp = recorded.header.properties;
      const fp = fresh.header.properties;
      const keys = new Set([...Object.keys(rp), ...Object.keys(fp)]);
      for (const key of keys) diffValues(`property ${key}`, rp[key], fp[key], names, diffs);
      const rb = concat(recorded.body);
      const fb = concat(fresh.body);
      if (!sameBytes(rb, fb)) diffs.push(`body: recorded ${rb.length} bytes, now ${fb.length} bytes${rb.length === fb.length ? ' (different bytes)' : ''}`);
    }
    if (diffs.length > 0) differ(conn.id, channelNo, recorded.line, `${r.name}: ${diffs.join('; ')}`);
  };

  /**
   * The new server answered otherwise than recorded on this channel: its recorded frames no
   * longer apply. Close what the new server left open so later frames cannot hit it.
   */
  const diverge = (conn: ReplayConnection, channelNo: number, ch: ChannelState, fresh: ServerItem | undefined) => {
    ch.sync.recorded.length = 0;
    ch.async.recorded.length = 0;
    ch.recordedContent = undefined;
    if (fresh?.method.name === 'connection.close') {
      conn.send(encodeMethodFrame(0, 'connection.close-ok'));
      killConnection(conn, `the new server closed it: ${methodText(fresh.method)}`);
      return;
    }
    if (channelNo === 0) {
      // a connection-level divergence: stop this connection cleanly
      killConnection(conn, 'its handshake diverged');
      return;
    }
    if (ch.dead) return;
    ch.dead = true;
    if (fresh?.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
    else {
      conn.send(encodeMethodFrame(channelNo, 'channel.close', { 'reply-code': 200, 'reply-text': 'amqp-spy replay: closed where the recording diverged', 'class-id': 0, 'method-id': 0 }));
      ch.awaitingCloseOk = true;
    }
  };

  /**
   * Compares each publish's confirm on a channel, recorded and new, as ranges of publishes
   * (`publishes 3-5: recorded ack, now nack`). Publishes the recording has no confirm for are
   * compared only when the recording closed the connection (a cut recording just ends), and
   * none on a diverged channel (its later confirms never came, which was reported already).
   */
  const compareConfirms = (conn: ReplayConnection, channelNo: number, ch: ChannelState) => {
    if (!ch.confirming || ch.published === 0) return;
    const comparable = (r: number, f: number) =>
      r !== f && !(ch.dead && (r === CONFIRM_NONE || f === CONFIRM_NONE)) && !(r === CONFIRM_NONE && !conn.recordingClosed);
    const ranges: string[] = [];
    let extra = 0;
    for (let seq = 1; seq <= ch.published; seq++) {
      const r = ch.recordedConfirms.outcome(seq);
      const f = ch.freshConfirms.outcome(seq);
      if (!comparable(r, f)) continue;
      let last = seq;
      while (last < ch.published && ch.recordedConfirms.outcome(last + 1) === r && ch.freshConfirms.outcome(last + 1) === f) last++;
      if (ranges.length < MAX_CONFIRM_RANGES) {
        const which = last === seq ? `publish ${seq}` : `publishes ${seq}-${last}`;
        ranges.push(`${which} of ${ch.published}: recorded ${CONFIRM_WORDS[r]}, now ${CONFIRM_WORDS[f]}`);
      } else extra++;
      seq = last;
    }
    for (const range of ranges) differ(conn.id, channelNo, undefined, `publisher confirm of ${range}`);
    if (extra > 0) differ(conn.id, channelNo, undefined, `publisher confirms: ${extra} more ranges of publishes differ`);
    confirmsCompared += ch.published;
  };

  const killConnection = (conn: ReplayConnection, why: string) => {
    if (conn.dead) return;
    conn.dead = true;
    conn.closedBy = why;
    if (conn.heartbeat) clearInterval(conn.heartbeat);
    conn.socket?.end();
    setTimeout(() => conn.socket?.destroy(), 1000).unref();
    conn.poke();
  };

  /** Pairs recorded and new items in order as both become complete. */
  const match = (conn: ReplayConnection, channelNo: number, ch: ChannelState) => {
    for (const stream of [ch.sync, ch.async]) {
      while (stream.recorded.length > 0 && stream.fresh.length > 0 && stream.recorded[0]!.complete && stream.fresh[0]!.complete) {
        compare(conn, channelNo, ch, stream.recorded.shift()!, stream.fresh.shift()!);
        if (ch.dead || conn.dead) break;
      }
    }
    conn.poke();
  };

  const streamOf = (ch: ChannelState, method: DecodedMethod): Stream => (ASYNC_METHODS.has(method.name) ? ch.async : ch.sync);

  /** A server frame, recorded or new, into its channel's stream. */
  const addServerFrame = (conn: ReplayConnection, frame: DecodedFrame, side: 'recorded' | 'fresh', line: number | undefined) => {
    if (frame.type === 'heartbeat') return;
    const channelNo = frame.channel;
    const ch = conn.channel(channelNo);
    if (side === 'fresh' && frame.type === 'method' && frame.method.name.startsWith('connection.close')) conn.closing = true;
    if (side === 'fresh' && ch.awaitingCloseOk) {
      if (frame.type === 'method' && (frame.method.name === 'channel.close-ok' || frame.method.name === 'channel.close')) {
        if (frame.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
        ch.awaitingCloseOk = false;
        ch.sync.fresh.length = 0;
        ch.async.fresh.length = 0;
        ch.freshContent = undefined;
        conn.poke();
      }
      return;
    }
    if (ch.dead) {
      // an unexpected close on a channel we gave up on still needs its answer
      if (side === 'fresh' && frame.type === 'method' && frame.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
      return;
    }
    const contentKey = side === 'recorded' ? 'recordedContent' : 'freshContent';
    if (frame.type === 'method') {
      if (CONFIRM_METHODS.has(frame.method.name)) {
        if (!ch.confirming) return;
        const { args } = frame.method;
        const log = side === 'recorded' ? ch.recordedConfirms : ch.freshConfirms;
        log.settle(Number(args['delivery-tag']), args['multiple'] === true, frame.method.name === 'basic.ack' ? CONFIRM_ACK : CONFIRM_NACK, ch.published);
        conn.poke();
        return;
      }
      const item: ServerItem = { method: frame.method, ...(line !== undefined ? { line } : {}), body: [], received: 0, complete: !frame.method.spec.content };
      streamOf(ch, frame.method)[side].push(item);
      // An unasked-for close waits for the recorded frame at its place: the server discards
      // what the client sends meanwhile (0-9-1 §4.2.6 / channel.close), so no harm is done.
      ch[contentKey] = frame.method.spec.content ? item : undefined;
    } else {
      const item = ch[contentKey];
      if (!item) return;
      if (frame.type === 'header') {
        item.header = frame.header;
        if (frame.header.bodySize === 0n) item.complete = true;
      } else {
        item.body.push(side === 'fresh' ? frame.body.slice() : frame.body);
        item.received += frame.body.length;
        if (item.header && BigInt(item.received) >= item.header.bodySize) item.complete = true;
      }
      if (item.complete) ch[contentKey] = undefined;
    }
    match(conn, channelNo, ch);
  };

  const connect = (conn: ReplayConnection): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const reason = error.code === 'ECONNREFUSED' ? 'connection refused' : error.code === 'ENOTFOUND' ? 'unknown host' : error.message;
        reject(new ReplayTargetError(target.host, target.port, reason));
      };
      const socket = target.tls
        ? tls.connect({ host: target.host, port: target.port, rejectUnauthorized: !options.insecure, ...(net.isIP(target.host) ? {} : { servername: target.host }) }, () => done())
        : net.connect({ host: target.host, port: target.port }, () => done());
      socket.setNoDelay(true);
      const done = () => {
        socket.off('error', onError);
        socket.on('error', () => {});
        resolve();
      };
      socket.once('error', onError);
      conn.socket = socket;
      socket.on('data', (chunk: Buffer) => {
        for (const item of conn.parser.push(chunk)) {
          if (item.kind === 'error') {
            differ(conn.id, 0, undefined, `the new server's bytes do not decode: ${item.error.message}`);
            killConnection(conn, 'undecodable server bytes');
            return;
          }
          if (item.kind !== 'frame') continue;
          let frame: DecodedFrame;
          try {
            frame = decodeFrame(item.frame);
          } catch (error) {
            differ(conn.id, item.frame.channel, undefined, `a frame from the new server does not decode: ${(error as Error).message}`);
            continue;
          }
          addServerFrame(conn, frame, 'fresh', undefined);
        }
      });
      socket.on('close', () => {
        if (!conn.dead) {
          conn.dead = true;
          conn.closedBy = 'the new server closed the socket';
          if (!conn.closing) differ(conn.id, 0, undefined, 'the new server closed the connection where the recording goes on');
        }
        if (conn.heartbeat) clearInterval(conn.heartbeat);
        conn.poke();
      });
    });

  /** A recorded client frame as it must be sent now: names mapped, credentials replaced. */
  const prepareClientFrame = (frame: DecodedFrame, raw: Uint8Array, ch: ChannelState): Uint8Array => {
    if (frame.type === 'method') {
      const method = frame.method;
      let changed = false;
      const args: Record<string, ArgumentValue> = { ...method.args };
      for (const key of Object.keys(args)) {
        const value = args[key]!;
        if (typeof value === 'string' && names.has(value)) {
          args[key] = names.get(value)!;
          changed = true;
        }
      }
      if ((method.name === 'basic.ack' || method.name === 'basic.nack' || method.name === 'basic.reject') && typeof args['delivery-tag'] === 'bigint') {
        const mapped = ch.deliveryTags.get(args['delivery-tag']);
        if (mapped !== undefined && mapped !== args['delivery-tag']) {
          args['delivery-tag'] = mapped;
          changed = true;
        }
      }
      if (method.name === 'connection.start-ok' && (masked || target.username !== undefined || target.password !== undefined)) {
        const recordedUser = saslCredentials(args['mechanism'], args['response'])?.user;
        const user = target.username ?? recordedUser ?? 'guest';
        const password = target.password ?? 'guest';
        args['mechanism'] = 'PLAIN';
        args['response'] = Buffer.from(`\0${user}\0${password}`, 'utf8');
        changed = true;
      }
      if (method.name.startsWith('connection.close')) currentConn!.closing = true;
      if (method.name === 'connection.tune-ok') startHeartbeats(Number(args['heartbeat'] ?? 0));
      const sent: DecodedMethod = changed ? { ...method, args } : method;
      if (method.spec.synchronous) ch.lastRequest = sent;
      return changed ? encodeMethodFrame(frame.channel, method.spec, args) : raw;
    }
    if (frame.type === 'header') {
      const props: Record<string, ArgumentValue> = { ...frame.header.properties };
      let changed = false;
      for (const key of Object.keys(props)) {
        const value = props[key]!;
        if (typeof value === 'string' && names.has(value)) {
          props[key] = names.get(value)!;
          changed = true;
        }
      }
      return changed ? encodeContentHeaderFrame(frame.channel, { classId: frame.header.classId, bodySize: frame.header.bodySize, properties: props }) : raw;
    }
    return raw;
  };

  let currentConn: ReplayConnection | undefined;
  const startHeartbeats = (seconds: number) => {
    const conn = currentConn;
    if (!conn || seconds <= 0 || conn.heartbeat) return;
    // the recorded client's heartbeats were timed by its clock; send our own at half the interval
    conn.heartbeat = setInterval(() => conn.send(encodeHeartbeatFrame()), (seconds * 1000) / 2);
    conn.heartbeat.unref();
  };

  /** Waits for the server frames the recording had before this point; gives up after the timeout. */
  const awaitRecorded = async (conn: ReplayConnection) => {
    if (await conn.until(timeoutMs)) return;
    for (const [channelNo, ch] of conn.channels) {
      if (ch.settled()) continue;
      const missing = [...ch.sync.recorded, ...ch.async.recorded];
      if (missing.length === 0 && !ch.awaitingCloseOk && !ch.confirmsCaughtUp()) {
        // only confirms are overdue: the channel goes on; the final comparison names the publishes
        ch.confirmsOverdue = true;
        continue;
      }
      if (missing.length > 0) {
        const first = missing[0]!;
        differ(conn.id, channelNo, first.line, `recorded ${methodText(first.method)}${missing.length > 1 ? ` (and ${missing.length - 1} more server frames)` : ''}, none from the new server within ${timeoutMs} ms`);
      }
      ch.awaitingCloseOk = false;
      diverge(conn, channelNo, ch, undefined);
    }
  };

  const sendClientBytes = async (conn: ReplayConnection, entry: RecordedBytes) => {
    await awaitRecorded(conn);
    if (conn.dead) {
      skipped++;
      return;
    }
    if (entry.source !== 'frame') {
      conn.send(entry.raw);
      framesSent++;
      return;
    }
    const parsed = new FrameParser({ expectProtocolHeader: false }).push(entry.raw)[0];
    if (parsed?.kind !== 'frame') {
      conn.send(entry.raw);
      framesSent++;
      return;
    }
    const frame = decodeFrame(parsed.frame);
    if (frame.type === 'heartbeat') return; // our own timer sends them
    const ch = conn.channel(frame.channel);
    if (frame.type === 'method' && frame.method.name === 'channel.open' && (ch.dead || ch.confirming)) {
      // the client opens the channel again: it is compared afresh from here (publish numbers too)
      compareConfirms(conn, frame.channel, ch);
      conn.channels.set(frame.channel, new ChannelState());
    } else if (ch.dead) {
      skipped++;
      return;
    }
    const now = conn.channel(frame.channel);
    if (frame.type === 'method') {
      if (frame.method.name === 'confirm.select') now.confirming = true;
      else if (frame.method.name === 'basic.publish' && now.confirming) now.published++;
    }
    conn.send(prepareClientFrame(frame, entry.raw, now));
    framesSent++;
  };

  // the recording's pace: what a broker decides by its clock (TTL, expiry) meets the same gaps
  const speed = options.speed ?? 1;
  let firstTs: number | undefined;
  const wallStart = performance.now();
  const pace = async (ts: number) => {
    firstTs ??= ts;
    const due = (ts - firstTs) / 1000 / speed - (performance.now() - wallStart);
    if (due > 1) await new Promise((resolve) => setTimeout(resolve, due));
  };

  const recordedParsers = new Map<number, FrameParser>();
  try {
    for await (const entry of recording.entries()) {
      if (entry.kind === 'conn.open' || entry.kind === 'conn.close' || entry.dir === 'c2s') await pace(entry.ts);
      if (entry.kind === 'conn.open') {
        const conn = new ReplayConnection(entry.conn);
        connections.set(entry.conn, conn);
        recordedParsers.set(entry.conn, new FrameParser({ expectProtocolHeader: false }));
        connectionCount++;
        await connect(conn);
        continue;
      }
      const conn = connections.get(entry.conn);
      if (!conn) {
        warn(`${options.path}: line ${entry.line}: connection #${entry.conn} was not opened in the recording; its frames are not replayed`);
        continue;
      }
      currentConn = conn;
      if (entry.kind === 'conn.close') {
        conn.recordingClosed = true;
        await awaitRecorded(conn);
        killConnection(conn, 'recording ended');
        continue;
      }
      if (entry.kind === 'decode.stop') continue; // the bytes say where decoding stops
      if (entry.kind === 'withheld') {
        // client bytes that may hold credentials were not recorded: what follows cannot be sent
        if (entry.dir === 'c2s' && !conn.dead) {
          await awaitRecorded(conn);
          warn(`${options.path}: line ${entry.line}: connection #${entry.conn}: the recording withheld ${entry.length} client bytes that may hold credentials (record with --record-secrets to replay them); the rest of this connection is not replayed`);
          killConnection(conn, 'client bytes withheld from the recording');
        }
        continue;
      }
      if (entry.dir === 'c2s') {
        await sendClientBytes(conn, entry);
        continue;
      }
      // compared even after the connection ended: its last replies may have come already
      if (entry.source !== 'frame') continue;
      for (const item of recordedParsers.get(entry.conn)!.push(entry.raw)) {
        if (item.kind !== 'frame') continue;
        let frame: DecodedFrame;
        try {
          frame = decodeFrame(item.frame);
        } catch {
          continue;
        }
        addServerFrame(conn, frame, 'recorded', entry.line);
      }
    }
    // connections the recording left open (killed recorder): finish what was awaited
    for (const conn of connections.values()) {
      if (!conn.dead) {
        await awaitRecorded(conn);
        killConnection(conn, 'recording ended');
      }
    }
    for (const conn of connections.values()) {
      for (const [channelNo, ch] of conn.channels) {
        compareConfirms(conn, channelNo, ch);
        for (const extra of [...ch.sync.fresh, ...ch.async.fresh]) {
          differ(conn.id, channelNo, undefined, `the new server also sent ${methodText(extra.method)}, not in the recording`);
        }
      }
    }
  } finally {
    for (const conn of connections.values()) {
      if (conn.heartbeat) clearInterval(conn.heartbeat);
      conn.socket?.destroy();
    }
  }
  return {
    connections: connectionCount, framesSent, compared, confirmsCompared, skipped, differences,
    ...(servers !== undefined && servers.recorded !== servers.now ? { servers } : {}),
  };
}

/** `RabbitMQ 3.10.8` from connection.start's server-properties (`unknown server` without them). */
function serverName(properties: ArgumentValue | undefined): string {
  if (!isFieldTable(properties)) return 'unknown server';
  const name = [tableString(properties, 'product'), tableString(properties, 'version')].filter((x) => x !== undefined && x !== '').join(' ');
  return name === '' ? 'unknown server' : name;
}

