// One recorded connection played to the new server: its socket, its channels, and the wait
// for what the recording says the server sends before the client's next frame.

import net from 'node:net';
import { decodeFrame, encodeHeartbeatFrame } from '../../decoder/frame-codec.js';
import { FrameParser } from '../../decoder/frame-parser.js';
import type { DecodedFrame } from '../../decoder/types.js';
import { AmqpSpyError } from '../../errors.js';
import { formatHostPort } from '../../source/address.js';
import { describeSocketError } from '../../source/errno.js';
import { connectTls } from '../../source/tls-connect.js';
import { ReplayChannel } from './replay-channel.js';

export interface ReplayTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** replace the recorded credentials (always needed when the recording masked them) */
  readonly username?: string;
  readonly password?: string;
}

/** The target cannot be reached; one line. */
export class ReplayTargetError extends AmqpSpyError {
  override readonly exitCode = 1;
  constructor(
    readonly host: string,
    readonly port: number,
    reason: string,
  ) {
    super(`--to ${formatHostPort(host, port)}: ${reason}`);
    this.name = 'ReplayTargetError';
  }
}

/** What the new server's side of the socket tells the session. */
export interface ReplayConnectionEvents {
  /** a frame the new server sent */
  readonly frame: (frame: DecodedFrame) => void;
  /** a difference seen on the socket itself (bytes that do not decode, an early close) */
  readonly difference: (channel: number, text: string) => void;
}

export class ReplayConnection {
  readonly channels = new Map<number, ReplayChannel>();
  /** the new server's bytes */
  readonly parser = new FrameParser({ expectProtocolHeader: false });
  /** the recording's server bytes for this connection */
  readonly recordedParser = new FrameParser({ expectProtocolHeader: false });
  socket: net.Socket | undefined;
  /** the new server closed the connection (or the socket ended): nothing more is sent */
  dead = false;
  /** connection.close was sent by either side: the socket closing is expected */
  closing = false;
  /** the recording has this connection's close (it was not cut short) */
  recordingClosed = false;
  closedBy: string | undefined;
  private wake: (() => void) | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly id: number) {}

  channel(n: number): ReplayChannel {
    let state = this.channels.get(n);
    if (!state) {
      state = new ReplayChannel();
      this.channels.set(n, state);
    }
    return state;
  }

  /** The client opens the channel again: it starts afresh. */
  reopen(n: number): ReplayChannel {
    const state = new ReplayChannel();
    this.channels.set(n, state);
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

  /** Stops this connection: nothing more is sent, and the socket ends (destroyed 1 s later). */
  kill(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.closedBy = why;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.socket?.end();
    setTimeout(() => this.socket?.destroy(), 1000).unref();
    this.poke();
  }

  /** From the tune-ok sent: heartbeats every half of `seconds`, once per connection. */
  startHeartbeats(seconds: number): void {
    if (seconds <= 0 || this.heartbeat) return;
    // the recorded client's heartbeats were timed by its clock; send our own at half the interval
    this.heartbeat = setInterval(() => this.send(encodeHeartbeatFrame()), (seconds * 1000) / 2);
    this.heartbeat.unref();
  }

  /** At the end, whatever happened: no timer or socket outlives the replay. */
  destroy(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.socket?.destroy();
  }

  /** Resolves once connected; rejects with a ReplayTargetError when the target cannot be reached. */
  connect(target: ReplayTarget, insecure: boolean, events: ReplayConnectionEvents): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        reject(new ReplayTargetError(target.host, target.port, describeSocketError(error)));
      };
      const socket = target.tls
        ? connectTls({ host: target.host, port: target.port }, { rejectUnauthorized: !insecure }).once('secureConnect', () => done())
        : net.connect({ host: target.host, port: target.port }, () => done());
      socket.setNoDelay(true);
      const done = () => {
        socket.off('error', onError);
        socket.on('error', () => {});
        resolve();
      };
      socket.once('error', onError);
      this.socket = socket;
      socket.on('data', (chunk: Buffer) => {
        for (const item of this.parser.push(chunk)) {
          if (item.kind === 'error') {
            events.difference(0, `the new server's bytes do not decode: ${item.error.message}`);
            this.kill('undecodable server bytes');
            return;
          }
          if (item.kind !== 'frame') continue;
          let frame: DecodedFrame;
          try {
            frame = decodeFrame(item.frame);
          } catch (error) {
            events.difference(item.frame.channel, `a frame from the new server does not decode: ${(error as Error).message}`);
            continue;
          }
          events.frame(frame);
        }
      });
      socket.on('close', () => {
        if (!this.dead) {
          this.dead = true;
          this.closedBy = 'the new server closed the socket';
          if (!this.closing) events.difference(0, 'the new server closed the connection where the recording goes on');
        }
        if (this.heartbeat) clearInterval(this.heartbeat);
        this.poke();
      });
    });
  }
}
