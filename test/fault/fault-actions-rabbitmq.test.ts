// Fault rules acted out by the real proxy between real clients (amqplib, @cloudamqp/amqp-client)
// and RabbitMQ: each client sees what RabbitMQ itself would send, goes on afterwards on a new
// channel or connection, and RabbitMQ is left holding nothing the client no longer has.

import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterEach, expect, it } from 'vitest';
import { startProxySession, type RunningSession } from '../../src/session/live-session.js';
import type { FrameEvent, MessageEvent, SpyEvent } from '../../src/events.js';
import { parseFaultRule } from '../../src/fault/fault-rule.js';
import { waitFor } from '../support/cli.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { rabbitStateOf } from '../support/rabbitmq-state.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Spy {
  readonly events: SpyEvent[];
  readonly notices: string[];
  readonly url: string;
  readonly session: RunningSession;
}

async function spyWith(rules: readonly string[]): Promise<Spy> {
  const { host, port, username, password } = rabbitAddress();
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host, port, tls: false },
    sinks: [(e) => events.push(e)],
    notice: (line) => notices.push(line),
    faults: rules.map((r) => parseFaultRule(r)),
  });
  cleanups.push(() => session.stop());
  return { events, notices, session, url: `amqp://${username}:${password}@127.0.0.1:${session.address.port}` };
}

