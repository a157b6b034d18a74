// An upstream that resets its socket: what the client still sends after the reset is decoded,
// so a close-ok the client sent is seen as the answer it is.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { ConnCloseEvent, FrameEvent, SpyEvent } from '../../src/events.js';
import { startProxySession } from '../../src/session.js';
import { waitFor } from '../support/cli.js';
import { listenServer } from './helpers.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });

async function spy(upstreamPort: number): Promise<{ events: SpyEvent[]; notices: string[]; port: number }> {
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: upstreamPort, tls: false },
    sinks: [(e) => events.push(e)], notice: (line) => notices.push(line),
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
const forced = encodeMethodFrame(0, 'connection.close', { 'reply-code': 320, 'reply-text': "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'", 'class-id': 0, 'method-id': 0 });

describe('an upstream that resets', () => {
  it('after its connection.close: the client\'s close-ok, sent after the reset, is decoded', async () => {
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
    const names = s.events.filter((e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method').map((e) => `${e.dir} ${e.frame.type === 'method' ? e.frame.method.name : ''}`);
    expect(names).toEqual(['s2c connection.close', 'c2s connection.close-ok']);
    expect(closeOf(s.events)).toMatchObject({ reason: 'server closed the connection with 320 CONNECTION_FORCED', socket: { by: 'server', how: 'reset' }, unanswered: [] });
  });
});
