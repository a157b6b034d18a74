// Real client libraries through the proxy to RabbitMQ: the same results as directly, and
// the events the proxy emits tell the session as it happened.
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { expect, it } from 'vitest';
import type { SpyEvent, FrameEvent, MessageEvent } from '../../src/events.js';
import { teedProxyFixture } from '../support/byte-tee.js';
import { describeAgainstBrokers, type BrokerTarget as Target } from '../support/brokers.js';
import { waitFor } from '../support/cli.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unique = (name: string) => `spy-test.${name}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;

function methodFrames(events: SpyEvent[], conn?: number): FrameEvent[] {
  return events.filter((e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method' && (conn === undefined || e.conn === conn));
}
const nameOf = (e: FrameEvent) => (e.frame.type === 'method' ? e.frame.method.name : e.frame.type);

interface SessionOutcome {
  delivered: { body: string; headers: unknown; contentType: unknown }[];
  got: string | undefined;
  largeLength: number;
  channelError: string;
  confirmsOk: boolean;
}

/** One amqplib session; returns what the client observed. */
async function amqplibSession({ username, password }: Target, port: number, queue: string, exchange: string): Promise<SessionOutcome> {
  const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username, password });
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(exchange, 'direct', { autoDelete: true, durable: false });
    await ch.assertQueue(queue, { exclusive: true });
    await ch.bindQueue(queue, exchange, 'rk');
    const delivered: SessionOutcome['delivered'] = [];
    await ch.consume(queue, (msg) => {
      if (!msg) return;
      delivered.push({
        body: msg.content.length > 100 ? `len:${msg.content.length}` : msg.content.toString(),
        headers: msg.properties.headers,
        contentType: msg.properties.contentType,
      });
      ch.ack(msg);
    });
    ch.publish(exchange, 'rk', Buffer.from('{"n":1}'), {
      contentType: 'application/json',
      headers: { 'x-a': 1, 'x-b': 'two', 'x-c': { d: true } },
      messageId: 'm1',
    });
    ch.publish(exchange, 'rk', Buffer.alloc(1024 * 1024, 7));
    let confirmsOk = true;
    await ch.waitForConfirms().catch(() => {
      confirmsOk = false;
    });
    await waitFor(() => delivered.length === 2, 'two deliveries');
    const getQueue = `${queue}.get`;
    await ch.assertQueue(getQueue, { exclusive: true });
    ch.sendToQueue(getQueue, Buffer.from('to get'));
    await ch.waitForConfirms();
    let got: string | undefined;
    for (let i = 0; i < 100 && got === undefined; i++) {
      const m = await ch.get(getQueue);
      if (m) {
        got = m.content.toString();
        ch.ack(m);
      } else await sleep(10);
    }
    const failing = await conn.createChannel();
    let channelError = '';
    failing.on('error', (e: Error) => {
      channelError = e.message;
    });
    await failing.checkQueue(`${queue}.missing`).catch((e: Error) => {
      channelError ||= e.message;
    });
    await ch.close();
    return {
      delivered,
      got,
      largeLength: delivered.find((d) => d.body.startsWith('len:')) ? 1024 * 1024 : 0,
      channelError: channelError.replaceAll(queue, '<queue>'),
      confirmsOk,
    };
  } finally {
    await conn.close().catch(() => {});
  }
}

interface CloudamqpOutcome {
  received: string[];
  headers: unknown[];
  got: string | undefined;
  channelError: string;
}

