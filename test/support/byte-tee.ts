// A TCP relay that hashes and counts every byte in each direction, to prove what one side
// sent is what the other received.
import { createHash, type Hash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import type { SpyEvent } from '../../src/events.js';
import { startProxySession, type RunningSession } from '../../src/session/live-session.js';

export interface TeeCounts {
  c2s: { bytes: number; hash: Hash };
  s2c: { bytes: number; hash: Hash };
}

export interface ByteTee {
  readonly port: number;
  /** per accepted connection, in accept order */
  readonly connections: TeeCounts[];
  close(): Promise<void>;
}

export async function startByteTee(upstreamHost: string, upstreamPort: number): Promise<ByteTee> {
  const connections: TeeCounts[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const counts: TeeCounts = { c2s: { bytes: 0, hash: createHash('sha256') }, s2c: { bytes: 0, hash: createHash('sha256') } };
    connections.push(counts);
    const upstream = net.connect({ host: upstreamHost, port: upstreamPort, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    client.on('data', (b) => {
      counts.c2s.bytes += b.length;
      counts.c2s.hash.update(b);
      upstream.write(b);
    });
    upstream.on('data', (b) => {
      counts.s2c.bytes += b.length;
      counts.s2c.hash.update(b);
      client.write(b);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => sockets.delete(client));
    upstream.on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A proxy session in front of a broker, with a byte tee between the proxy and the broker
 * (what the proxy forwarded), collecting every event. Set up before and torn down after the
 * enclosing describe's tests.
 */
export function teedProxyFixture(target: () => { host: string; port: number }): {
  readonly events: SpyEvent[];
  session(): RunningSession;
  upstreamTee(): ByteTee;
} {
  const events: SpyEvent[] = [];
  let session: RunningSession | undefined;
  let upstreamTee: ByteTee | undefined;
  beforeAll(async () => {
    const broker = target();
    upstreamTee = await startByteTee(broker.host, broker.port);
    session = await startProxySession({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: upstreamTee.port, tls: false },
      sinks: [(e) => events.push(e)],
      notice: () => {},
    });
  });
  afterAll(async () => {
    await session?.stop();
    await upstreamTee?.close();
  });
  return { events, session: () => session!, upstreamTee: () => upstreamTee! };
}
