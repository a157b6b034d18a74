// A vitest suite for a service that publishes orders, against amqp-spy's built-in broker
// (no RabbitMQ, no Docker) and through its proxy. Run: npx vitest run --root examples/vitest
import { startBroker, startProxy, type MessageEvent, type SpyEvent, type SpySession } from 'amqp-spy';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The service under test: publishes an order as JSON to the `orders` topic exchange. */
async function placeOrder(url: string, order: { id: number; total: number }): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange('orders', 'topic', { durable: false });
    channel.publish('orders', 'order.created', Buffer.from(JSON.stringify(order)), { contentType: 'application/json' });
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

const isPublish = (event: SpyEvent): event is MessageEvent => event.kind === 'message' && event.method.name === 'basic.publish';
const json = (event: MessageEvent): unknown => JSON.parse(Buffer.from(event.body).toString('utf8'));

describe('placeOrder against the built-in broker', () => {
  let broker: SpySession;
  beforeAll(async () => {
    broker = await startBroker(); // a free port: test files run in parallel without clashing
  });
  afterAll(() => broker.close());

  it('publishes the order to orders with routing key order.created', async () => {
    await placeOrder(broker.url, { id: 1, total: 9.5 });
    // the publish already happened: waitFor finds it in the session's history, no race
    const published = await broker.waitFor('method:basic.publish exchange:orders rk:order.created');
    expect(published.kind).toBe('message');
    expect(json(published as MessageEvent)).toEqual({ id: 1, total: 9.5 });
  });

  it('a consumer bound to order.* gets it (a real topic exchange)', async () => {
    const connection = await amqp.connect(broker.url);
    const channel = await connection.createChannel();
    await channel.assertExchange('orders', 'topic', { durable: false });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'orders', 'order.*');
    const received = new Promise<unknown>((resolve) => channel.consume(queue, (m) => m && resolve(JSON.parse(m.content.toString())), { noAck: true }));
    await placeOrder(broker.url, { id: 2, total: 3 });
    expect(await received).toEqual({ id: 2, total: 3 });
    await connection.close();
  });
});

describe('placeOrder through the proxy', () => {
  // in front of RabbitMQ when AMQP_SPY_RABBITMQ_URL is set, else of a built-in broker
  let upstream: SpySession | undefined;
  let proxy: SpySession;
  beforeAll(async () => {
    const rabbitmq = process.env['AMQP_SPY_RABBITMQ_URL'];
    if (!rabbitmq) upstream = await startBroker(); // unset or empty: no RabbitMQ
    proxy = await startProxy({ upstream: rabbitmq || upstream!.url });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream?.close();
  });

  it("sees the service's publish and the broker's confirm", async () => {
    await placeOrder(proxy.url, { id: 3, total: 1 });
    const published = await proxy.waitFor(isPublish);
    expect(json(published)).toEqual({ id: 3, total: 1 });
    const confirm = await proxy.waitFor('method:basic.ack dir:s2c');
    // a confirm names the publishes it confirms by their method frame (a message's frames[0])
    expect(confirm.kind === 'frame' && confirm.insight?.confirms?.publishSeqs).toEqual([published.frames[0]]);
  });
});
