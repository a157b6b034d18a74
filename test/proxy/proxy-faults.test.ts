// Faults on either side of the relay: refused upstream, closes, resets, half-close, port in use.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyServer } from '../../src/proxy/proxy-server.js';
import { ListenError } from '../../src/source/listen-error.js';
import {
  RecordingObserver,
  closeServer,
  collect,
  connectClient,
  listenServer,
  readUntilEnd,
  rng,
  sha256,
  startProxy,
  unusedPort,
  writeChunked,
} from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('ProxyServer faults', () => {
  it('upstream refused: closes that client, reports it, and keeps serving other connections', async () => {
    let upstream = await listenServer((socket) => socket.pipe(socket));
    const upstreamPort = upstream.port;
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstreamPort, observer);
    cleanups.push(() => proxy.close());

    // Connection 1 is established while the upstream is listening ...
    const first = await connectClient(port);
    first.write('one');
    const firstEcho = new Promise<string>((resolve) => first.once('data', (d: Buffer) => resolve(d.toString())));
    expect(await firstEcho).toBe('one');

    // ... then the upstream stops accepting (existing connections stay).
    await new Promise<void>((resolve) => {
      upstream.server.close(() => resolve());
      // server.close waits for open connections; resolve once it no longer listens
      setImmediate(resolve);
    });
    const refused = await connectClient(port);
    refused.write('AMQP\x00\x00\x09\x01');
    const refusedResult = await collect(refused);
    expect(refusedResult.data.length).toBe(0);
    expect(await observer.closed(2)).toBe('upstream unreachable: connection refused');
    expect(observer.upstreamErrors).toEqual([{ id: 2, message: `upstream 127.0.0.1:${upstreamPort}: connection refused` }]);
    expect(observer.events.filter((e) => e.endsWith(' 2'))).toEqual(['open 2', 'upstream-error 2', 'close 2']);

    // The established connection still works.
    first.write('still here');
    expect(await new Promise<string>((resolve) => first.once('data', (d: Buffer) => resolve(d.toString())))).toBe('still here');

    // And a new connection works once the upstream listens again.
    const sockets = upstream.sockets;
    upstream = await listenServer((socket) => socket.pipe(socket), upstreamPort);
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await closeServer(upstream);
    });
    const third = await connectClient(port);
    const thirdResult = collect(third);
    third.end('three');
    expect((await thirdResult).data.toString()).toBe('three');
    expect(await observer.closed(3)).toBe('client closed the socket');
    first.destroy();
  });

  it('upstream closes mid-stream: the client gets everything sent before the end, then the end', async () => {
    const fromServer = randomBytes(3 * 1024 * 1024);
    const upstream = await listenServer((socket) => {
      socket.once('data', () => void writeChunked(socket, fromServer, rng(3), 65536));
      socket.resume();
    });
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const client = await connectClient(port);
    // The client keeps sending while the upstream ends its side.
    client.write(randomBytes(1000));
    const received = await readUntilEnd(client);
    expect(received.length).toBe(fromServer.length);
    expect(sha256(received)).toBe(sha256(fromServer));
    client.end();
    expect(await observer.closed(1)).toBe('server closed the socket');
  });

  it('upstream destroyed mid-stream: the client is closed and the reason says so', async () => {
    const upstream = await listenServer((socket) => {
      socket.once('data', () => {
        socket.write('partial');
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const client = await connectClient(port);
    const result = collect(client);
    client.write('hello');
    expect((await result).data.toString()).toBe('partial');
    expect(await observer.closed(1)).toBe('server reset the socket');
    expect(observer.upstreamErrors).toEqual([{ id: 1, message: `upstream 127.0.0.1:${upstream.port}: connection reset` }]);
  });

  it('client resets mid-stream: the upstream side is closed and the reason mentions the reset', async () => {
    let upstreamResult: ReturnType<typeof collect> | undefined;
    let gotData!: () => void;
    const dataArrived = new Promise<void>((resolve) => (gotData = resolve));
    const upstream = await listenServer((socket) => {
      upstreamResult = collect(socket);
      socket.once('data', () => gotData());
      // A stream towards the client, still flowing when the client resets.
      void writeChunked(socket, randomBytes(8 * 1024 * 1024), rng(5), 65536, false).catch(() => {});
    });
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const client = await connectClient(port);
    client.write(randomBytes(100_000));
    await dataArrived;
    client.resetAndDestroy();
    const reason = await observer.closed(1);
    expect(reason).toMatch(/^client reset/);
    expect(reason).toBe('client reset the socket');
    const atUpstream = await upstreamResult!;
    // The upstream saw its connection end (FIN after the bytes before the reset, or a reset).
    expect(atUpstream.ended || atUpstream.error !== undefined).toBe(true);
    expect(proxy.connectionCount).toBe(0);
  });

  it('half-close from the client: the upstream sees the end and can still answer', async () => {
    const upstream = await listenServer((socket) => {
      void readUntilEnd(socket).then((request) => {
        socket.end(Buffer.concat([Buffer.from('answer to '), request]));
      });
    });
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const client = await connectClient(port);
    const answer = collect(client);
    client.end('question');
    expect((await answer).data.toString()).toBe('answer to question');
    expect(await observer.closed(1)).toBe('client closed the socket');
  });

  it('half-close from the upstream: the client sees the end and can still send', async () => {
    let atUpstream: Promise<Buffer> | undefined;
    const upstream = await listenServer((socket) => {
      atUpstream = readUntilEnd(socket);
      socket.end('server done');
    });
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const client = await connectClient(port);
    expect((await readUntilEnd(client)).toString()).toBe('server done');
    const late = randomBytes(2 * 1024 * 1024);
    await writeChunked(client, late, rng(9), 32768);
    expect(sha256(await atUpstream!)).toBe(sha256(late));
    expect(await observer.closed(1)).toBe('server closed the socket');
  });

  it('port in use: listen() rejects with a one-line ListenError', async () => {
    const taken = await listenServer(() => {});
    cleanups.push(() => closeServer(taken));
    const proxy = new ProxyServer({
      listen: { host: '127.0.0.1', port: taken.port },
      upstream: { host: '127.0.0.1', port: await unusedPort(), tls: false },
    });
    const err = await proxy.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ListenError);
    expect((err as ListenError).message).toBe(`cannot listen on 127.0.0.1:${taken.port}: address already in use`);
    expect((err as ListenError).code).toBe('EADDRINUSE');
    await proxy.close();
  });

  it('listen() resolves with the real port when asked for port 0', async () => {
    const proxy = new ProxyServer({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: 5672, tls: false },
    });
    const bound = await proxy.listen();
    expect(bound.address).toBe('127.0.0.1');
    expect(bound.port).toBeGreaterThan(0);
    expect(proxy.address).toEqual(bound);
    await proxy.close();
  });
});