/** A name no other test run uses. */
const unique = (what: string): string => `fault-${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

const frames = (events: readonly SpyEvent[], name: string): FrameEvent[] =>
  events.filter((e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === name);
const marks = (events: readonly SpyEvent[], name: string): string[] => frames(events, name).map((e) => `${e.dir} ${e.fault ?? 'real'}`);

async function amqplibConnect(
  url: string,
  name: string,
  options: { heartbeat?: number; capabilities?: Record<string, boolean> } = {},
): Promise<amqp.ChannelModel> {
  const connection = await amqp.connect(`${url}${options.heartbeat !== undefined ? `?heartbeat=${options.heartbeat}` : ''}`, {
    clientProperties: { connection_name: name, ...(options.capabilities ? { capabilities: options.capabilities } : {}) },
  });
  connection.on('error', () => {});
  cleanups.push(() => connection.close());
  return connection;
}

describeWithRabbitMQ('fault rules through the proxy', () => {
  it('close-channel=404 on a publish: amqplib gets RabbitMQ’s channel error, a new channel works, nothing leaks', async () => {
    const exchange = unique('orders');
    const spy = await spyWith([`close-channel=404 when method:basic.publish exchange:${exchange} times=1`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const setup = await connection.createChannel();
    await setup.assertExchange(exchange, 'fanout', { autoDelete: false, durable: false });
    const queue = (await setup.assertQueue('', { exclusive: true })).queue;
    await setup.bindQueue(queue, exchange, '');
    const channel = await connection.createChannel();
    const errors: (Error & { code?: number; classId?: number; methodId?: number })[] = [];
    channel.on('error', (error: Error) => errors.push(error));
    const closed = new Promise((resolve) => channel.once('close', resolve));
    channel.publish(exchange, 'rk', Buffer.from('lost'));
    await closed;
    expect(errors.map((e) => [e.code, e.classId, e.methodId, e.message])).toEqual([
      [404, 60, 40, `Channel closed by server: 404 (NOT-FOUND) with message "NOT_FOUND - no exchange '${exchange}' in vhost '/'"`],
    ]);
    // the rule fired once: the next publish goes through, on a channel that reuses the number
    const again = await connection.createChannel();
    again.publish(exchange, 'rk', Buffer.from('kept'));
    const got = await waitForMessage(setup, queue);
    expect(got).toBe('kept');
    await setup.close();
    const state = await rabbitStateOf(name);
    expect(state).toEqual({ connections: 1, channels: [2], consumers: 0 });
    // the client's conversation and the broker's, each consistent, marked where they differ
    expect(marks(spy.events, 'channel.close')).toEqual(['s2c injected', 'c2s injected', 'c2s real']);
    // the two swallowed close-oks cross: either may come first
    expect(marks(spy.events, 'channel.close-ok').sort()).toEqual(['c2s suppressed', 's2c real', 's2c suppressed']);
    const lost = spy.events.find((e): e is MessageEvent => e.kind === 'message' && Buffer.from(e.body).toString() === 'lost');
    expect(lost?.fault).toBe('suppressed');
    const injected = frames(spy.events, 'channel.close').find((e) => e.fault === 'injected' && e.dir === 's2c');
    expect(injected?.insight?.error).toMatchObject({ replyCode: 404, causeName: 'basic.publish' });
  });

  it('close-channel=406 on a basic.get: @cloudamqp/amqp-client’s call rejects with RabbitMQ’s words; the connection goes on', async () => {
    const queue = unique('jobs');
    const spy = await spyWith([`close-channel=406 when method:basic.get queue:${queue}`]);
    const name = unique('conn');
    const client = new AMQPClient(`${spy.url}?name=${name}`);
    const connection = await client.connect();
    cleanups.push(() => connection.close());
    const setup = await connection.channel();
    await setup.queueDeclare(queue, { exclusive: true });
    const channel = await connection.channel();
    await expect(channel.basicGet(queue)).rejects.toThrow(/PRECONDITION_FAILED - injected by amqp-spy/);
    expect(channel.closed).toBe(true);
    const fresh = await connection.channel();
    await fresh.basicPublish('', queue, 'hello');
    await setup.close();
    expect((await rabbitStateOf(name)).channels).toEqual([fresh.id]);
    expect(frames(spy.events, 'basic.get').map((e) => e.fault)).toEqual(['suppressed']);
  });

  it('close-channel on a consuming channel: the consumer goes with it upstream, its deliveries dropped meanwhile', async () => {
    const queue = unique('work');
    const spy = await spyWith([`close-channel=404 when method:basic.qos`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const setup = await connection.createChannel();
    await setup.assertQueue(queue, { durable: false, autoDelete: false });
    cleanups.push(() => amqpDeleteQueue(rabbitAddress(), queue));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.consume(queue, () => {});
    for (let i = 0; i < 20; i++) setup.sendToQueue(queue, Buffer.from(`m${i}`));
    const closed = new Promise((resolve) => channel.once('close', resolve));
    channel.prefetch(5).catch(() => {});
    await closed;
    await waitFor(() => frames(spy.events, 'channel.close-ok').some((e) => e.dir === 's2c' && e.fault === 'suppressed'), 'the broker’s close-ok');
    const state = await rabbitStateOf(name);
    expect(state).toEqual({ connections: 1, channels: [1], consumers: 0 });
    // every message is still there: delivered ones came back when the channel closed upstream
    const check = await setup.checkQueue(queue);
    expect(check.messageCount).toBe(20);
  });

  it('close-connection=320 at a consume: amqplib hears CONNECTION_FORCED, both sides close cleanly, a new connection works', async () => {
    const queue = unique('q');
    const spy = await spyWith([`close-connection=320 when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    // amqplib emits no 'error' for 320 (an operator's close is not fatal to it): its 'close' says why
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.assertQueue(queue, { exclusive: true });
    channel.consume(queue, () => {}).catch(() => {});
    const why = await closed;
    expect([why?.code, why?.message]).toEqual([
      320,
      'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - Closed via management plugin"',
    ]);
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the connection’s close');
    expect(marks(spy.events, 'connection.close')).toEqual(['s2c injected', 'c2s injected']);
    expect(marks(spy.events, 'connection.close-ok').sort()).toEqual(['c2s suppressed', 's2c suppressed']);
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.reason).toMatch(/^server closed the connection/);
    expect(await rabbitStateOf(name)).toEqual({ connections: 0, channels: [], consumers: 0 });
    // the rule stays armed for consumes, not for the rest: a new connection declares and publishes
    const next = await amqplibConnect(spy.url, unique('conn'));
    const channel2 = await next.createChannel();
    await channel2.assertQueue(queue, { exclusive: true });
    expect(channel2.sendToQueue(queue, Buffer.from('after'))).toBe(true);
  });

  it('nack: @cloudamqp/amqp-client sees the chosen publishes rejected, the others confirmed, acks with multiple split', async () => {
    const queue = unique('confirm');
    const spy = await spyWith([`nack when method:basic.publish rk:${queue} after=2 times=2`]);
    const name = unique('conn');
    const client = new AMQPClient(`${spy.url}?name=${name}`);
    const connection = await client.connect();
    cleanups.push(() => connection.close());
    const channel = await connection.channel();
    await channel.queueDeclare(queue, { exclusive: true });
    await channel.confirmSelect();
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        channel.basicPublish('', queue, `m${i}`).then(
          () => 'ack',
          (error: Error) => error.message,
        ),
      ),
    );
    expect(outcomes).toEqual(['ack', 'ack', 'Message rejected', 'Message rejected', 'ack', 'ack', 'ack', 'ack']);
    // the messages themselves reached the broker: a nack says only that the client is told so
    expect((await channel.queueDeclare(queue, { passive: true })).messageCount).toBe(8);
    const confirms = spy.events.filter(
      (e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method' && e.dir === 's2c' && /basic\.n?ack/.test(e.frame.method.name),
    );
    const injectedNacks = confirms.filter((e) => e.fault === 'injected' && e.frame.type === 'method' && e.frame.method.name === 'basic.nack');
    expect(injectedNacks.flatMap((e) => e.insight?.confirms?.publishSeqs ?? []).length).toBe(2);
    expect(confirms.every((e) => e.fault !== 'suppressed' || (e.frame.type === 'method' && e.frame.method.name === 'basic.ack'))).toBe(true);
  });

  it('nack with amqplib: the confirm callback gets an error for the chosen publish only', async () => {
    const queue = unique('confirm');
    const spy = await spyWith([`nack when method:basic.publish rk:${queue} times=1`]);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const results = await Promise.all(
      [0, 1, 2].map((i) => new Promise<string>((resolve) => channel.sendToQueue(queue, Buffer.from(`m${i}`), {}, (error) => resolve(error ? 'nack' : 'ack')))),
    );
    expect(results).toEqual(['nack', 'ack', 'ack']);
    await channel.waitForConfirms();
  });

  it('delay=300ms on one connection’s publishes: its confirms come late, another connection is not delayed', async () => {
    const slow = unique('slow');
    const fast = unique('fast');
    const spy = await spyWith([`delay=300ms when method:basic.publish rk:${slow}`]);
    const timed = async (queue: string): Promise<number> => {
      const connection = await amqplibConnect(spy.url, unique('conn'));
      const channel = await connection.createConfirmChannel();
      await channel.assertQueue(queue, { exclusive: true });
      const start = performance.now();
      await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from('x'), {}, (error) => (error ? reject(error) : resolve())));
      return performance.now() - start;
    };
    const [slowMs, fastMs] = await Promise.all([timed(slow), timed(fast)]);
    expect(slowMs).toBeGreaterThanOrEqual(290);
    expect(fastMs).toBeLessThan(250);
  });

  it('rate=50KB/s on deliveries: a 200 KB message takes about 4 s to reach the consumer, publishing is not slowed', async () => {
    const queue = unique('big');
    const spy = await spyWith(['rate=50KB/s when dir:s2c method:basic.deliver']);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const body = Buffer.alloc(200_000, 7);
    const published = performance.now();
    await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, body, {}, (error) => (error ? reject(error) : resolve())));
    expect(performance.now() - published).toBeLessThan(1000);
    const start = performance.now();
    const got = await new Promise<number>((resolve) => {
      channel.consume(queue, (message) => resolve(message?.content.length ?? 0), { noAck: true });
    });
    const took = performance.now() - start;
    expect(got).toBe(200_000);
    expect(took).toBeGreaterThan(3500);
    expect(took).toBeLessThan(6000);
  }, 15_000);

  it('drop-heartbeats from the broker: amqplib’s heartbeat timeout fires', async () => {
    const spy = await spyWith(['drop-heartbeats when dir:s2c']);
    const connection = await amqplibConnect(spy.url, unique('conn'), { heartbeat: 1 });
    const error = await new Promise<Error>((resolve) => connection.on('error', resolve));
    expect(error.message).toMatch(/Heartbeat timeout/);
    expect(spy.events.some((e) => e.kind === 'frame' && e.frame.type === 'heartbeat' && e.fault === 'suppressed' && e.dir === 's2c')).toBe(true);
  }, 15_000);

  it('drop-heartbeats from the client: RabbitMQ closes the connection for missed heartbeats', async () => {
    const spy = await spyWith(['drop-heartbeats when dir:c2s']);
    const name = unique('conn');
    const client = new AMQPClient(`${spy.url}?name=${name}&heartbeat=1`);
    const connection = await client.connect();
    cleanups.push(() => connection.close());
    await waitFor(() => connection.closed, 'the connection closed by RabbitMQ', 12_000);
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.reason).toMatch(/server/);
    expect(spy.events.some((e) => e.kind === 'frame' && e.frame.type === 'heartbeat' && e.fault === 'suppressed' && e.dir === 'c2s')).toBe(true);
  }, 20_000);

  it('cut after-bytes=1000 into a delivery: amqplib sees the socket end mid-message, RabbitMQ requeues it and keeps nothing', async () => {
    const queue = unique('cut');
    const spy = await spyWith([`cut after-bytes=1000 when method:basic.deliver rk:${queue}`]);
    const address = rabbitAddress();
    const direct = await amqp.connect(`amqp://${address.username}:${address.password}@${address.host}:${address.port}`);
    cleanups.push(() => direct.close());
    const admin = await direct.createChannel();
    await admin.assertQueue(queue, { durable: false, autoDelete: false });
    cleanups.push(() => admin.deleteQueue(queue));
    admin.sendToQueue(queue, Buffer.alloc(50_000, 1));
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    let delivered = 0;
    await channel.consume(queue, () => delivered++);
    const why = await closed;
    expect(why?.message).toMatch(/Unexpected close/);
    expect(delivered).toBe(0);
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const truncated = spy.events.find((e) => e.kind === 'decode.error' && e.dir === 's2c');
    expect(truncated?.kind === 'decode.error' && truncated.error.code).toBe('truncated');
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.reason).toMatch(/proxy/);
    for (let i = 0; i < 50 && (await rabbitStateOf(name)).connections > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await rabbitStateOf(name)).toEqual({ connections: 0, channels: [], consumers: 0 });
    expect((await admin.checkQueue(queue)).messageCount).toBe(1);
  });

  it('reset at a publish: @cloudamqp/amqp-client’s connection fails, RabbitMQ drops it, the publish never arrives', async () => {
    const queue = unique('reset');
    const spy = await spyWith([`reset when method:basic.publish rk:${queue}`]);
    const name = unique('conn');
    const client = new AMQPClient(`${spy.url}?name=${name}`);
    const connection = await client.connect();
    const channel = await connection.channel();
    await channel.queueDeclare(queue, { durable: false, autoDelete: false });
    cleanups.push(async () => {
      const address = rabbitAddress();
      const direct = await amqp.connect(`amqp://${address.username}:${address.password}@${address.host}:${address.port}`);
      await (await direct.createChannel()).deleteQueue(queue);
      await direct.close();
    });
    await channel.basicPublish('', queue, 'never').catch(() => {});
    await waitFor(() => connection.closed, 'the client to see its connection fail');
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.socket).toMatchObject({ by: 'proxy', how: 'reset' });
    for (let i = 0; i < 50 && (await rabbitStateOf(name)).connections > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await rabbitStateOf(name)).toEqual({ connections: 0, channels: [], consumers: 0 });
    const other = await amqplibConnect(rabbitUrl(), unique('conn'));
    expect((await (await other.createChannel()).checkQueue(queue)).messageCount).toBe(0);
  });

  it('block=1s: amqplib hears blocked and unblocked, its publish meanwhile is held; another connection is not', async () => {
    const queue = unique('blocked');
    const spy = await spyWith([`block=1s when method:queue.declare queue:${queue} times=1`]);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const heard: string[] = [];
    connection.on('blocked', (reason: string) => heard.push(`blocked: ${reason}`));
    connection.on('unblocked', () => heard.push('unblocked'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const confirmed = (ch: amqp.ConfirmChannel, q: string) =>
      new Promise<void>((resolve, reject) => ch.sendToQueue(q, Buffer.from('x'), {}, (error) => (error ? reject(error) : resolve())));
    const other = await (await amqplibConnect(spy.url, unique('conn'))).createConfirmChannel();
    const otherQueue = (await other.assertQueue('', { exclusive: true })).queue;
    const start = performance.now();
    const held = confirmed(channel, queue).then(() => performance.now() - start);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const otherStart = performance.now();
    await confirmed(other, otherQueue);
    expect(performance.now() - otherStart).toBeLessThan(500);
    expect(await held).toBeGreaterThan(800);
    expect(heard).toEqual(['blocked: low on memory', 'unblocked']);
    // as RabbitMQ, the proxy reads no more of a blocked client: its publish reaches the broker,
    // and the events, after connection.unblocked
    const publish = spy.events.find((e): e is MessageEvent => e.kind === 'message' && e.method.name === 'basic.publish' && e.conn === 1);
    expect(publish?.seq).toBeGreaterThan(frames(spy.events, 'connection.unblocked')[0]!.seq);
    expect(marks(spy.events, 'connection.blocked')).toEqual(['s2c injected']);
    expect(marks(spy.events, 'connection.unblocked')).toEqual(['s2c injected']);
  });

  it('block a client that did not announce connection.blocked: one notice, its publish held all the same', async () => {
    const queue = unique('blocked');
    const spy = await spyWith([`block=500ms when method:basic.publish rk:${queue}`]);
    const connection = await amqplibConnect(spy.url, unique('conn'), { capabilities: { publisher_confirms: true } });
    let told = false;
    connection.on('blocked', () => (told = true));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const start = performance.now();
    await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from('x'), {}, (error) => (error ? reject(error) : resolve())));
    expect(performance.now() - start).toBeGreaterThan(450);
    expect(told).toBe(false);
    expect(spy.notices).toEqual([
      `connection 1 (amqplib) did not announce the connection.blocked capability: fault rule 'block=500ms when method:basic.publish rk:${queue}' blocks it without telling it (its publishes are held all the same)`,
    ]);
    expect(frames(spy.events, 'connection.blocked')).toEqual([]);
  });

  it('block until an unblock rule fires (here: at the broker’s next heartbeat)', async () => {
    const queue = unique('blocked');
    const spy = await spyWith([`block when method:queue.declare queue:${queue}`, 'unblock when dir:s2c method:heartbeat']);
    const connection = await amqplibConnect(spy.url, unique('conn'), { heartbeat: 1 });
    const heard: string[] = [];
    connection.on('blocked', () => heard.push('blocked'));
    connection.on('unblocked', () => heard.push('unblocked'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from('x'), {}, (error) => (error ? reject(error) : resolve())));
    expect(heard).toEqual(['blocked', 'unblocked']);
    const unblocked = frames(spy.events, 'connection.unblocked')[0]!;
    // the heartbeat that unblocked it comes right after, forwarded as it was
    const next = spy.events.find((e) => e.seq > unblocked.seq && e.kind === 'frame' && e.dir === 's2c');
    expect(next?.kind === 'frame' && [next.frame.type, next.fault]).toEqual(['heartbeat', undefined]);
  }, 10_000);

  it('cancel-consumer at a delivery: amqplib’s consumer hears the cancel after that message, RabbitMQ keeps no consumer and requeues what was in flight', async () => {
    const queue = unique('cancel');
    const spy = await spyWith([`cancel-consumer when method:basic.deliver rk:${queue} times=1`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    cleanups.push(async () => {
      const other = await amqplibConnect(rabbitUrl(), unique('conn'));
      await (await other.createChannel()).deleteQueue(queue);
    });
    for (let i = 0; i < 5; i++) channel.sendToQueue(queue, Buffer.alloc(1000, i));
    await channel.checkQueue(queue);
    const got: (string | null)[] = [];
    const cancelled = new Promise<void>((resolve) => {
      channel.consume(queue, (message) => {
        if (message === null) {
          got.push(null);
          resolve();
          return;
        }
        got.push(String(message.content[0]));
        channel.ack(message);
      });
    });
    await cancelled;
    expect(got).toEqual(['0', null]);
    await waitFor(() => frames(spy.events, 'basic.cancel-ok').some((e) => e.fault === 'suppressed'), 'the broker’s cancel-ok');
    expect(await rabbitStateOf(name)).toEqual({ connections: 1, channels: [1], consumers: 0 });
    // the four in flight went back to the queue (rejected upstream with requeue), none lost or stuck unacked
    let ready = 0;
    for (let i = 0; i < 50 && ready < 4; i++) {
      ready = (await channel.checkQueue(queue)).messageCount;
      if (ready < 4) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ready).toBe(4);
    expect(marks(spy.events, 'basic.cancel')).toEqual(['c2s injected', 's2c injected']);
    // the channel goes on: a new consumer gets the four
    const rest: string[] = [];
    await channel.consume(queue, (message) => message && rest.push(String(message.content[0])), { noAck: true });
    await waitFor(() => rest.length === 4, 'the requeued messages');
    expect(rest.sort()).toEqual(['1', '2', '3', '4']);
  });

  it('cancel-consumer at the consume: @cloudamqp/amqp-client’s consumer is told, and no consumer stays upstream', async () => {
    const queue = unique('cancel');
    const spy = await spyWith([`cancel-consumer when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const client = new AMQPClient(`${spy.url}?name=${name}`);
    const connection = await client.connect();
    cleanups.push(() => connection.close());
    const channel = await connection.channel();
    await channel.queueDeclare(queue, { exclusive: true });
    const consumer = await channel.basicConsume(queue, { noAck: true }, () => {});
    await expect(consumer.wait(5000)).rejects.toThrow('Consumer cancelled by the server');
    await waitFor(() => frames(spy.events, 'basic.cancel-ok').some((e) => e.fault === 'suppressed'), 'the broker’s cancel-ok');
    expect(await rabbitStateOf(name)).toEqual({ connections: 1, channels: [channel.id], consumers: 0 });
  });

  it('cancel-consumer on a client without consumer_cancel_notify: one notice, the consumer cancelled upstream all the same', async () => {
    const queue = unique('cancel');
    const spy = await spyWith([`cancel-consumer when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name, { capabilities: { publisher_confirms: true } });
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const { consumerTag } = await channel.consume(queue, () => {}, { noAck: true });
    await waitFor(() => frames(spy.events, 'basic.cancel-ok').some((e) => e.fault === 'suppressed'), 'the broker’s cancel-ok');
    expect(spy.notices).toEqual([
      `connection 1 (amqplib) did not announce the consumer_cancel_notify capability: its consumer ${consumerTag} on channel 1 is cancelled without telling it`,
    ]);
    expect(marks(spy.events, 'basic.cancel')).toEqual(['c2s injected']);
    expect(await rabbitStateOf(name)).toEqual({ connections: 1, channels: [1], consumers: 0 });
  });
});

function rabbitUrl(): string {
  const address = rabbitAddress();
  return `amqp://${address.username}:${address.password}@${address.host}:${address.port}`;
}

async function waitForMessage(channel: amqp.Channel, queue: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const message = await channel.get(queue, { noAck: true });
    if (message !== false) return message.content.toString();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing came to ${queue}`);
}

async function amqpDeleteQueue(address: { host: string; port: number; username: string; password: string }, queue: string): Promise<void> {
  const connection = await amqp.connect(`amqp://${address.username}:${address.password}@${address.host}:${address.port}`);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(queue);
  } finally {
    await connection.close();
  }
}
