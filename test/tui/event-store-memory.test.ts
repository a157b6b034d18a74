// The TUI's event store bounds what it really holds. Real clients publish through a real
// socket to the built-in broker in a child process whose only other sink is the store, and the
// child's heap (plus ArrayBuffers) is measured after full collections: a store counting raw
// bytes held ~50x its budget in decoded field tables.
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { heldSince, startMemoryProbe, type MemoryProbe } from '../support/memory-probe.js';

const MiB = 1024 * 1024;

interface StoreProbe {
  readonly port: number;
}

/** The built-in broker whose events all go into an EventStore of `maxBytes`. */
function storeProbe(maxBytes: number): Promise<MemoryProbe<StoreProbe>> {
  return startMemoryProbe<StoreProbe>(`
    const { startStandaloneSession } = await import(dist('session/live-session.js'));
    const { EventStore } = await import(dist('tui/event-store.js'));
    const store = new EventStore(100_000, { maxBytes: ${maxBytes} });
    const session = await startStandaloneSession({ listen: { host: '127.0.0.1', port: 0 }, sinks: [(e) => store.push(e)], notice: () => {} });
    ready = { port: session.address.port };
    extra = () => ({ bytes: store.bytes, size: store.size, total: store.total, lastKind: store.at(store.endIndex - 1)?.kind });
  `);
}

let probe: MemoryProbe<StoreProbe> | undefined;
afterEach(async () => {
  await probe?.stop();
  probe = undefined;
});

describe('the event store holds no more than its memory budget', () => {
  it('messages whose headers hold 65,000 void values each: heap held stays within the budget', async () => {
    const budget = 16 * MiB;
    probe = await storeProbe(budget);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port: probe.ready.port, username: 'guest', password: 'guest' });
    try {
      const ch = await conn.createConfirmChannel();
      const base = await probe.measure();
      const voids = new Array<null>(65_000).fill(null);
      const count = 300;
      for (let i = 0; i < count; i++) {
        // unroutable: the broker drops it, the store keeps its events
        if (!ch.publish('', 'nowhere', Buffer.from(`m${i}`), { headers: { voids } })) await new Promise((r) => ch.once('drain', r));
        if (i % 50 === 49) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      const after = await probe.measure();
      const held = heldSince(base, after);
      // 300 x ~65 KB went through; decoded, one such header is ~3 MB of heap
      expect(Number(after.extra['total'])).toBeGreaterThan(4 * count);
      expect(Number(after.extra['bytes'])).toBeLessThanOrEqual(budget);
      expect(held).toBeLessThan(budget + 4 * MiB);
      // the newest events are kept
      expect(Number(after.extra['size'])).toBeGreaterThan(4);
    } finally {
      await conn.close();
    }
  });

  it('ordinary traffic: what the store counts is at least what it holds, and not far above', async () => {
    probe = await storeProbe(256 * MiB);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port: probe.ready.port, username: 'guest', password: 'guest' });
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('orders', { durable: false });
      await ch.prefetch(100);
      const base = await probe.measure();
      const count = 3000;
      let consumed = 0;
      const done = new Promise<void>((resolve) => {
        void ch.consume('orders', (m) => {
          if (m === null) return;
          ch.ack(m);
          if (++consumed === count) resolve();
        });
      });
      for (let i = 0; i < count; i++) {
        const body = Buffer.from(JSON.stringify({ id: i, customer: `customer-${i % 97}`, items: [{ sku: `sku-${i}`, qty: i % 5 }] }));
        ch.sendToQueue('orders', body, {
          contentType: 'application/json',
          messageId: `order-${i}`,
          timestamp: 1_700_000_000 + i,
          headers: { tenant: `t${i % 7}`, attempt: i % 3, trace: `trace-${i}` },
        });
        if (i % 200 === 199) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      await done;
      const after = await probe.measure();
      const held = heldSince(base, after);
      const counted = Number(after.extra['bytes']);
      expect(Number(after.extra['total'])).toBeGreaterThan(6 * count);
      expect(Number(after.extra['total'])).toBe(Number(after.extra['size']));
      // an upper bound, so the budget bounds memory; within 4x, so it does not waste it
      expect(held).toBeLessThanOrEqual(counted);
      expect(counted).toBeLessThan(4 * held);
    } finally {
      await conn.close();
    }
  });
});