/** One @cloudamqp/amqp-client session: exchange, bind, confirms, publishes with headers, 1 MB, consume/ack, get, a 404. */
async function cloudamqpSession({ username, password }: Target, port: number): Promise<CloudamqpOutcome> {
  const client = new AMQPClient(`amqp://${username}:${password}@127.0.0.1:${port}`);
  const conn = await client.connect();
  try {
    const ch = await conn.channel();
    const exchange = unique('cx');
    await ch.exchangeDeclare(exchange, 'topic', { autoDelete: true });
    const { name: queue } = await ch.queueDeclare(unique('cloudamqp'), { exclusive: true });
    await ch.queueBind(queue, exchange, 'work.#');
    await ch.confirmSelect();
    const bodies = Array.from({ length: 50 }, (_, i) => `message ${i}`);
    for (const [i, b] of bodies.entries())
      await ch.basicPublish(exchange, `work.${i}`, b, { contentType: 'text/plain', headers: { i, tag: 'x', nested: { ok: true } } });
    await ch.basicPublish(exchange, 'work.large', new Uint8Array(1024 * 1024).fill(9));
    const received: string[] = [];
    const headers: unknown[] = [];
    const consumer = await ch.basicConsume(queue, { noAck: false }, async (msg) => {
      const body = msg.body ?? new Uint8Array();
      received.push(body.length > 100 ? `len:${body.length}` : (msg.bodyToString() ?? ''));
      headers.push(msg.properties.headers ?? null);
      await msg.ack();
    });
    await waitFor(() => received.length === 51, 'all deliveries');
    await consumer.cancel();
    await ch.basicPublish('', queue, 'to get');
    let got: string | undefined;
    for (let i = 0; i < 100 && got === undefined; i++) {
      const m = await ch.basicGet(queue, { noAck: true });
      if (m) got = m.bodyToString() ?? undefined;
      else await sleep(10);
    }
    const failing = await conn.channel();
    const channelError = await failing.queueDeclare(`${queue}.missing`, { passive: true }).then(
      () => '',
      (e: Error) => e.message.replaceAll(queue, '<queue>'),
    );
    return { received, headers, got, channelError };
  } finally {
    await conn.close().catch(() => {});
  }
}

