// A byte-level AMQP client for protocol tests: writes exactly the frames a test gives it and
// reads back decoded frames, so malformed input and the broker's exact answers can be checked.

import net from 'node:net';
import { fieldTable } from '../../src/decoder/field-table.js';
import { decodeFrame, encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { BasicPropertiesInput, MethodArgsInput, MethodName } from '../../src/decoder/spec.js';
import type { DecodedFrame, DecodedMethod } from '../../src/decoder/types.js';

export class RawClient {
  readonly frames: DecodedFrame[] = [];
  /** bytes that were not frames (a protocol header answer) */
  readonly raw: Buffer[] = [];
  ended = false;
  /** the frame-max sent in tune-ok (content is split to fit it) */
  frameMax = 131072;
  private readonly parser = new FrameParser({ expectProtocolHeader: false });
  private waiters: (() => void)[] = [];
  private read = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk);
      if (chunk.subarray(0, 4).toString('latin1') === 'AMQP') {
        this.wake();
        return;
      }
      for (const item of this.parser.push(chunk)) {
        if (item.kind === 'frame') this.frames.push(decodeFrame(item.frame));
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (this.ended && what !== 'the socket to close')
        throw new Error(`socket closed while waiting for ${what}; frames: ${this.frames.map(describe).join(', ')}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${this.frames.map(describe).join(', ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send<N extends MethodName>(channel: number, name: N, args: MethodArgsInput<N> = {} as MethodArgsInput<N>): void {
    this.write(encodeMethodFrame(channel, name, args));
  }

  publish(
    channel: number,
    exchange: string,
    routingKey: string,
    body: string | Uint8Array,
    properties: BasicPropertiesInput = {},
    extra: { mandatory?: boolean } = {},
  ): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    const frames = [
      encodeMethodFrame(channel, 'basic.publish', { exchange, 'routing-key': routingKey, mandatory: extra.mandatory ?? false }),
      ...encodeContentFrames(channel, 60, properties, bytes, this.frameMax),
    ];
    this.write(Buffer.concat(frames));
  }

  /** The next frame not yet consumed by a test. */
  async next(what = 'a frame'): Promise<DecodedFrame> {
    await this.waitFor(() => this.frames.length > this.read, what);
    return this.frames[this.read++]!;
  }

  /** Skips frames until a method with this name; returns it. */
  async expectMethod(name: string): Promise<DecodedMethod> {
    for (;;) {
      const f = await this.next(name);
      if (f.type === 'method' && f.method.name === name) return f.method;
      if (f.type === 'method' && (f.method.name === 'connection.close' || f.method.name === 'channel.close') && name !== f.method.name) {
        throw new Error(`expected ${name}, got ${f.method.name} ${String(f.method.args['reply-code'])} ${String(f.method.args['reply-text'])}`);
      }
    }
  }

  async waitForEnd(): Promise<void> {
    await this.waitFor(() => this.ended, 'the socket to close');
  }

  /** Runs the handshake up to connection.open-ok. */
  async open(
    options: {
      vhost?: string;
      user?: string;
      password?: string;
      heartbeat?: number;
      frameMax?: number;
      channelMax?: number;
      capabilities?: Record<string, boolean>;
    } = {},
  ): Promise<void> {
    this.write(encodeProtocolHeader());
    await this.expectMethod('connection.start');
    this.send(0, 'connection.start-ok', {
      'client-properties': fieldTable({
        product: 'raw-test',
        capabilities: options.capabilities ?? { authentication_failure_close: true, consumer_cancel_notify: true, 'connection.blocked': true },
      }),
      mechanism: 'PLAIN',
      response: `\u0000${options.user ?? 'guest'}\u0000${options.password ?? 'guest'}`,
      locale: 'en_US',
    });
    const tune = await this.expectMethod('connection.tune');
    this.frameMax = options.frameMax ?? (tune.args['frame-max'] as number);
    this.send(0, 'connection.tune-ok', {
      'channel-max': options.channelMax ?? (tune.args['channel-max'] as number),
      'frame-max': this.frameMax,
      heartbeat: options.heartbeat ?? 0,
    });
    this.send(0, 'connection.open', { 'virtual-host': options.vhost ?? '/' });
    await this.expectMethod('connection.open-ok');
  }

  async openChannel(channel: number): Promise<void> {
    this.send(channel, 'channel.open');
    await this.expectMethod('channel.open-ok');
  }

  /** Waits for connection.close and returns [code, text]. */
  async expectConnectionClose(): Promise<[number, string]> {
    const m = await this.expectMethod('connection.close');
    return [m.args['reply-code'] as number, String(m.args['reply-text'])];
  }

  async expectChannelClose(): Promise<[number, string, number, number]> {
    const m = await this.expectMethod('channel.close');
    return [m.args['reply-code'] as number, String(m.args['reply-text']), m.args['class-id'] as number, m.args['method-id'] as number];
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function describe(f: DecodedFrame): string {
  return f.type === 'method' ? f.method.name : f.type;
}
