// Real-socket helpers for the proxy tests: local servers, clients and a recording observer.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { ProxyServer, type Direction, type ProxyConnectionInfo, type ProxyServerOptions, type SocketEnd } from '../../src/proxy/proxy-server.js';
import type { ByteObserver } from '../../src/source/byte-observer.js';
import { describeSocketEnd } from '../../src/tap/close-reason.js';

/** Everything the proxy reported, per connection. */
export class RecordingObserver implements ByteObserver {
  readonly opens = new Map<number, ProxyConnectionInfo>();
  readonly chunks = new Map<number, { c2s: Buffer[]; s2c: Buffer[] }>();
  /** each connection's end as the tap words a socket's end (`client closed the socket`) */
  readonly closes = new Map<number, string>();
  readonly upstreamErrors: { id: number; message: string }[] = [];
  readonly events: string[] = [];
  readonly #closeWaiters = new Map<number, (reason: string) => void>();

  onOpen(conn: ProxyConnectionInfo): void {
    this.events.push(`open ${conn.id}`);
    this.opens.set(conn.id, conn);
    this.chunks.set(conn.id, { c2s: [], s2c: [] });
  }
  onData(id: number, dir: Direction, chunk: Buffer): void {
    const c = this.chunks.get(id);
    if (c === undefined) throw new Error(`onData for unknown connection ${id}`);
    c[dir].push(chunk);
  }
  onClose(id: number, end: SocketEnd): void {
    const reason = describeSocketEnd(end);
    this.events.push(`close ${id}`);
    if (this.closes.has(id)) throw new Error(`second onClose for ${id}`);
    this.closes.set(id, reason);
    this.#closeWaiters.get(id)?.(reason);
  }
  onUpstreamError(id: number, message: string): void {
    this.events.push(`upstream-error ${id}`);
    this.upstreamErrors.push({ id, message });
  }

  bytes(id: number, dir: Direction): Buffer {
    return Buffer.concat(this.chunks.get(id)?.[dir] ?? []);
  }

  /** Resolves with the onClose reason of connection `id`. */
  closed(id: number): Promise<string> {
    const reason = this.closes.get(id);
    if (reason !== undefined) return Promise.resolve(reason);
    return new Promise((resolve) => this.#closeWaiters.set(id, resolve));
  }

  /** The connection whose client port is `port` (the client socket's localPort). */
  idForClientPort(port: number): number | undefined {
    for (const [id, info] of this.opens) if (info.client.port === port) return id;
    return undefined;
  }
}

export async function startProxy(
  upstreamPort: number,
  observer: ByteObserver,
  extra: Partial<ProxyServerOptions> = {},
): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: '127.0.0.1', port: upstreamPort, tls: false },
    observer,
    ...extra,
  });
  const { port } = await proxy.listen();
  return { proxy, port };
}

/** A TCP server on 127.0.0.1 (port 0 unless given), with allowHalfOpen so tests control ends. */
export async function listenServer(onSocket: (socket: net.Socket) => void, port = 0): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port, sockets };
}

export function closeServer(s: { server: net.Server; sockets: Set<net.Socket> }): Promise<void> {
  for (const socket of s.sockets) socket.destroy();
  return new Promise((resolve) => s.server.close(() => resolve()));
}

export function connectClient(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** A port with nothing listening on it (bound then released). */
export async function unusedPort(): Promise<number> {
  const s = await listenServer(() => {});
  await closeServer(s);
  return s.port;
}

/**
 * All bytes a socket receives until its peer's FIN or until it closes on an error; never
 * rejects. On the FIN the socket is ended too (finishing an allowHalfOpen socket) unless
 * `endOnFin` is false: pass false while something is still writing to the socket.
 */
export function collect(socket: net.Socket, endOnFin = true): Promise<{ data: Buffer; ended: boolean; error: string | undefined }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.on('end', () => {
      if (endOnFin) socket.end();
      resolve({ data: Buffer.concat(parts), ended: true, error });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => resolve({ data: Buffer.concat(parts), ended: false, error }));
  });
}

/** Resolves once `socket` has seen its peer's FIN, with the bytes received before it. */
export function readUntilEnd(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.once('end', () => resolve(Buffer.concat(parts)));
    socket.once('error', reject);
  });
}

/** Small deterministic PRNG (mulberry32) so failures can be replayed from the seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes `data` in chunks of random size (1..maxChunk) honouring backpressure, then ends
 * the socket unless `end` is false.
 */
export function writeChunked(socket: net.Socket, data: Buffer, random: () => number, maxChunk: number, end = true): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    const pump = (): void => {
      while (offset < data.length) {
        const n = Math.min(data.length - offset, 1 + Math.floor(random() * maxChunk));
        const ok = socket.write(data.subarray(offset, offset + n));
        offset += n;
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
      if (end) socket.end(resolve);
      else resolve();
    };
    socket.once('error', reject);
    pump();
  });
}

export function sha256(data: Buffer | readonly Buffer[]): string {
  const hash = createHash('sha256');
  for (const part of Buffer.isBuffer(data) ? [data] : data) hash.update(part);
  return hash.digest('hex');
}

export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, resolve as (v: unknown) => void));
}
