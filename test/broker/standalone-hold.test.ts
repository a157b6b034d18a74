// In standalone mode a sink that falls behind (the recorder on a slow disk) holds the
// built-in broker's reading: publishers slow down, nothing is lost once the sink drains.
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import type { SpyEvent } from '../../src/events.js';
import { startStandaloneSession } from '../../src/session/live-session.js';
import { waitFor } from '../support/cli.js';

describe('standalone session held by an overloaded sink', () => {
  it('stops reading clients while overloaded and takes every message after the drain', async () => {
    let overloaded = false;
    let drain: (() => void) | undefined;
    const events: SpyEvent[] = [];
    const session = await startStandaloneSession({
      listen: { host: '127.0.0.1', port: 0 },
      sinks: [(e) => events.push(e)],
      notice: () => {},
      recorder: {
        get overloaded() {
          return overloaded;
        },
        onDrain(cb) {
          drain = cb;
        },
      },
    });
    try {
      const conn = await amqplib.connect({ hostname: '127.0.0.1', port: session.address.port, username: 'guest', password: 'guest' });
      const ch = await conn.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      const publishes = () => events.filter((e) => e.kind === 'message' && e.method.name === 'basic.publish').length;
      overloaded = true;
      const total = 4000;
      const body = Buffer.alloc(16 * 1024, 1);
      let sent = 0;
      const publishing = (async () => {
        for (; sent < total; sent++) {
          if (!ch.sendToQueue(queue, body)) await new Promise((r) => ch.once('drain', r));
        }
      })();
      await waitFor(() => drain !== undefined, 'the broker to hold its reading');
      await new Promise((r) => setTimeout(r, 500));
      const whileHeld = publishes();
      expect(whileHeld).toBeLessThan(total / 2);
      await new Promise((r) => setTimeout(r, 300));
      expect(publishes()).toBe(whileHeld);
      overloaded = false;
      drain!();
      await publishing;
      await waitFor(() => publishes() === total, 'every publish', 30_000);
      const { messageCount } = await ch.checkQueue(queue);
      expect(messageCount).toBe(total);
      await conn.close();
    } finally {
      await session.stop();
    }
  });
});
