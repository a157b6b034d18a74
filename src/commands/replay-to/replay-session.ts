// The session behind `replay --to`: takes the recording's entries in order, opens a connection
// for each recorded one, sends each client frame once the server frames recorded before it
// have come, pairs the new server's frames with the recorded ones, and keeps the differences.

import { decodeFrame, encodeMethodFrame } from '../../decoder/frame-codec.js';
import { FrameParser } from '../../decoder/frame-parser.js';
import type { DecodedFrame } from '../../decoder/types.js';
import type { RecordedBytes, RecordedEntry } from '../../record/recording-reader.js';
import { ClientFrameRewriter } from './client-frame-rewriter.js';
import { CONFIRM_METHODS } from './confirm-log.js';
import type { ReplayChannel, ServerItem, Side } from './replay-channel.js';
import { compareServerItems, methodText, NameMap, serverName } from './replay-compare.js';
import { ReplayConnection, type ReplayTarget } from './replay-connection.js';

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

export interface ReplaySessionOptions {
  /** the recording's path, for warnings */
  readonly path: string;
  readonly target: ReplayTarget;
  /** how long to wait for a server frame the recording says comes next */
  readonly timeoutMs: number;
  /** accept any certificate from an amqps:// target */
  readonly insecure: boolean;
  /** the recording masked the credentials */
  readonly masked: boolean;
  readonly warn: (line: string) => void;
  readonly onDifference?: ((difference: ReplayDifference) => void) | undefined;
}

export class ReplaySession {
  private readonly differences: ReplayDifference[] = [];
  /** recorded server-chosen name → the new server's */
  private readonly names = new NameMap();
  private readonly rewriter: ClientFrameRewriter;
  private readonly connections = new Map<number, ReplayConnection>();
  private connectionCount = 0;
  private framesSent = 0;
  private compared = 0;
  private confirmsCompared = 0;
  private skipped = 0;
  private servers: { recorded: string; now: string } | undefined;

  constructor(private readonly options: ReplaySessionOptions) {
    const { username, password } = options.target;
    this.rewriter = new ClientFrameRewriter(this.names, options.masked, {
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    });
  }

  /** One entry of the recording, in order; resolves once it is played. */
  async play(entry: RecordedEntry): Promise<void> {
    const { path, warn } = this.options;
    if (entry.kind === 'conn.open') {
      const conn = new ReplayConnection(entry.conn);
      this.connections.set(entry.conn, conn);
      this.connectionCount++;
      await conn.connect(this.options.target, this.options.insecure, {
        frame: (frame) => this.addServerFrame(conn, frame, 'fresh', undefined),
        difference: (channel, text) => this.differ(conn.id, channel, undefined, text),
      });
      return;
    }
    const conn = this.connections.get(entry.conn);
    if (!conn) {
      warn(`${path}: line ${entry.line}: connection #${entry.conn} was not opened in the recording; its frames are not replayed`);
      return;
    }
    if (entry.kind === 'conn.close') {
      conn.recordingClosed = true;
      await this.awaitRecorded(conn);
      conn.kill('recording ended');
      return;
    }
    if (entry.kind === 'decode.stop') return; // the bytes say where decoding stops
    if (entry.kind === 'withheld') {
      // client bytes that may hold credentials were not recorded: what follows cannot be sent
      if (entry.dir === 'c2s' && !conn.dead) {
        await this.awaitRecorded(conn);
        warn(
          `${path}: line ${entry.line}: connection #${entry.conn}: the recording withheld ${entry.length} client bytes that may hold credentials (record with --record-secrets to replay them); the rest of this connection is not replayed`,
        );
        conn.kill('client bytes withheld from the recording');
      }
      return;
    }
    // the broker's side of a fault rule's work is replayed: what it received (injected toward
    // it, never what was swallowed from the client) and what it sent (never what was made for the client)
    if (entry.fault !== undefined && (entry.fault === 'suppressed') === (entry.dir === 'c2s')) return;
    if (entry.dir === 'c2s') {
      await this.sendClientBytes(conn, entry);
      return;
    }
    // compared even after the connection ended: its last replies may have come already
    if (entry.source !== 'frame') return;
    for (const item of conn.recordedParser.push(entry.raw)) {
      if (item.kind !== 'frame') continue;
      let frame: DecodedFrame;
      try {
        frame = decodeFrame(item.frame);
      } catch {
        continue;
      }
      this.addServerFrame(conn, frame, 'recorded', entry.line);
    }
  }

