// A malformed AMQP stream never crashes the proxy's pipeline and never stops bytes from
// flowing: mutated copies of a real session go through the proxy with every sink attached
// (text printer, NDJSON, recorder line format, summary) and arrive byte for byte.
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { undecodedSize, type SpyEvent } from '../../src/events.js';
import { recordingLine } from '../../src/record/recording-format.js';
import { startProxySession } from '../../src/session/live-session.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';
import { createSummary } from '../../src/view/summary.js';
import { waitFor } from '../support/cli.js';
import { capturedSession } from '../support/fixtures.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Deterministic pseudo-random numbers, so a failure can be reproduced from its seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

function mutate(bytes: Buffer, random: () => number): Buffer {
  const out = Buffer.from(bytes);
  const edits = 1 + Math.floor(random() * 8);
  // half the edits land in the first 4 KB, where the handshake and small frames are
  for (let i = 0; i < edits; i++) {
    const span = random() < 0.5 ? Math.min(4096, out.length) : out.length;
    out[Math.floor(random() * span)] = Math.floor(random() * 256);
  }
  return out;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('proxy with malformed streams', () => {
  it('forwards mutated sessions byte for byte; every sink copes with every event', async () => {
    const { c2s, s2c } = capturedSession();
    let decodeErrors = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const random = rng(seed);
      const clientBytes = mutate(c2s, random);
      const serverBytes = mutate(s2c, random);
      const upstreamGot: Buffer[] = [];
      const upstream = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on('data', (d) => upstreamGot.push(d));
        socket.on('error', () => {});
        socket.end(serverBytes);
      });
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => upstream.close(() => r())));

      const failures: string[] = [];
      const events: SpyEvent[] = [];
      const summary = createSummary();
      let printed = 0;
      const text = createHeadlessPrinter({
        write: (t) => {
          printed += t.length;
        },
        mode: 'frames',
      });
      const json = createHeadlessPrinter({
        write: (t) => {
          for (const line of Buffer.from(t).toString('utf8').trim().split('\n')) JSON.parse(line);
        },
        json: true,
      });
      const session = await startProxySession({
        listen: { host: '127.0.0.1', port: 0 },
        upstream: { host: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port, tls: false },
        sinks: [
          (e) => events.push(e),
          summary.sink,
          text,
          json,
          (e) => {
            recordingLine(e, false);
          },
        ],
        notice: (line) => failures.push(line),
      });
      cleanups.push(() => session.stop());

      const client = net.connect({ port: session.address.port, host: '127.0.0.1', allowHalfOpen: true });
      const clientGot: Buffer[] = [];
      client.on('data', (d) => clientGot.push(d));
      client.on('error', () => {});
      client.end(clientBytes);
      await new Promise((r) => client.on('close', r));
      await waitFor(() => events.some((e) => e.kind === 'conn.close'), `seed ${seed}: the close event`);
      text.flush();
      json.flush();

      expect(sha(Buffer.concat(upstreamGot)), `seed ${seed} c2s`).toBe(sha(clientBytes));
      expect(sha(Buffer.concat(clientGot)), `seed ${seed} s2c`).toBe(sha(serverBytes));
      expect(failures, `seed ${seed}`).toEqual([]);
      expect(printed).toBeGreaterThan(0);
      // decoding stops at most once per direction
      for (const dir of ['c2s', 's2c'] as const) {
        expect(events.filter((e) => e.kind === 'decode.error' && e.dir === dir && e.stopped).length, `seed ${seed} ${dir}`).toBeLessThanOrEqual(1);
      }
      // every forwarded byte is in some event: frames, headers, undecoded bytes
      const seen = { c2s: 0, s2c: 0 };
      for (const e of events) {
        if (e.kind === 'frame' || e.kind === 'protocol-header') seen[e.dir] += e.raw.length;
        else if (e.kind === 'bytes') seen[e.dir] += undecodedSize(e);
        else if (e.kind === 'decode.error' && e.raw && !e.stopped) seen[e.dir] += e.raw.length;
      }
      expect(seen, `seed ${seed}`).toEqual({ c2s: clientBytes.length, s2c: serverBytes.length });
      decodeErrors += events.filter((e) => e.kind === 'decode.error').length;
      await session.stop();
      cleanups.length = 0;
      await new Promise<void>((r) => upstream.close(() => r()));
    }
    // the mutations did reach the decoder's error paths
    expect(decodeErrors).toBeGreaterThan(5);
  });
});