function suite(target: () => Target): void {
  const proxy = teedProxyFixture(target);
  const events = proxy.events;

  it('amqplib gets the same results through the proxy as directly, and the events tell the session', async () => {
    const direct = await amqplibSession(target(), target().port, unique('direct'), unique('x'));
    const before = events.length;
    const queue = unique('proxied');
    const proxied = await amqplibSession(target(), proxy.session().address.port, queue, unique('x'));
    expect(proxied).toEqual(direct);
    expect(proxied.delivered).toHaveLength(2);
    expect(proxied.got).toBe('to get');
    expect(proxied.channelError).toContain('404');

    await waitFor(() => events.slice(before).some((e) => e.kind === 'conn.close'), 'the connection to close');
    const mine = events.slice(before);
    const conn = mine.find((e) => e.kind === 'conn.open')!.conn;
    const names = methodFrames(mine, conn).map(nameOf);
    for (const expected of [
      'connection.start',
      'connection.start-ok',
      'connection.tune',
      'connection.tune-ok',
      'connection.open',
      'connection.open-ok',
      'channel.open',
      'confirm.select',
      'exchange.declare',
      'queue.declare',
      'queue.bind',
      'basic.consume',
      'basic.publish',
      'basic.deliver',
      'basic.ack',
      'basic.get',
      'basic.get-ok',
      'channel.close',
      'connection.close',
      'connection.close-ok',
    ]) {
      expect(names, expected).toContain(expected);
    }
    // no decode errors on a real session
    expect(mine.filter((e) => e.kind === 'decode.error')).toEqual([]);

    // messages as one unit: the publish with its properties, and the 1 MB one whole
    const messages = mine.filter((e): e is MessageEvent => e.kind === 'message' && e.conn === conn);
    const published = messages.filter((m) => m.method.name === 'basic.publish');
    expect(published.map((m) => m.body.length)).toEqual(expect.arrayContaining([7, 1024 * 1024, 6]));
    const json = published.find((m) => m.body.length === 7)!;
    expect(json.properties['content-type']).toBe('application/json');
    expect(json.properties['message-id']).toBe('m1');
    const deliveredLarge = messages.find((m) => m.method.name === 'basic.deliver' && m.body.length === 1024 * 1024)!;
    expect(deliveredLarge.frames.length).toBeGreaterThan(3);
    expect(deliveredLarge.body.every((b) => b === 7)).toBe(true);

    // request/reply pairing with round-trip times
    const declareOk = methodFrames(mine, conn).find((e) => nameOf(e) === 'queue.declare-ok')!;
    expect(declareOk.insight?.request?.name).toBe('queue.declare');
    expect(declareOk.insight!.request!.rttMicros).toBeGreaterThan(0);

    // the 404 names its cause
    const close404 = methodFrames(mine, conn).find((e) => nameOf(e) === 'channel.close' && e.dir === 's2c')!;
    expect(close404.insight?.error).toMatchObject({ replyCode: 404, replyName: 'NOT_FOUND', causeName: 'queue.declare' });

    // deliveries settled by the client's acks; confirms matched to publishes
    const acks = methodFrames(mine, conn).filter((e) => nameOf(e) === 'basic.ack' && e.dir === 'c2s');
    expect(acks.flatMap((a) => a.insight?.settles?.deliverySeqs ?? [])).toHaveLength(3);
    const confirmed = methodFrames(mine, conn)
      .filter((e) => nameOf(e) === 'basic.ack' && e.dir === 's2c')
      .flatMap((a) => a.insight?.confirms?.publishSeqs ?? []);
    expect(confirmed).toHaveLength(3);

    // the password is masked in every event, the user name kept
    const startOk = methodFrames(mine, conn).find((e) => nameOf(e) === 'connection.start-ok')!;
    expect(Buffer.from(startOk.raw).includes(Buffer.from(`\0${target().username}\0${'*'.repeat(target().password.length)}`))).toBe(true);
    expect(Buffer.from(startOk.raw).includes(Buffer.from(`${target().username}\0${target().password}`))).toBe(false);
  });

  it('@cloudamqp/amqp-client gets the same results through the proxy as directly, every byte forwarded exactly', async () => {
    const direct = await cloudamqpSession(target(), target().port);
    const before = events.length;
    const teeBefore = proxy.upstreamTee().connections.length;
    const proxied = await cloudamqpSession(target(), proxy.session().address.port);
    expect(proxied).toEqual(direct);
    expect(proxied.received).toHaveLength(51);
    expect(proxied.got).toBe('to get');
    expect(proxied.channelError).toMatch(/404/);

    await waitFor(() => events.slice(before).some((e) => e.kind === 'conn.close'), 'the connection to close');
    const mine = events.slice(before);
    const publishes = mine.filter((e): e is MessageEvent => e.kind === 'message' && e.method.name === 'basic.publish');
    expect(publishes.map((m) => m.body.length)).toContain(1024 * 1024);
    const small = publishes.filter((m) => m.body.length < 100).map((m) => Buffer.from(m.body).toString());
    expect(small.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `message ${i}`));
    expect(publishes[0]!.properties['headers']).toBeDefined();
    expect(mine.filter((e) => e.kind === 'decode.error')).toEqual([]);
    const close404 = methodFrames(mine).find((e) => nameOf(e) === 'channel.close' && e.dir === 's2c');
    expect(close404?.insight?.error?.replyCode).toBe(404);
    // bytes the proxy forwarded upstream equal the bytes of the frames it decoded
    const counts = proxy.upstreamTee().connections[teeBefore]!;
    const decodedBytes = { c2s: 0, s2c: 0 };
    for (const e of mine) {
      if (e.kind === 'frame' || e.kind === 'protocol-header') decodedBytes[e.dir] += e.raw.length;
    }
    expect(decodedBytes).toEqual({ c2s: counts.c2s.bytes, s2c: counts.s2c.bytes });
  });
}

describeAgainstBrokers('proxy in front of', suite);
