// A fast writer on one side and a slow reader on the other: the proxy must pause the fast
// side instead of buffering everything.

import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Direction } from '../../src/proxy/proxy-server.js';
import { closeServer, connectClient, listenServer, sha256, startProxy, writeChunked } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Reads at most one chunk per timer tick, so it falls far behind a local writer. */
function slowRead(socket: net.Socket, expected: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= expected) return resolve(Buffer.concat(parts));
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    });
    socket.once('error', reject);
    socket.once('end', () => resolve(Buffer.concat(parts)));
  });
}

const TOTAL = 48 * 1024 * 1024;
// Two sockets per connection, each holding at most about its high-water mark (1 MiB)
// in the write queue and in the read buffer; unbounded buffering would approach TOTAL.
const BOUND = 8 * 1024 * 1024;

describe('ProxyServer backpressure', () => {
  it.each<[Direction, string]>([
    ['c2s', 'fast client, slow upstream'],
    ['s2c', 'fast upstream, slow client'],
  ])('%s: %s — buffered bytes stay bounded and every byte arrives', async (dir) => {
    const payload = randomBytes(TOTAL);
    let received: Promise<Buffer> | undefined;
    let upstreamSocket: net.Socket | undefined;
    const upstream = await listenServer((socket) => {
      upstreamSocket = socket;
      if (dir === 'c2s') received = slowRead(socket, TOTAL);
      else void writeChunked(socket, payload, () => 1, 256 * 1024);
    });
    let maxBuffered = 0;
    let samples = 0;
    let forwarded = 0;
    const { proxy, port } = await startProxy(upstream.port, {
      // Sampled right after each chunk was handed to the other socket: the worst moment.
      onData: (_id, _dir, chunk) => {
        forwarded += chunk.length;
        samples++;
        const buffered = proxy.bufferedBytes();
        if (buffered > maxBuffered) maxBuffered = buffered;
      },
    });
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );

    const client = await connectClient(port);
    if (dir === 'c2s') {
      await writeChunked(client, payload, () => 1, 256 * 1024);
    } else {
      received = slowRead(client, TOTAL);
    }
    while (received === undefined) await new Promise((r) => setTimeout(r, 1));
    const data = await received;
    expect(data.length).toBe(TOTAL);
    expect(sha256(data)).toBe(sha256(payload));
    expect(forwarded).toBe(TOTAL);
    expect(samples).toBeGreaterThan(50);
    expect(maxBuffered).toBeLessThan(BOUND);
    client.destroy();
    upstreamSocket?.destroy();
  });
});
