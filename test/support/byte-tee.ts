// A TCP relay that hashes and counts every byte in each direction, to prove what one side
// sent is what the other received.
import { createHash, type Hash } from 'node:crypto';
import net from 'node:net';

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
    client.on('data', (b) => { counts.c2s.bytes += b.length; counts.c2s.hash.update(b); upstream.write(b); });
    upstream.on('data', (b) => { counts.s2c.bytes += b.length; counts.s2c.hash.update(b); client.write(b); });
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
    close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
