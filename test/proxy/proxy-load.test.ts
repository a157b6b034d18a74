// Many messages and many connections through the proxy to RabbitMQ: every byte forwarded
// exactly (SHA-256 on both sides of the proxy), every event on the right connection.
import amqplib from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MessageEvent } from '../../src/events.js';
import { startByteTee, teedProxyFixture, type ByteTee } from '../support/byte-tee.js';
import { describeAgainstBrokers, type BrokerTarget as Target } from '../support/brokers.js';
import { waitFor } from '../support/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function suite(target: () => Target): void {
  const proxy = teedProxyFixture(target);
  const events = proxy.events;
  let clientTee: ByteTee;
  beforeAll(async () => {
    clientTee = await startByteTee('127.0.0.1', proxy.session().address.port);
  });
  afterAll(async () => {
    await clientTee?.close();
  });

  it('a 10,000-message session: what each side sent is, byte for byte, what the other received', async () => {
    const { username, password } = target();
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port: clientTee.port, username, password });
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.prefetch(500);
    let received = 0;
    await ch.consume(queue, (msg) => {
      if (msg) {
        received++;
        ch.ack(msg);
      }
    });
    for (let i = 0; i < 10_000; i++) {
      const body = Buffer.alloc(16 + (i % 7) * 300, i % 251);
      if (!ch.sendToQueue(queue, body, { messageId: `m${i}`, headers: { i } })) await new Promise((r) => ch.once('drain', r));
    }
    await ch.waitForConfirms();
    await waitFor(() => received === 10_000, '10,000 deliveries', 60_000);
    await conn.close();
    const index = clientTee.connections.length - 1;
    await waitFor(
      () => events.some((e) => e.kind === 'conn.close' && e.conn === events.filter((x) => x.kind === 'conn.open').at(-1)!.conn),
      'the proxy to see the close',
    );
    const client = clientTee.connections[index]!;
    const upstream = proxy.upstreamTee().connections.at(-1)!;
    expect(client.c2s.bytes).toBeGreaterThan(10_000 * 16);
    expect(upstream.c2s.bytes).toBe(client.c2s.bytes);
    expect(upstream.s2c.bytes).toBe(client.s2c.bytes);
    expect(upstream.c2s.hash.copy().digest('hex')).toBe(client.c2s.hash.copy().digest('hex'));
    expect(upstream.s2c.hash.copy().digest('hex')).toBe(client.s2c.hash.copy().digest('hex'));
    const conn1 = events.filter((e) => e.kind === 'conn.open').at(-1)!.conn;
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message' && e.conn === conn1);
    expect(messages.filter((m) => m.method.name === 'basic.publish')).toHaveLength(10_000);
    expect(messages.filter((m) => m.method.name === 'basic.deliver')).toHaveLength(10_000);
    expect(events.filter((e) => e.kind === 'decode.error' && e.conn === conn1)).toEqual([]);
  });

  it('200 simultaneous connections, each its own short session, all events on the right connection', async () => {
    const { username, password } = target();
    const before = events.length;
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, n) => {
        const conn = await amqplib.connect({ hostname: '127.0.0.1', port: proxy.session().address.port, username, password });
        try {
          const ch = await conn.createChannel();
          const { queue } = await ch.assertQueue('', { exclusive: true });
          ch.sendToQueue(queue, Buffer.from(`client-${n}`));
          let got: string | undefined;
          for (let i = 0; i < 200 && got === undefined; i++) {
            const m = await ch.get(queue, { noAck: true });
            if (m) got = m.content.toString();
            else await sleep(5);
          }
          return { queue, got };
        } finally {
          await conn.close();
        }
      }),
    );
    expect(results.map((r) => r.got)).toEqual(Array.from({ length: 200 }, (_, n) => `client-${n}`));
    const mine = () => events.slice(before);
    await waitFor(() => mine().filter((e) => e.kind === 'conn.close').length === 200, '200 closes', 60_000);
    const opened = mine()
      .filter((e) => e.kind === 'conn.open')
      .map((e) => e.conn);
    expect(new Set(opened).size).toBe(200);
    // each connection's publish carries its own client's body, its get-ok the same body
    for (const conn of opened) {
      const messages = mine().filter((e): e is MessageEvent => e.kind === 'message' && e.conn === conn);
      const published = messages.filter((m) => m.method.name === 'basic.publish').map((m) => Buffer.from(m.body).toString());
      const got = messages.filter((m) => m.method.name === 'basic.get-ok').map((m) => Buffer.from(m.body).toString());
      expect(published).toHaveLength(1);
      expect(got).toEqual(published);
      const queue = results.find((r) => r.got === published[0])!.queue;
      expect(messages[0]!.method.args['routing-key']).toBe(queue);
    }
    expect(mine().filter((e) => e.kind === 'decode.error')).toEqual([]);
  });
}

describeAgainstBrokers('proxy under load', suite);
