// Byte-exactness and concurrency of the relay, through real sockets on 127.0.0.1.

import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingObserver, closeServer, collect, connectClient, listenServer, readUntilEnd, rng, sha256, startProxy, writeChunked } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(onSocket: (socket: net.Socket) => void) {
  const upstream = await listenServer(onSocket);
  const observer = new RecordingObserver();
  const { proxy, port } = await startProxy(upstream.port, observer);
  cleanups.push(
    () => closeServer(upstream),
    () => proxy.close(),
  );
  return { upstream, observer, proxy, port };
}

describe('ProxyServer forwarding', () => {
  it('forwards several MB of random garbage byte-exactly, with random chunk sizes, both ways', async () => {
    const fromClient = randomBytes(6 * 1024 * 1024 + 123);
    const fromServer = randomBytes(5 * 1024 * 1024 + 7);
    let serverReceived: Promise<Buffer> | undefined;
    const { observer, port } = await setup((socket) => {
      serverReceived = readUntilEnd(socket);
      void writeChunked(socket, fromServer, rng(2), 70_000);
    });
    const client = await connectClient(port);
    // The server may finish first: the client keeps writing after its FIN.
    const clientReceived = collect(client, false);
    await writeChunked(client, fromClient, rng(1), 50_000);
    const got = await clientReceived;
    expect(got.ended).toBe(true);
    expect(sha256(got.data)).toBe(sha256(fromServer));
    expect(got.data.length).toBe(fromServer.length);
    const atServer = await serverReceived!;
    expect(sha256(atServer)).toBe(sha256(fromClient));

    expect(await observer.closed(1)).toMatch(/^(client|server) closed the socket$/);
    // The decoder's view: onData chunks, concatenated per direction, are exactly the bytes.
    expect(sha256(observer.bytes(1, 'c2s'))).toBe(sha256(fromClient));
    expect(sha256(observer.bytes(1, 's2c'))).toBe(sha256(fromServer));
    expect(observer.chunks.get(1)!.c2s.length).toBeGreaterThan(1);
  });

  it('forwards a large stream in both directions at once', async () => {
    const size = 24 * 1024 * 1024;
    const fromClient = randomBytes(size);
    const fromServer = randomBytes(size);
    let serverReceived: Promise<Buffer> | undefined;
    let serverWrote: Promise<void> | undefined;
    const { observer, port } = await setup((socket) => {
      serverReceived = readUntilEnd(socket);
      // Large writes both ways at the same time: both directions are full simultaneously.
      serverWrote = writeChunked(socket, fromServer, () => 1, 1024 * 1024);
    });
    const client = await connectClient(port);
    const clientReceived = collect(client, false);
    await writeChunked(client, fromClient, () => 1, 1024 * 1024);
    await serverWrote;
    const [got, atServer] = await Promise.all([clientReceived, serverReceived!]);
    expect(sha256(atServer)).toBe(sha256(fromClient));
    expect(sha256(got.data)).toBe(sha256(fromServer));
    await observer.closed(1);
    expect(sha256(observer.bytes(1, 'c2s'))).toBe(sha256(fromClient));
    expect(sha256(observer.bytes(1, 's2c'))).toBe(sha256(fromServer));
  });

  it('reports onOpen with the client and upstream endpoints, then onClose once', async () => {
    const { observer, port, upstream } = await setup((socket) => socket.end('bye'));
    const client = await connectClient(port);
    const clientPort = client.localPort;
    const result = await collect(client);
    expect(result).toEqual({ data: Buffer.from('bye'), ended: true, error: undefined });
    expect(await observer.closed(1)).toBe('server closed the socket');
    expect(observer.opens.get(1)).toEqual({
      id: 1,
      client: { address: '127.0.0.1', port: clientPort },
      server: { address: '127.0.0.1', port: upstream.port },
    });
    expect(observer.events).toEqual(['open 1', 'close 1']);
  });

  it('serves 200 simultaneous connections, each with its own payload, echo and connection id', async () => {
    const { observer, port, proxy } = await setup((socket) => {
      // Echo, and pass the client's end on after everything was echoed.
      socket.pipe(socket);
    });
    const count = 200;
    const random = rng(42);
    const payloads = Array.from({ length: count }, (_, i) => {
      const body = randomBytes(1000 + Math.floor(random() * 60_000));
      body.writeUInt32BE(i, 0);
      return body;
    });
    const clients = await Promise.all(payloads.map(() => connectClient(port)));
    const clientPorts = clients.map((c) => c.localPort!);
    const echoes = await Promise.all(
      clients.map(async (client, i) => {
        const received = collect(client);
        await writeChunked(client, payloads[i]!, rng(i), 8192);
        return received;
      }),
    );
    for (let i = 0; i < count; i++) {
      expect(echoes[i]!.ended).toBe(true);
      expect(sha256(echoes[i]!.data), `echo ${i}`).toBe(sha256(payloads[i]!));
    }
    await Promise.all([...observer.opens.keys()].map((id) => observer.closed(id)));
    expect(proxy.connectionCount).toBe(0);
    expect([...observer.opens.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    // Every chunk reported for a connection id belongs to that client's payload.
    for (let i = 0; i < count; i++) {
      const id = observer.idForClientPort(clientPorts[i]!);
      expect(id, `connection id of client ${i}`).toBeDefined();
      expect(sha256(observer.bytes(id!, 'c2s'))).toBe(sha256(payloads[i]!));
      expect(sha256(observer.bytes(id!, 's2c'))).toBe(sha256(payloads[i]!));
    }
  });

  it('keeps forwarding when an observer throws, and reports the error once', async () => {
    const upstream = await listenServer((socket) => socket.pipe(socket));
    const reported: string[] = [];
    let calls = 0;
    const { proxy, port } = await startProxy(
      upstream.port,
      {
        onData: () => {
          calls++;
          throw new Error('decoder bug');
        },
      },
      { onObserverError: (callback, err) => reported.push(`${callback}: ${(err as Error).message}`) },
    );
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    const payload = randomBytes(300_000);
    const client = await connectClient(port);
    const received = collect(client);
    await writeChunked(client, payload, rng(7), 4096);
    expect(sha256((await received).data)).toBe(sha256(payload));
    expect(calls).toBeGreaterThan(2);
    expect(reported).toEqual(['onData: decoder bug']);
    expect(proxy.observerErrors).toBe(calls);
  });

  it('close() ends every open connection and resolves after every onClose', async () => {
    const upstream = await listenServer(() => {});
    const observer = new RecordingObserver();
    const { proxy, port } = await startProxy(upstream.port, observer);
    cleanups.push(() => closeServer(upstream));
    const clients = await Promise.all([connectClient(port), connectClient(port), connectClient(port)]);
    const results = clients.map((c) => collect(c));
    clients[0]!.write('hello');
    while (upstream.sockets.size < 3) await new Promise((r) => setTimeout(r, 5));
    await proxy.close();
    expect([...observer.closes.entries()].sort()).toEqual([
      [1, 'proxy stopped'],
      [2, 'proxy stopped'],
      [3, 'proxy stopped'],
    ]);
    expect(proxy.connectionCount).toBe(0);
    await Promise.all(results); // every client socket was closed
    await expect(connectClient(port)).rejects.toThrow(/ECONNREFUSED/);
  });
});
