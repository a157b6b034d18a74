// A sink that falls behind (the recorder on a slow disk) holds the proxy's reading: the proxy
// slows down instead of buffering, and every byte still arrives once the sink drains.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startProxySession, type RunningSession } from '../../src/session/live-session.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('proxy held by an overloaded sink', () => {
  it('stops reading while the sink is overloaded and delivers everything after it drains', async () => {
    let upstreamBytes = 0;
    const upstream = net.createServer((s) => {
      s.on('data', (d) => {
        upstreamBytes += d.length;
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => upstream.close(() => r())));

    let overloaded = false;
    let drain: (() => void) | undefined;
    const recorder = {
      get overloaded() {
        return overloaded;
      },
      onDrain(callback: () => void) {
        drain = callback;
      },
    };
    const session: RunningSession = await startProxySession({
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port, tls: false },
      sinks: [],
      notice: () => {},
      recorder,
    });
    cleanups.push(() => session.stop());

    const client = net.connect(session.address.port, '127.0.0.1');
    client.on('error', () => {});
    await new Promise((r) => client.once('connect', r));
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 0x41);
    // the first chunk makes the sink overloaded
    overloaded = true;
    let written = 0;
    const writeMore = () => {
      while (written < total) {
        written += piece.length;
        if (!client.write(piece)) {
          client.once('drain', writeMore);
          return;
        }
      }
    };
    writeMore();
    await new Promise((r) => setTimeout(r, 800));
    expect(drain).toBeDefined();
    const whileHeld = upstreamBytes;
    // kernel socket buffers still take some, but far from everything
    expect(whileHeld).toBeLessThan(total / 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(upstreamBytes).toBe(whileHeld); // nothing more moves while held
    overloaded = false;
    drain!();
    const deadline = Date.now() + 20_000;
    while (upstreamBytes < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(upstreamBytes).toBe(total);
    client.destroy();
  });
});