  /** After the last entry: waits for what connections left open awaited, then compares what is left. */
  async finish(): Promise<void> {
    // connections the recording left open (killed recorder): finish what was awaited
    for (const conn of this.connections.values()) {
      if (!conn.dead) {
        await this.awaitRecorded(conn);
        conn.kill('recording ended');
      }
    }
    for (const conn of this.connections.values()) {
      for (const [channelNo, ch] of conn.channels) {
        this.compareConfirms(conn, channelNo, ch);
        for (const extra of ch.extras()) {
          this.differ(conn.id, channelNo, undefined, `the new server also sent ${methodText(extra.method)}, not in the recording`);
        }
      }
    }
  }

  /** Closes every socket and timer, whether the replay finished or failed. */
  destroy(): void {
    for (const conn of this.connections.values()) conn.destroy();
  }

  result(): ReplayToResult {
    const { connectionCount: connections, framesSent, compared, confirmsCompared, skipped, differences, servers } = this;
    return {
      connections,
      framesSent,
      compared,
      confirmsCompared,
      skipped,
      differences,
      ...(servers !== undefined && servers.recorded !== servers.now ? { servers } : {}),
    };
  }

  private differ(conn: number, channel: number, line: number | undefined, text: string): void {
    const d: ReplayDifference = { conn, channel, ...(line !== undefined ? { line } : {}), text };
    this.differences.push(d);
    this.options.onDifference?.(d);
  }

  /** Compares one recorded server method (with content) with the new server's, learning names. */
  private compare(conn: ReplayConnection, channelNo: number, ch: ReplayChannel, recorded: ServerItem, fresh: ServerItem): void {
    this.compared++;
    const outcome = compareServerItems(recorded, fresh, { names: this.names, lastRequest: ch.lastRequest, deliveryTags: ch.deliveryTags });
    if (outcome.text !== undefined) this.differ(conn.id, channelNo, recorded.line, outcome.text);
    if (outcome.diverged) {
      this.diverge(conn, channelNo, ch, fresh);
      return;
    }
    if (recorded.method.name === 'connection.start' && this.servers === undefined) {
      this.servers = { recorded: serverName(recorded.method.args['server-properties']), now: serverName(fresh.method.args['server-properties']) };
    }
  }

