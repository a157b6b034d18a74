// What a queued message costs the built-in broker: its bytes, not its decoded headers. A
// header of tens of thousands of one-byte void values decodes to an object per value (~50x
// its bytes); held decoded, a few hundred such messages exhausted the heap. Measured in a
// child broker after full collections, with amqplib publishing and consuming for real.
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldSince, startMemoryProbe, type MemoryProbe } from '../support/memory-probe.js';

/** void values per header: amqplib encodes a table into a 64 KiB buffer */
const VOIDS = 65_000;
const PER_QUEUE = 200;

describe('the built-in broker holds message headers as bytes', () => {
  let probe: MemoryProbe<{ port: number }>;
  beforeAll(async () => {
    probe = await startMemoryProbe<{ port: number }>(`
      const { startBroker } = await import(dist('broker/broker-server.js'));
      const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
      ready = { port: broker.address.port };
    `);
  });
  afterAll(async () => {
    await probe.stop();
  });

  it('hundreds of messages with huge void-valued headers, queued and dead-lettered: memory is their bytes; consumed intact', async () => {
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port: probe.ready.port, username: 'guest', password: 'guest' });
    try {
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('held', { durable: false });
      await ch.assertQueue('dead', { durable: false });
      // expires at once into 'dead': the dead-lettered copy gets new headers (x-death)
      await ch.assertQueue('expiring', {
        durable: false,
        arguments: { 'x-message-ttl': 0, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' },
      });
      const voids = new Array<null>(VOIDS).fill(null);
      const base = await probe.measure();
      for (let i = 0; i < PER_QUEUE; i++) {
        for (const queue of ['held', 'expiring']) {
          if (!ch.sendToQueue(queue, Buffer.from(`m${i}`), { headers: { voids, n: i } })) await new Promise((r) => ch.once('drain', r));
        }
        if (i % 50 === 49) await ch.waitForConfirms();
      }
      await ch.waitForConfirms();
      for (let tries = 0; (await ch.checkQueue('dead')).messageCount < PER_QUEUE; tries++) {
        if (tries > 500) throw new Error('the expired messages did not reach the dead-letter queue');
        await new Promise((r) => setTimeout(r, 10));
      }
      const held = heldSince(base, await probe.measure());
      // each message's header is ~65 KB on the wire; decoded it took ~3 MB of heap
      const wireBytes = 2 * PER_QUEUE * (VOIDS + 100);
      expect(held).toBeLessThan(2 * wireBytes + 16 * 1024 * 1024);
      expect(probe.alive()).toBe(true);

      for (const queue of ['held', 'dead']) {
        for (let i = 0; i < PER_QUEUE; i++) {
          const m = await ch.get(queue, { noAck: true });
          if (m === false) throw new Error(`${queue}: message ${i} missing`);
          expect(m.content.toString()).toBe(`m${i}`);
          const headers = m.properties.headers as unknown as { voids: unknown[]; n: number; 'x-death'?: { queue: string }[] };
          expect(headers.n).toBe(i);
          expect(headers.voids).toHaveLength(VOIDS);
          expect(headers.voids.every((v) => v === null)).toBe(true);
          if (queue === 'dead') expect(headers['x-death']?.[0]?.queue).toBe('expiring');
        }
      }
    } finally {
      await conn.close();
    }
  });
});
