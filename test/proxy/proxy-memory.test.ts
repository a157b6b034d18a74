// What the proxy holds to read with: its read slabs share one budget, so many connections
// bursting at once do not each keep a megabyte (300 connections once held ~300 MB).
import { createHash, randomBytes } from 'node:crypto';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, connectClient, listenServer, readUntilEnd, RecordingObserver, startProxy } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const CONNECTIONS = 100;
/** the budget in proxy-server.ts, and the smallest slab a connection gets */
const SLAB_BUDGET = 16 * 1024 * 1024;
const SLAB_MIN = 64 * 1024;

describe('ProxyServer read memory', () => {
  it(`${CONNECTIONS} connections each sent 4 MiB at once: the read slabs stay within their shared budget, every byte arrives`, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const digest = createHash('sha256').update(payload).digest('hex');
    // the upstream writes everything at once, so the proxy reads as much as the kernel holds
    const upstream = await listenServer((socket: net.Socket) => {
      socket.end(payload);
    });
    const { proxy, port } = await startProxy(upstream.port, new RecordingObserver());
    cleanups.push(
      () => closeServer(upstream),
      () => proxy.close(),
    );
    let largest = 0;
    const sample = setInterval(() => {
      largest = Math.max(largest, proxy.readSlabBytes());
    }, 2);
    const received = await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        const client = await connectClient(port);
        return readUntilEnd(client);
      }),
    );
    clearInterval(sample);
    largest = Math.max(largest, proxy.readSlabBytes());
    for (const data of received) expect(createHash('sha256').update(data).digest('hex')).toBe(digest);
    expect(largest).toBeGreaterThan(0);
    // slabs taken before the others connected may be larger; none is past the budget per connection then
    expect(largest).toBeLessThanOrEqual(SLAB_BUDGET + CONNECTIONS * SLAB_MIN);
  });
});
