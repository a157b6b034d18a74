#!/usr/bin/env node
// Captures a real AMQP session between amqplib and a broker as two raw byte streams
// (client→server and server→client), for the codec's golden tests.
// Usage: node scripts/capture-session.mjs [amqp://guest:guest@127.0.0.1:5672] [fixtures/sessions/amqplib-rabbitmq]
// A tiny TCP tee sits between amqplib and the broker; nothing here uses the project's code.
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import amqplib from 'amqplib';

const brokerUrl = new URL(process.argv[2] ?? 'amqp://guest:guest@127.0.0.1:5672');
const outPrefix = process.argv[3] ?? 'fixtures/sessions/amqplib-rabbitmq';

const c2s = [];
const s2c = [];
const tee = net.createServer((client) => {
  const upstream = net.connect(Number(brokerUrl.port || 5672), brokerUrl.hostname);
  client.on('data', (b) => {
    c2s.push(Buffer.from(b));
    upstream.write(b);
  });
  upstream.on('data', (b) => {
    s2c.push(Buffer.from(b));
    client.write(b);
  });
  client.on('end', () => upstream.end());
  upstream.on('end', () => client.end());
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
});
await new Promise((r) => tee.listen(0, '127.0.0.1', r));
const port = tee.address().port;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const conn = await amqplib.connect(
  {
    protocol: 'amqp',
    hostname: '127.0.0.1',
    port,
    username: decodeURIComponent(brokerUrl.username || 'guest'),
    password: decodeURIComponent(brokerUrl.password || 'guest'),
    heartbeat: 1,
  },
  { clientProperties: { connection_name: 'amqp-spy fixture capture' } },
);

const ch = await conn.createConfirmChannel();
await ch.prefetch(10);
await ch.assertExchange('spy.orders', 'topic', { durable: false, autoDelete: true });
const { queue } = await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-priority': 5 } });
await ch.bindQueue(queue, 'spy.orders', 'order.*');

const received = [];
await ch.consume(queue, (msg) => {
  received.push(msg);
  if (received.length === 1) ch.nack(msg, false, true);
  else ch.ack(msg);
});
ch.publish('spy.orders', 'order.created', Buffer.from(JSON.stringify({ id: 1, item: 'book' })), {
  contentType: 'application/json',
  contentEncoding: 'utf-8',
  deliveryMode: 2,
  priority: 3,
  correlationId: 'c-1',
  replyTo: 'replies',
  expiration: '60000',
  messageId: 'm-1',
  timestamp: 1700000000,
  type: 'order',
  appId: 'capture',
  userId: 'guest',
  headers: {
    'x-int': 42,
    'x-neg': -7,
    'x-big': 2 ** 40,
    'x-float': 1.5,
    'x-bool': true,
    'x-str': 'héllo',
    'x-list': [1, 'two', false],
    'x-nested': { a: 1, b: 'c' },
    'x-null': null,
  },
});
ch.publish('spy.orders', 'order.large', Buffer.alloc(300_000, 0x61), { contentType: 'text/plain' });
ch.publish('spy.orders', 'order.empty', Buffer.alloc(0));
ch.publish('spy.orders', 'nowhere.at.all', Buffer.from('unroutable'), { mandatory: true });
await ch.waitForConfirms();
while (received.length < 4) await sleep(20);

const plain = await conn.createChannel();
const q2 = await plain.assertQueue('spy.get-test', { durable: false, autoDelete: false });
plain.sendToQueue(q2.queue, Buffer.from('got me'), { headers: { n: 1 } });
let got = false;
for (let i = 0; i < 50 && !got; i++) {
  const m = await plain.get(q2.queue);
  if (m) {
    plain.ack(m);
    got = true;
  } else await sleep(20);
}
await plain.get(q2.queue); // get-empty
await plain.deleteQueue(q2.queue);
await sleep(2500); // let heartbeats flow
const failing = await conn.createChannel();
failing.on('error', () => {});
await failing.checkQueue('spy.does-not-exist').catch(() => {});
await plain.close();
await ch.close();
await conn.close();
await sleep(100);
tee.close();

fs.mkdirSync(path.dirname(outPrefix), { recursive: true });
fs.writeFileSync(`${outPrefix}.c2s.bin`, Buffer.concat(c2s));
fs.writeFileSync(`${outPrefix}.s2c.bin`, Buffer.concat(s2c));
console.log(`wrote ${outPrefix}.c2s.bin (${Buffer.concat(c2s).length} bytes) and ${outPrefix}.s2c.bin (${Buffer.concat(s2c).length} bytes)`);