  /**
   * The new server answered otherwise than recorded on this channel: its recorded frames no
   * longer apply. Close what the new server left open so later frames cannot hit it.
   */
  private diverge(conn: ReplayConnection, channelNo: number, ch: ReplayChannel, fresh: ServerItem | undefined): void {
    ch.dropRecorded();
    if (fresh?.method.name === 'connection.close') {
      conn.send(encodeMethodFrame(0, 'connection.close-ok'));
      conn.kill(`the new server closed it: ${methodText(fresh.method)}`);
      return;
    }
    if (channelNo === 0) {
      // a connection-level divergence: stop this connection cleanly
      conn.kill('its handshake diverged');
      return;
    }
    if (ch.dead) return;
    ch.dead = true;
    if (fresh?.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
    else {
      conn.send(
        encodeMethodFrame(channelNo, 'channel.close', {
          'reply-code': 200,
          'reply-text': 'amqp-spy replay: closed where the recording diverged',
          'class-id': 0,
          'method-id': 0,
        }),
      );
      ch.awaitingCloseOk = true;
    }
  }

  /** Each publish's confirm on a channel, recorded and new (see ChannelConfirms.differences). */
  private compareConfirms(conn: ReplayConnection, channelNo: number, ch: ReplayChannel): void {
    const lines = ch.confirms.differences({ channelDead: ch.dead, recordingClosed: conn.recordingClosed });
    for (const line of lines) this.differ(conn.id, channelNo, undefined, line);
    this.confirmsCompared += ch.confirms.comparable();
  }

  /** Pairs recorded and new items in order as both become complete. */
  private match(conn: ReplayConnection, channelNo: number, ch: ReplayChannel): void {
    for (const [recorded, fresh] of ch.completePairs(() => ch.dead || conn.dead)) this.compare(conn, channelNo, ch, recorded, fresh);
    conn.poke();
  }

  /** A server frame, recorded or new, into its channel's stream. */
  private addServerFrame(conn: ReplayConnection, frame: DecodedFrame, side: Side, line: number | undefined): void {
    if (frame.type === 'heartbeat') return;
    const channelNo = frame.channel;
    const ch = conn.channel(channelNo);
    if (side === 'fresh' && frame.type === 'method' && frame.method.name.startsWith('connection.close')) conn.closing = true;
    if (side === 'fresh' && ch.awaitingCloseOk) {
      if (frame.type === 'method' && (frame.method.name === 'channel.close-ok' || frame.method.name === 'channel.close')) {
        if (frame.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
        ch.awaitingCloseOk = false;
        ch.dropFresh();
        conn.poke();
      }
      return;
    }
    if (ch.dead) {
      // an unexpected close on a channel we gave up on still needs its answer
      if (side === 'fresh' && frame.type === 'method' && frame.method.name === 'channel.close') conn.send(encodeMethodFrame(channelNo, 'channel.close-ok'));
      return;
    }
    if (frame.type === 'method') {
      // confirms are compared per publish at the end, not paired frame by frame
      if (CONFIRM_METHODS.has(frame.method.name)) {
        if (ch.confirms.settle(side, frame.method)) conn.poke();
        return;
      }
      ch.addMethod(side, frame.method, line);
    } else if (!ch.addContent(side, frame)) return;
    this.match(conn, channelNo, ch);
  }

  /** Waits for the server frames the recording had before this point; gives up after the timeout. */
  private async awaitRecorded(conn: ReplayConnection): Promise<void> {
    const { timeoutMs } = this.options;
    if (await conn.until(timeoutMs)) return;
    for (const [channelNo, ch] of conn.channels) {
      if (ch.settled()) continue;
      const missing = ch.missing();
      if (missing.length === 0 && !ch.awaitingCloseOk && !ch.confirms.caughtUp()) {
        // only confirms are overdue: the channel goes on; the final comparison names the publishes
        ch.confirms.overdue = true;
        continue;
      }
      if (missing.length > 0) {
        const first = missing[0]!;
        this.differ(
          conn.id,
          channelNo,
          first.line,
          `recorded ${methodText(first.method)}${missing.length > 1 ? ` (and ${missing.length - 1} more server frames)` : ''}, none from the new server within ${timeoutMs} ms`,
        );
      }
      ch.awaitingCloseOk = false;
      this.diverge(conn, channelNo, ch, undefined);
    }
  }

  /** A recorded client frame, sent once what the server sent before it has come. */
  private async sendClientBytes(conn: ReplayConnection, entry: RecordedBytes): Promise<void> {
    await this.awaitRecorded(conn);
    if (conn.dead) {
      this.skipped++;
      return;
    }
    if (entry.source !== 'frame') {
      conn.send(entry.raw);
      this.framesSent++;
      return;
    }
    const parsed = new FrameParser({ expectProtocolHeader: false }).push(entry.raw)[0];
    if (parsed?.kind !== 'frame') {
      conn.send(entry.raw);
      this.framesSent++;
      return;
    }
    const frame = decodeFrame(parsed.frame);
    if (frame.type === 'heartbeat') return; // our own timer sends them
    const ch = conn.channel(frame.channel);
    let now = ch;
    if (frame.type === 'method' && frame.method.name === 'channel.open' && (ch.dead || ch.confirms.selected)) {
      // the client opens the channel again: it is compared afresh from here (publish numbers too)
      this.compareConfirms(conn, frame.channel, ch);
      now = conn.reopen(frame.channel);
    } else if (ch.dead) {
      this.skipped++;
      return;
    }
    if (frame.type === 'method') now.confirms.clientSent(frame.method);
    const sent = this.rewriter.rewrite(frame, entry.raw, now.deliveryTags);
    if (sent.method) {
      if (sent.method.name.startsWith('connection.close')) conn.closing = true;
      if (sent.method.name === 'connection.tune-ok') conn.startHeartbeats(Number(sent.method.args['heartbeat'] ?? 0));
      if (sent.method.spec.synchronous) now.lastRequest = sent.method;
    }
    conn.send(sent.bytes);
    this.framesSent++;
  }
}
