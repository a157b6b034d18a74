// amqps:// upstream: a local TLS server with a self-signed certificate made by openssl.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseUpstreamAddress } from '../../src/source/address.js';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/proxy-server.js';
import { RecordingObserver, collect, connectClient, rng, sha256, writeChunked } from './helpers.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const opensslAvailable = hasOpenssl();
if (!opensslAvailable) console.warn('openssl not found: skipping the TLS upstream tests');

describe.skipIf(!opensslAvailable)('ProxyServer with a TLS upstream (amqps://)', () => {
  let dir: string;
  let cert: Buffer;
  let key: Buffer;
  let server: tls.Server;
  let serverPort: number;
  const serverSockets = new Set<net.Socket>();
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'amqp-spy-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = readFileSync(join(dir, 'cert.pem'));
    key = readFileSync(join(dir, 'key.pem'));
    // An echo server over TLS that ends when the client ends.
    server = tls.createServer({ cert, key, allowHalfOpen: true }, (socket) => {
      serverSockets.add(socket);
      socket.on('close', () => serverSockets.delete(socket));
      socket.on('error', () => {});
      socket.pipe(socket);
    });
    server.on('tlsClientError', () => {});
    // Track the TCP sockets too: a failed handshake never becomes a secure connection.
    server.on('connection', (socket: net.Socket) => {
      serverSockets.add(socket);
      socket.on('close', () => serverSockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    serverPort = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of serverSockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function start(tlsOptions: ProxyServerOptions['tls']) {
    const observer = new RecordingObserver();
    const options: ProxyServerOptions = {
      listen: { host: '127.0.0.1', port: 0 },
      upstream: parseUpstreamAddress(`amqps://127.0.0.1:${serverPort}`),
      observer,
      ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}),
    };
    const proxy = new ProxyServer(options);
    const { port } = await proxy.listen();
    cleanups.push(() => proxy.close());
    return { proxy, port, observer };
  }

  it('connects with the CA given and forwards the plaintext both ways', async () => {
    const { port, observer } = await start({ ca: cert.toString() });
    const client = await connectClient(port);
    const payload = randomBytes(1024 * 1024 + 5);
    const echo = collect(client);
    await writeChunked(client, payload, rng(11), 16384);
    const got = await echo;
    expect(got.ended).toBe(true);
    expect(sha256(got.data)).toBe(sha256(payload));
    expect(await observer.closed(1)).toMatch(/closed the socket$/);
    // The observer sees plaintext, not TLS records.
    expect(sha256(observer.bytes(1, 'c2s'))).toBe(sha256(payload));
    expect(sha256(observer.bytes(1, 's2c'))).toBe(sha256(payload));
    expect(observer.upstreamErrors).toEqual([]);
  });

  it('rejects the self-signed certificate without the CA: client closed, error reported', async () => {
    const { port, observer } = await start(undefined);
    const client = await connectClient(port);
    client.write('AMQP\x00\x00\x09\x01');
    const result = await collect(client);
    expect(result.data.length).toBe(0);
    const reason = await observer.closed(1);
    expect(reason).toMatch(/^upstream unreachable: TLS: self[- ]signed certificate/);
    expect(observer.upstreamErrors).toHaveLength(1);
    expect(observer.upstreamErrors[0]!.message).toMatch(new RegExp(`^upstream 127\\.0\\.0\\.1:${serverPort}: TLS: self[- ]signed certificate`));
  });

  it('holds client bytes sent before the upstream is ready, then forwards them in order', async () => {
    // A second TLS server whose handshake waits until the test lets it go on.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let handshakeStarted!: () => void;
    const started = new Promise<void>((resolve) => (handshakeStarted = resolve));
    const context = tls.createSecureContext({ cert, key });
    let atServer: Promise<Buffer> | undefined;
    const slow = tls.createServer(
      {
        cert,
        key,
        SNICallback: (_name, cb) => {
          handshakeStarted();
          void released.then(() => cb(null, context));
        },
      },
      (socket) => {
        atServer = new Promise((resolve) => {
          const parts: Buffer[] = [];
          socket.on('data', (d: Buffer) => parts.push(d));
          socket.on('end', () => {
            resolve(Buffer.concat(parts));
            socket.end();
          });
        });
      },
    );
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => slow.close(() => resolve())));
    const observer = new RecordingObserver();
    const proxy = new ProxyServer({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: (slow.address() as net.AddressInfo).port, tls: true },
      tls: { ca: cert, servername: 'localhost' },
      observer,
    });
    const { port } = await proxy.listen();
    cleanups.push(() => proxy.close());

    const client = await connectClient(port);
    const early = randomBytes(2 * 1024 * 1024);
    const written = writeChunked(client, early, rng(13), 4096, false);
    await started;
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Nothing read from the client yet: its bytes wait in the kernel, not in the proxy.
    expect(observer.bytes(1, 'c2s').length).toBe(0);
    expect(proxy.bufferedBytes()).toBe(0);
    release();
    await written;
    client.end();
    const got = await collect(client);
    expect(got.ended).toBe(true);
    while (atServer === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(sha256(await atServer)).toBe(sha256(early));
    expect(sha256(observer.bytes(1, 'c2s'))).toBe(sha256(early));
    expect(await observer.closed(1)).toBe('client closed the socket');
  });

  it('connects without the CA when rejectUnauthorized is false', async () => {
    const { port } = await start({ rejectUnauthorized: false });
    const client = await connectClient(port);
    const echo = collect(client);
    client.end('ping');
    expect((await echo).data.toString()).toBe('ping');
  });
});
