// A proxied client that never starts its handshake must not hold an upstream connection:
// after the handshake timeout, a client that sent no whole protocol header is closed on both
// sides. One that sent it is left to the broker's own timeout; a real client is untouched.

import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { startBroker } from '../../src/broker/broker-server.js';
import { waitFor } from '../support/cli.js';
import { closeServer, collect, connectClient, listenServer, RecordingObserver, startProxy } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('proxy handshake timeout', () => {
  it('closes idle and partial-header clients and their upstream connections; a real client keeps working', async () => {
    // the built-in broker without its own timeout: only the proxy's can close these
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, handshakeTimeout: 0 });
    cleanups.push(() => broker.close());
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(broker.address.port, observer, { handshakeTimeoutMs: 1000 });
    cleanups.push(() => proxy.close());

    const idle: Promise<{ ended: boolean }>[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = await connectClient(port);
      cleanups.push(() => {
        socket.destroy();
      });
      if (i % 2 === 1) socket.write('AMQ');
      idle.push(collect(socket));
    }
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
    cleanups.push(() => conn.close().catch(() => undefined));
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });

    await Promise.all(idle);
    await waitFor(() => observer.closes.size >= 20, 'the proxy to report 20 closes');
    const reasons = [...observer.closes.values()];
    expect(reasons.filter((r) => r === 'proxy closed the socket (handshake timeout: the client sent nothing in 1000 ms)')).toHaveLength(10);
    expect(
      reasons.filter((r) => r === 'proxy closed the socket (handshake timeout: the client sent 3 bytes, not a whole protocol header, in 1000 ms)'),
    ).toHaveLength(10);
    // their upstream connections are gone from the broker too
    await waitFor(() => broker.connectionCount === 1, 'the broker to hold only the real client');

    ch.sendToQueue(queue, Buffer.from('still here'));
    let got: false | amqplib.GetMessage = false;
    while (got === false) got = await ch.get(queue, { noAck: true });
    expect(got.content.toString()).toBe('still here');
    expect(proxy.connectionCount).toBe(1);
  });

  it('leaves a connection alone once the client sent a protocol header; the broker times the rest', async () => {
    // an upstream that never answers: past the header, waiting is its business
    const silent = await listenServer((socket) => socket.resume());
    cleanups.push(() => closeServer(silent));
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(silent.port, observer, { handshakeTimeoutMs: 300 });
    cleanups.push(() => proxy.close());
    const headerSent = await connectClient(port);
    cleanups.push(() => {
      headerSent.destroy();
    });
    headerSent.write(encodeProtocolHeader());
    await waitFor(() => silent.sockets.size === 1, 'the upstream connection');
    // an idle client connected later is timed out later: once it is closed, the first one's time is up too
    const idle = await connectClient(port);
    await collect(idle);
    expect(await observer.closed(2)).toBe('proxy closed the socket (handshake timeout: the client sent nothing in 300 ms)');
    expect(observer.closes.has(1)).toBe(false);
    expect(headerSent.destroyed).toBe(false);
    expect(proxy.connectionCount).toBe(1);
  });
});
