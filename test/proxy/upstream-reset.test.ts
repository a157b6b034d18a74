// An upstream that resets its socket: a notice only when something was lost (no close
// handshake completed, or client bytes never forwarded), never after a clean close (RabbitMQ
// resets after every close-ok); and what the client still sends after the reset is decoded,
// so a close-ok the client sent is seen as the answer it is.
import net from 'node:net';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type ConnCloseEvent, type FrameEvent, type SpyEvent } from '../../src/events.js';
import { startProxySession } from '../../src/session/live-session.js';
import { createTapObserver } from '../../src/tap/tap-observer.js';
import { waitFor } from '../support/cli.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { listenServer, startProxy } from './helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function spy(upstreamPort: number): Promise<{ events: SpyEvent[]; notices: string[]; port: number }> {
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: '127.0.0.1', port: upstreamPort, tls: false },
    sinks: [(e) => events.push(e)],
    notice: (line) => notices.push(line),
  });
  cleanups.push(() => session.stop());
  return { events, notices, port: session.address.port };
}

/**
 * A raw client socket with what it read; it may write after the proxy's FIN (allowHalfOpen),
 * or, with `endWhenEnded`, ends its side then, as clients do.
 */
async function rawClient(port: number, endWhenEnded = false): Promise<{ socket: net.Socket; read: () => Buffer; ended: () => boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  let ended = false;
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('end', () => {
    ended = true;
    if (endWhenEnded) socket.destroy();
  });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  return { socket, read: () => Buffer.concat(chunks), ended: () => ended };
}

const closeOf = (events: readonly SpyEvent[]) => events.find((e): e is ConnCloseEvent => e.kind === 'conn.close');
const forced = encodeMethodFrame(0, 'connection.close', {
  'reply-code': 320,
  'reply-text': "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
  'class-id': 0,
  'method-id': 0,
});

describe('an upstream that resets', () => {
  it("after its connection.close: the client's close-ok, sent after the reset, is decoded; no notice", async () => {
    let upstream: net.Socket | undefined;
    const fake = await listenServer((socket) => {
      upstream = socket;
      socket.once('data', () => socket.write(forced));
    });
    cleanups.push(() => new Promise((r) => fake.server.close(r)));
    const s = await spy(fake.port);
    const client = await rawClient(s.port);
    client.socket.write(encodeProtocolHeader());
    await waitFor(() => client.read().equals(forced), 'the client to get connection.close');
    upstream!.resetAndDestroy();
    // the proxy ends the client's side once the upstream is gone; the client still answers
    await waitFor(() => client.ended(), 'the proxy to end the client side');
    client.socket.end(encodeMethodFrame(0, 'connection.close-ok', {}));
    await waitFor(() => closeOf(s.events) !== undefined, 'the close event');
    const names = s.events
      .filter((e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method')
      .map((e) => `${e.dir} ${e.frame.type === 'method' ? e.frame.method.name : ''}`);
    expect(names).toEqual(['s2c connection.close', 'c2s connection.close-ok']);
    expect(closeOf(s.events)).toMatchObject({
      reason: 'server closed the connection with 320 CONNECTION_FORCED',
      socket: { by: 'server', how: 'reset' },
      unanswered: [],
    });
    expect(s.notices).toEqual([]);
  });

  it('mid-conversation: the notice, and the reason says the server reset the socket', async () => {
    const fake = await listenServer((socket) => {
      socket.once('data', () => socket.resetAndDestroy());
    });
    cleanups.push(() => new Promise((r) => fake.server.close(r)));
    const s = await spy(fake.port);
    const client = await rawClient(s.port, true);
    client.socket.write(encodeProtocolHeader());
    await waitFor(() => closeOf(s.events) !== undefined, 'the close event');
    expect(closeOf(s.events)).toMatchObject({ reason: 'server reset the socket' });
    expect(s.notices).toEqual([`upstream 127.0.0.1:${fake.port}: connection reset`]);
  });

  it('with client bytes still queued for it: the notice says how many were not forwarded', async () => {
    let upstream: net.Socket | undefined;
    const fake = await listenServer((socket) => {
      upstream = socket;
      socket.pause(); // reads nothing: the proxy's queue towards it fills
    });
    cleanups.push(() => new Promise((r) => fake.server.close(r)));
    // the session's parts, for the proxy's buffered bytes
    const events: SpyEvent[] = [];
    const notices: string[] = [];
    const observer = createTapObserver(new EventBus([(e) => events.push(e)]), { keepUndecoded: true }, undefined, (line) => notices.push(line));
    const { proxy, port } = await startProxy(fake.port, observer);
    cleanups.push(() => proxy.close());
    const client = await rawClient(port, true);
    client.socket.write(encodeProtocolHeader());
    const block = Buffer.alloc(1024 * 1024, 0x08);
    for (let i = 0; i < 64; i++) client.socket.write(block);
    // the proxy holds a socket buffer's worth only once the upstream's kernel buffers are full
    await waitFor(() => proxy.bufferedBytes() >= 256 * 1024, 'the proxy to queue bytes for the upstream');
    upstream!.resetAndDestroy();
    await waitFor(() => closeOf(events) !== undefined, 'the close event');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(new RegExp(`^upstream 127\\.0\\.0\\.1:${fake.port}: connection reset; \\d+ bytes from the client were not forwarded$`));
  });
});

describeWithRabbitMQ('clean closes through the proxy to', () => {
  it('give no notice, though RabbitMQ resets its socket after close-ok', async () => {
    const s = await spy(rabbitAddress().port);
    const { username, password } = rabbitAddress();
    for (let i = 0; i < 3; i++) {
      const connection = await amqp.connect(`amqp://${username}:${password}@127.0.0.1:${s.port}`);
      await connection.createChannel();
      await connection.close();
    }
    await waitFor(() => s.events.filter((e) => e.kind === 'conn.close').length === 3, 'three closes');
    expect(s.events.filter((e): e is ConnCloseEvent => e.kind === 'conn.close').map((e) => e.reason)).toEqual(Array(3).fill('client closed the connection'));
    expect(s.notices).toEqual([]);
  });
});
