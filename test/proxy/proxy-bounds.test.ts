// What a client declares does not decide what the proxy holds: a frame header claiming 4 GiB
// before tune-ok, then hundreds of MiB behind it, through the real proxy session. The bytes
// reach the broker's side exactly; the tap stops decoding that direction once, at its bound,
// and the process does not grow with what was sent.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { DecodeErrorEvent } from '../../src/events.js';
import { startProxySession } from '../../src/session/live-session.js';
import { waitFor } from '../support/cli.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const MiB = 1024 * 1024;

describe('proxy bounds', () => {
  it('a 4 GiB frame header before tune-ok: bytes forwarded exactly, decoding stops once, memory stays flat', async () => {
    const upstreamHash = createHash('sha256');
    let upstreamBytes = 0;
    const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('data', (d: Buffer) => {
        upstreamHash.update(d);
        upstreamBytes += d.length;
      });
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => upstream.close(() => r())));

    // sinks that keep nothing: what the process holds is the proxy's and the tap's own
    const stops: DecodeErrorEvent[] = [];
    let closed = false;
    const notices: string[] = [];
    const session = await startProxySession({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port, tls: false },
      sinks: [
        (e) => {
          if (e.kind === 'decode.error') stops.push(e);
          else if (e.kind === 'conn.close') closed = true;
        },
      ],
      notice: (line) => notices.push(line),
    });
    cleanups.push(() => session.stop());

    const total = 384 * MiB;
    const head = Buffer.concat([encodeProtocolHeader(), Buffer.of(3, 0, 1, 0xff, 0xff, 0xff, 0xf0)]);
    const block = Buffer.alloc(MiB);
    for (let i = 0; i < block.length; i++) block[i] = (i * 7) & 0xff;
    const sentHash = createHash('sha256').update(head);
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sample = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    cleanups.push(() => clearInterval(sample));

    const client = net.connect({ port: session.address.port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => {});
    client.resume();
    await new Promise((r) => client.once('connect', r));
    client.write(head);
    for (let sent = 0; sent < total; sent += block.length) {
      sentHash.update(block);
      if (!client.write(block)) await new Promise((r) => client.once('drain', r));
    }
    client.end();
    await waitFor(() => upstreamBytes === head.length + total, `${head.length + total} bytes at the upstream`, 60_000);
    clearInterval(sample);
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    await waitFor(() => closed, 'the close event', 20_000);

    expect(upstreamHash.digest('hex')).toBe(sentHash.digest('hex'));
    expect(stops.filter((e) => e.stopped)).toMatchObject([{ dir: 'c2s', error: { code: 'frame-too-large', offset: 8 } }]);
    expect(notices).toEqual([]);
    // buffering the frame would hold all 384 MiB; sockets and garbage between collections stay far below
    expect((rssPeak - rssBefore) / MiB).toBeLessThan(128);
  });
});
