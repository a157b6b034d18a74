// The UI's thread may fall behind the traffic; forwarding must not wait for it, and what is
// queued for it must stay within its budget: whole frames are dropped for the UI only, and
// what it gets still decodes (with a gap event where frames were left out).
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { EventBus, type SpyEvent } from '../../src/events.js';
import type { ByteObserver } from '../../src/source/byte-observer.js';
import { startStandaloneSession } from '../../src/session/live-session.js';
import { readObserverBatch } from '../../src/tap/observer-batch.js';
import { createTapObserver } from '../../src/tap/tap-observer.js';
import { EventStore } from '../../src/tui/event-store.js';
import { UiFeed } from '../../src/tui/worker/ui-feed.js';

const BUDGET = 64 * 1024;

describe('UiFeed', () => {
  it('holds what waits for a stalled UI within its budget, and the UI decodes what it gets', async () => {
    const queued: Uint8Array[] = [];
    let maxBehind = 0;
    const feed = new UiFeed({
      budget: BUDGET,
      post: (batch) => {
        queued.push(batch);
        maxBehind = Math.max(maxBehind, feed.inFlight);
      },
    });
    const session = await startStandaloneSession({ listen: { host: '127.0.0.1', port: 0 }, sinks: [], notice: () => {}, watchers: [feed] });
    const body = Buffer.alloc(1024, 'x');
    try {
      const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${session.address.port}`);
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue('ui-feed');
      // the UI reads nothing meanwhile: 4 MiB of publishes against a 64 KiB budget
      for (let i = 0; i < 4000; i++) channel.sendToQueue('ui-feed', body);
      await channel.waitForConfirms();
      expect(await channel.checkQueue('ui-feed')).toMatchObject({ messageCount: 4000 });
      feed.flush();
      // a batch is sent while under budget; one batch (≤ 256 KiB plus a read) may cross it
      expect(maxBehind).toBeLessThanOrEqual(BUDGET + 256 * 1024 + 64 * 1024);
      expect(feed.notShown).toBeGreaterThan(3 * 1024 * 1024);

      // the UI catches up: it reads every batch, in order, into its own taps
      const events: SpyEvent[] = [];
      const taps = createTapObserver(new EventBus([(e) => events.push(e)]), { keepUndecoded: true });
      const catchUp = (): void => {
        for (const batch of queued.splice(0)) {
          readObserverBatch(batch, taps);
          feed.ack(batch.length);
        }
      };
      catchUp();
      // after it caught up, every frame reaches it again
      for (let i = 0; i < 5; i++) channel.sendToQueue('ui-feed', Buffer.from(`after ${i}`));
      await channel.waitForConfirms();
      await channel.close();
      await connection.close();
      // the broker reports the socket's close once it has gone
      for (let i = 0; i < 100 && !events.some((e) => e.kind === 'conn.close'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        feed.flush();
        catchUp();
      }

      const gaps = events.filter((e) => e.kind === 'decode.error' && e.error.code === 'not-decoded');
      expect(gaps.length).toBeGreaterThan(0);
      expect(gaps.every((e) => e.kind === 'decode.error' && !e.stopped && /whole frames not shown/.test(e.error.text))).toBe(true);
      // the store counts what its UI did not get, for the header: every byte the feed left out
      const store = new EventStore(100_000);
      for (const e of events) store.push(e);
      expect(store.notShownBytes).toBe(feed.notShown);
      // nothing else failed to decode: the gaps were cut at frame boundaries
      expect(events.filter((e) => e.kind === 'decode.error' && e.error.code !== 'not-decoded')).toEqual([]);
      const bodies = events.flatMap((e) => (e.kind === 'message' && e.dir === 'c2s' ? [Buffer.from(e.body).toString()] : []));
      expect(bodies.slice(-5)).toEqual(['after 0', 'after 1', 'after 2', 'after 3', 'after 4']);
      // the messages it did get whole are intact
      expect(bodies.slice(0, -5).every((b) => b === body.toString())).toBe(true);
      expect(events.some((e) => e.kind === 'conn.close')).toBe(true);
    } finally {
      await session.stop();
    }
  });
});

describe('UiFeed and a capture that lost bytes', () => {
  it("passes the gap on: the UI's taps resynchronise as the session's do, and see the same events", () => {
    const conn = { id: 1, client: { address: '10.0.0.1', port: 40000 }, server: { address: '10.0.0.2', port: 5672 } };
    const declare = encodeMethodFrame(1, 'queue.declare', { queue: 'before-the-gap' });
    const bind = encodeMethodFrame(1, 'queue.bind', { queue: 'after-the-gap', exchange: 'amq.direct', 'routing-key': 'k' });
    const calls = (o: ByteObserver) => {
      o.onOpen?.(conn);
      o.onData?.(1, 'c2s', Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
      o.onData?.(1, 'c2s', Buffer.from(declare));
      // part of a frame, then the rest of it lost: the next data starts on a frame boundary
      o.onData?.(1, 'c2s', Buffer.from(bind.subarray(0, 9)));
      o.onGap?.(1, 'c2s', { lost: bind.length - 9, skipped: 0, midStream: false });
      o.onData?.(1, 'c2s', Buffer.from(bind));
      o.onClose?.(1, { by: 'client', how: 'closed' });
    };
    const shape = (events: SpyEvent[]) => events.map((e) => JSON.stringify({ ...e, ts: 0, seq: 0 }));

    const direct: SpyEvent[] = [];
    calls(createTapObserver(new EventBus([(e) => direct.push(e)]), { keepUndecoded: true }));

    const viaUi: SpyEvent[] = [];
    const taps = createTapObserver(new EventBus([(e) => viaUi.push(e)]), { keepUndecoded: true });
    const feed = new UiFeed({ budget: BUDGET, post: (batch) => readObserverBatch(batch, taps) });
    calls(feed);
    feed.flush();

    expect(direct.some((e) => e.kind === 'frame' && JSON.stringify(e).includes('after-the-gap'))).toBe(true);
    expect(direct.some((e) => e.kind === 'decode.error' && e.error.text.includes('bytes missing from the capture'))).toBe(true);
    expect(shape(viaUi)).toEqual(shape(direct));
  });
});
