// Fault rules acted out by the built-in broker itself (no proxy, no RabbitMQ) between real
// clients (amqplib, @cloudamqp/amqp-client): each client sees what it sees for the same rule
// through the proxy in front of RabbitMQ (fault-actions-rabbitmq.test.ts), goes on afterwards on
// a new channel or connection, and the broker keeps every message and no consumer it should not.

import { AMQPClient } from '@cloudamqp/amqp-client';
import net from 'node:net';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningBroker } from '../../src/broker/broker-server.js';
import { tableGet } from '../../src/decoder/field-table.js';
import type { FrameEvent, SpyEvent } from '../../src/events.js';
import { parseFaultRule } from '../../src/fault/fault-rule.js';
import { startStandaloneSession, type StandaloneSession } from '../../src/session/live-session.js';
import { RawClient } from '../broker/raw-client.js';
import { waitFor } from '../support/cli.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Spy {
  readonly events: SpyEvent[];
  readonly notices: string[];
  readonly url: string;
  readonly session: StandaloneSession;
  readonly broker: RunningBroker;
}

async function brokerWith(rules: readonly string[]): Promise<Spy> {
  const events: SpyEvent[] = [];
  const notices: string[] = [];
  const session = await startStandaloneSession({
    listen: { host: '127.0.0.1', port: 0 },
    sinks: [(e) => events.push(e)],
    notice: (line) => notices.push(line),
    faults: rules.map((r) => parseFaultRule(r)),
  });
  cleanups.push(() => session.stop());
  // the session's fault control is the running broker itself
  const broker = session.faultControl as RunningBroker;
  return { events, notices, session, broker, url: `amqp://guest:guest@127.0.0.1:${session.address.port}` };
}

/** What the broker holds for the connection its client named so: open channels and consumers. */
function brokerStateOf(broker: RunningBroker, name: string): { connections: number; channels: number[]; consumers: number } {
  const ours = [...broker.connections()].filter((c) => {
    const value = c.clientProperties === undefined ? undefined : tableGet(c.clientProperties, 'connection_name');
    return value !== undefined && Buffer.from(value.value as string | Uint8Array).toString() === name;
  });
  const channels = ours.flatMap((c) => [...c.channelList()].filter((ch) => !ch.closing));
  return {
    connections: ours.length,
    channels: channels.map((ch) => ch.id).sort((a, b) => a - b),
    consumers: channels.reduce((n, ch) => n + [...ch.consumerList()].length, 0),
  };
}

let counter = 0;
const unique = (what: string): string => `${what}-${++counter}`;

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

async function cloudConnect(url: string, name: string, query = ''): Promise<Awaited<ReturnType<AMQPClient['connect']>>> {
  const connection = await new AMQPClient(`${url}?name=${name}${query}`).connect();
  cleanups.push(() => connection.close());
  return connection;
}

async function messageCount(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

describe('fault rules acted out by the built-in broker', () => {
  it('close-channel=404 on a publish: amqplib gets RabbitMQ’s channel error, the message is not enqueued, a new channel works', async () => {
    const exchange = unique('orders');
    const spy = await brokerWith([`close-channel=404 when method:basic.publish exchange:${exchange} times=1`]);
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
    const again = await connection.createChannel();
    again.publish(exchange, 'rk', Buffer.from('kept'));
    expect(await waitForMessage(setup, queue)).toBe('kept');
    expect((await setup.checkQueue(queue)).messageCount).toBe(0);
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 1, channels: [1, 2], consumers: 0 });
    // the broker made the close: marked; the client's close-ok is real (the broker got it)
    expect(marks(spy.events, 'channel.close')).toEqual(['s2c injected']);
    expect(marks(spy.events, 'channel.close-ok')).toEqual(['c2s real']);
    const injected = frames(spy.events, 'channel.close')[0]!;
    expect(injected.insight?.error).toMatchObject({ replyCode: 404, causeName: 'basic.publish' });
  });

  it('close-channel=406 on a basic.get: @cloudamqp/amqp-client’s call rejects with the same words; the connection goes on', async () => {
    const queue = unique('jobs');
    const spy = await brokerWith([`close-channel=406 when method:basic.get queue:${queue}`]);
    const name = unique('conn');
    const connection = await cloudConnect(spy.url, name);
    const setup = await connection.channel();
    await setup.queueDeclare(queue, { exclusive: true });
    const channel = await connection.channel();
    await expect(channel.basicGet(queue)).rejects.toThrow(/PRECONDITION_FAILED - injected by amqp-spy/);
    expect(channel.closed).toBe(true);
    const fresh = await connection.channel();
    await fresh.basicPublish('', queue, 'hello');
    await setup.close();
    expect(brokerStateOf(spy.broker, name).channels).toEqual([fresh.id]);
  });

  it('close-channel on a consuming channel: its unacked deliveries go back to the queue, none lost', async () => {
    const queue = unique('work');
    const spy = await brokerWith(['close-channel=404 when method:basic.qos']);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const setup = await connection.createChannel();
    await setup.assertQueue(queue, { durable: false, autoDelete: false });
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    let delivered = 0;
    await channel.consume(queue, () => delivered++);
    for (let i = 0; i < 20; i++) setup.sendToQueue(queue, Buffer.from(`m${i}`));
    await waitFor(() => delivered === 20, 'the deliveries');
    const closed = new Promise((resolve) => channel.once('close', resolve));
    channel.prefetch(5).catch(() => {});
    await closed;
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 1, channels: [1], consumers: 0 });
    expect((await setup.checkQueue(queue)).messageCount).toBe(20);
  });

  it('close-connection=320 at a consume: amqplib hears CONNECTION_FORCED, a new connection works', async () => {
    const queue = unique('q');
    const spy = await brokerWith([`close-connection=320 when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    await channel.sendToQueue(queue, Buffer.from('waiting'));
    channel.consume(queue, () => {}).catch(() => {});
    const why = await closed;
    expect([why?.code, why?.message]).toEqual([
      320,
      'Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - Closed via management plugin"',
    ]);
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the connection’s close');
    expect(marks(spy.events, 'connection.close')).toEqual(['s2c injected']);
    expect(marks(spy.events, 'connection.close-ok')).toEqual(['c2s real']);
    expect(brokerStateOf(spy.broker, name).connections).toBe(0);
    const next = await amqplibConnect(spy.url, unique('conn'));
    const channel2 = await next.createChannel();
    expect((await channel2.checkQueue(queue)).messageCount).toBe(1);
  });

  it('nack: @cloudamqp/amqp-client sees the chosen publishes rejected, the others confirmed; nacked ones are not enqueued', async () => {
    const queue = unique('confirm');
    const spy = await brokerWith([`nack when method:basic.publish rk:${queue} after=2 times=2`]);
    const connection = await cloudConnect(spy.url, unique('conn'));
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
    // a nack from the broker means the message is not there: never half-routed
    expect((await channel.queueDeclare(queue, { passive: true })).messageCount).toBe(6);
    const nacks = frames(spy.events, 'basic.nack');
    expect(nacks.map((e) => `${e.dir} ${e.fault}`)).toEqual(['s2c injected', 's2c injected']);
    expect(nacks.flatMap((e) => e.insight?.confirms?.publishSeqs ?? []).length).toBe(2);
  });

  it('nack with amqplib: the confirm callback gets an error for the chosen publish only', async () => {
    const queue = unique('confirm');
    const spy = await brokerWith([`nack when method:basic.publish rk:${queue} times=1`]);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const results = await Promise.all(
      [0, 1, 2].map((i) => new Promise<string>((resolve) => channel.sendToQueue(queue, Buffer.from(`m${i}`), {}, (error) => resolve(error ? 'nack' : 'ack')))),
    );
    expect(results).toEqual(['nack', 'ack', 'ack']);
    expect((await channel.checkQueue(queue)).messageCount).toBe(2);
  });

  it('delay=300ms on one connection’s publishes: its confirms come late, another connection is not delayed', async () => {
    const slow = unique('slow');
    const fast = unique('fast');
    const spy = await brokerWith([`delay=300ms when method:basic.publish rk:${slow}`]);
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

  it('delay=400ms on one queue’s deliveries: that consumer gets them late, another connection’s consumer does not', async () => {
    const slow = unique('slowdeliver');
    const fast = unique('fastdeliver');
    const spy = await brokerWith([`delay=400ms when dir:s2c method:basic.deliver rk:${slow}`]);
    const timed = async (queue: string): Promise<number> => {
      const channel = await (await amqplibConnect(spy.url, unique('conn'))).createChannel();
      await channel.assertQueue(queue, { exclusive: true });
      const got = new Promise<number>((resolve) => channel.consume(queue, () => resolve(performance.now()), { noAck: true }));
      await channel.checkQueue(queue);
      const start = performance.now();
      channel.sendToQueue(queue, Buffer.from('x'));
      return (await got) - start;
    };
    const [slowMs, fastMs] = await Promise.all([timed(slow), timed(fast)]);
    expect(slowMs).toBeGreaterThanOrEqual(390);
    expect(fastMs).toBeLessThan(200);
  });

  it('rate=50KB/s on deliveries: a 200 KB message takes about 4 s to reach the consumer, publishing is not slowed', async () => {
    const queue = unique('big');
    const spy = await brokerWith(['rate=50KB/s when dir:s2c method:basic.deliver']);
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
    const spy = await brokerWith(['drop-heartbeats when dir:s2c']);
    const connection = await amqplibConnect(spy.url, unique('conn'), { heartbeat: 1 });
    const error = await new Promise<Error>((resolve) => connection.on('error', resolve));
    expect(error.message).toMatch(/Heartbeat timeout/);
    expect(spy.events.some((e) => e.kind === 'frame' && e.frame.type === 'heartbeat' && e.fault === 'suppressed' && e.dir === 's2c')).toBe(true);
  }, 15_000);

  it('drop-heartbeats from the client: the broker closes the connection for missed heartbeats', async () => {
    const spy = await brokerWith(['drop-heartbeats when dir:c2s']);
    // amqplib: it sends heartbeats of its own and gives up only after two silent intervals,
    // while the broker's keep coming. (@cloudamqp/amqp-client only echoes the broker's and gives
    // up after one interval of silence, which under load can come before the broker's timeout.)
    const connection = await amqplibConnect(spy.url, unique('conn'), { heartbeat: 1 });
    const closed = new Promise<void>((resolve) => connection.once('close', () => resolve()));
    await closed;
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.reason).toMatch(/missed heartbeats/);
    expect(spy.events.some((e) => e.kind === 'frame' && e.frame.type === 'heartbeat' && e.fault === 'suppressed' && e.dir === 'c2s')).toBe(true);
  }, 20_000);

  it('cut after-bytes=1000 into a delivery: amqplib sees the socket end mid-message, the broker requeues it', async () => {
    const queue = unique('cut');
    const spy = await brokerWith([`cut after-bytes=1000 when method:basic.deliver rk:${queue}`]);
    const admin = await (await amqplibConnect(spy.url, unique('admin'))).createChannel();
    await admin.assertQueue(queue, { durable: false, autoDelete: false });
    admin.sendToQueue(queue, Buffer.alloc(50_000, 1));
    await admin.checkQueue(queue);
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
    await waitFor(() => spy.events.filter((e) => e.kind === 'conn.close').length > 0, 'the close event');
    const truncated = spy.events.find((e) => e.kind === 'decode.error' && e.dir === 's2c');
    expect(truncated?.kind === 'decode.error' && truncated.error.code).toBe('truncated');
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 0, channels: [], consumers: 0 });
    expect((await admin.checkQueue(queue)).messageCount).toBe(1);
  });

  it('reset at a publish: @cloudamqp/amqp-client’s connection fails, the publish never arrives', async () => {
    const queue = unique('reset');
    const spy = await brokerWith([`reset when method:basic.publish rk:${queue}`]);
    const name = unique('conn');
    const connection = await cloudConnect(spy.url, name);
    const channel = await connection.channel();
    await channel.queueDeclare(queue, { durable: false, autoDelete: false });
    await channel.basicPublish('', queue, 'never').catch(() => {});
    await waitFor(() => connection.closed, 'the client to see its connection fail');
    await waitFor(() => spy.events.some((e) => e.kind === 'conn.close'), 'the close event');
    const close = spy.events.find((e) => e.kind === 'conn.close');
    expect(close?.kind === 'conn.close' && close.socket).toMatchObject({ by: 'server', how: 'reset' });
    expect(brokerStateOf(spy.broker, name).connections).toBe(0);
    expect(await messageCount(spy.url, queue)).toBe(0);
  });

  it('block=1s: amqplib hears blocked and unblocked, its publish meanwhile is held; another connection is not', async () => {
    const queue = unique('blocked');
    const spy = await brokerWith([`block=1s when method:queue.declare queue:${queue} times=1`]);
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
    expect(marks(spy.events, 'connection.blocked')).toEqual(['s2c injected']);
    expect(marks(spy.events, 'connection.unblocked')).toEqual(['s2c injected']);
    expect((await channel.checkQueue(queue)).messageCount).toBe(1);
  });

  it('block a client that did not announce connection.blocked: one notice, its publish held all the same', async () => {
    const queue = unique('blocked');
    const spy = await brokerWith([`block=500ms when method:basic.publish rk:${queue}`]);
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
    const spy = await brokerWith([`block when method:queue.declare queue:${queue}`, 'unblock when dir:s2c method:heartbeat']);
    const connection = await amqplibConnect(spy.url, unique('conn'), { heartbeat: 1 });
    const heard: string[] = [];
    connection.on('blocked', () => heard.push('blocked'));
    connection.on('unblocked', () => heard.push('unblocked'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    await new Promise<void>((resolve, reject) => channel.sendToQueue(queue, Buffer.from('x'), {}, (error) => (error ? reject(error) : resolve())));
    expect(heard).toEqual(['blocked', 'unblocked']);
    const unblocked = frames(spy.events, 'connection.unblocked')[0]!;
    const next = spy.events.find((e) => e.seq > unblocked.seq && e.kind === 'frame' && e.dir === 's2c');
    expect(next?.kind === 'frame' && [next.frame.type, next.fault]).toEqual(['heartbeat', undefined]);
  }, 10_000);

  it('cancel-consumer at a delivery: amqplib’s consumer hears the cancel after that message; what was in flight goes back to the queue', async () => {
    const queue = unique('cancel');
    const spy = await brokerWith([`cancel-consumer when method:basic.deliver rk:${queue} times=1`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name);
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
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
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 1, channels: [1], consumers: 0 });
    expect((await channel.checkQueue(queue)).messageCount).toBe(4);
    expect(marks(spy.events, 'basic.cancel')).toEqual(['s2c injected']);
    const rest: string[] = [];
    await channel.consume(queue, (message) => message && rest.push(String(message.content[0])), { noAck: true });
    await waitFor(() => rest.length === 4, 'the requeued messages');
    expect(rest.sort()).toEqual(['1', '2', '3', '4']);
  });

  it('cancel-consumer at the consume: @cloudamqp/amqp-client’s consumer is told, and no consumer stays', async () => {
    const queue = unique('cancel');
    const spy = await brokerWith([`cancel-consumer when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const connection = await cloudConnect(spy.url, name);
    const channel = await connection.channel();
    await channel.queueDeclare(queue, { exclusive: true });
    const consumer = await channel.basicConsume(queue, { noAck: true }, () => {});
    await expect(consumer.wait(15_000)).rejects.toThrow('Consumer cancelled by the server');
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 1, channels: [channel.id], consumers: 0 });
  });

  it('cancel-consumer on a client without consumer_cancel_notify: one notice, the consumer cancelled all the same', async () => {
    const queue = unique('cancel');
    const spy = await brokerWith([`cancel-consumer when method:basic.consume queue:${queue}`]);
    const name = unique('conn');
    const connection = await amqplibConnect(spy.url, name, { capabilities: { publisher_confirms: true } });
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const { consumerTag } = await channel.consume(queue, () => {}, { noAck: true });
    await waitFor(() => spy.notices.length > 0, 'the notice');
    expect(spy.notices).toEqual([
      `connection 1 (amqplib) did not announce the consumer_cancel_notify capability: its consumer ${consumerTag} on channel 1 is cancelled without telling it`,
    ]);
    expect(frames(spy.events, 'basic.cancel')).toEqual([]);
    expect(brokerStateOf(spy.broker, name)).toEqual({ connections: 1, channels: [1], consumers: 0 });
  });

  it('cancel-consumer at a consume with nowait (no consume-ok): the consumer it names is cancelled', async () => {
    const spy = await brokerWith(['cancel-consumer when method:basic.consume queue:nowait-q']);
    const client = await RawClient.connect(spy.session.address.port);
    cleanups.push(async () => client.destroy());
    await client.open();
    await client.openChannel(1);
    client.send(1, 'queue.declare', { queue: 'nowait-q', exclusive: true });
    await client.expectMethod('queue.declare-ok');
    client.send(1, 'basic.consume', { queue: 'nowait-q', 'consumer-tag': 'mine', nowait: true });
    const cancel = await client.expectMethod('basic.cancel');
    expect(cancel.args['consumer-tag']).toBe('mine');
    const [connection] = [...spy.broker.connections()];
    expect([...connection!.channel(1)!.consumerList()]).toEqual([]);
  });

  it('rules armed and disarmed while clients are connected (the control interface)', async () => {
    const queue = unique('live');
    const spy = await brokerWith([]);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { exclusive: true });
    const send = () => new Promise<string>((resolve) => channel.sendToQueue(queue, Buffer.from('x'), {}, (error) => resolve(error ? 'nack' : 'ack')));
    expect(await send()).toBe('ack');
    const watched = () => [...spy.broker.connections()].map((c) => c.output.stage !== undefined);
    expect(watched()).toEqual([false]);
    const [added] = spy.broker.add([parseFaultRule(`nack when rk:${queue}`)]);
    const id = added!.id;
    // the connections open now watch their frames from the next one on
    expect(watched()).toEqual([true]);
    expect(await send()).toBe('nack');
    expect(spy.broker.list()).toEqual([{ id, rule: `nack when rk:${queue}`, state: 'armed', matches: 1, fired: 1, timesLeft: null }]);
    expect(spy.broker.remove(id)).toBe(true);
    expect(spy.broker.remove(id)).toBe(false);
    expect(await send()).toBe('ack');
    expect(spy.broker.list()).toEqual([]);
    // with no rule left and nothing held, the connection is back on its usual paths
    expect(watched()).toEqual([false]);
    expect((await channel.checkQueue(queue)).messageCount).toBe(2);
  });
});

async function waitForMessage(channel: amqp.Channel, queue: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const message = await channel.get(queue, { noAck: true });
    if (message !== false) return message.content.toString();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing came to ${queue}`);
}

describe('fault rules acted out by the built-in broker: the other client of each pair', () => {
  it('close-connection=320: @cloudamqp/amqp-client’s connection fails with CONNECTION_FORCED', async () => {
    const spy = await brokerWith(['close-connection=320 when method:queue.declare queue:forced-cloud']);
    const connection = await cloudConnect(spy.url, unique('conn'));
    const errors: string[] = [];
    connection.onerror = (error) => errors.push(error.message);
    const channel = await connection.channel();
    await expect(channel.queueDeclare('forced-cloud')).rejects.toThrow(/CONNECTION_FORCED - Closed via management plugin/);
    await waitFor(() => connection.closed, 'the connection to close');
    expect(errors.join()).toMatch(/CONNECTION_FORCED - Closed via management plugin \(320\)/);
    const next = await cloudConnect(spy.url, unique('conn'));
    await (await next.channel()).queueDeclare('ok', { exclusive: true });
  });

  it('block=500ms, then unblocked: @cloudamqp/amqp-client hears both and refuses to publish meanwhile', async () => {
    const spy = await brokerWith(['block=500ms when method:queue.declare queue:block-cloud times=1']);
    const connection = await cloudConnect(spy.url, unique('conn'));
    const heard: string[] = [];
    connection.onblocked = (reason) => heard.push(`blocked: ${reason}`);
    connection.onunblocked = () => heard.push('unblocked');
    const channel = await connection.channel();
    await channel.queueDeclare('block-cloud', { exclusive: true });
    await channel.confirmSelect();
    // this client does not queue publishes while blocked: it rejects them
    await waitFor(() => connection.blocked !== undefined, 'connection.blocked');
    await expect(channel.basicPublish('', 'block-cloud', 'x')).rejects.toThrow('Connection blocked by server: low on memory');
    await waitFor(() => heard.length === 2, 'connection.unblocked');
    expect(heard).toEqual(['blocked: low on memory', 'unblocked']);
    await channel.basicPublish('', 'block-cloud', 'y');
    expect((await channel.queueDeclare('block-cloud', { passive: true })).messageCount).toBe(1);
  });

  it('cut at a delivery: @cloudamqp/amqp-client’s connection ends; the message goes back to its queue', async () => {
    const spy = await brokerWith(['cut when method:basic.deliver rk:cut-cloud']);
    const connection = await cloudConnect(spy.url, unique('conn'));
    const channel = await connection.channel();
    await channel.queueDeclare('cut-cloud', { durable: false, autoDelete: false });
    await channel.basicPublish('', 'cut-cloud', 'again');
    await channel.basicConsume('cut-cloud', { noAck: false }, () => {});
    await waitFor(() => connection.closed, 'the connection to end');
    expect(await messageCount(spy.url, 'cut-cloud')).toBe(1);
  });

  it('reset at a publish: amqplib’s connection fails, the publish never arrives', async () => {
    const spy = await brokerWith(['reset when method:basic.publish rk:reset-lib']);
    const connection = await amqplibConnect(spy.url, unique('conn'));
    const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    await channel.assertQueue('reset-lib', { durable: false, autoDelete: false });
    channel.sendToQueue('reset-lib', Buffer.from('never'));
    expect((await closed)?.message).toMatch(/ECONNRESET|Unexpected close/);
    expect(await messageCount(spy.url, 'reset-lib')).toBe(0);
  });
});

describe('fault rules on the built-in broker: bounds', () => {
  it('a client flooding tiny frames while a delay rule holds its input is no longer read (held bytes bounded)', { timeout: 10_000 }, async () => {
    const spy = await brokerWith(['delay=30s when dir:c2s']);
    const socket = net.connect(spy.session.address.port, '127.0.0.1');
    cleanups.push(async () => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => {});
    socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'));
    // 32 MiB of heartbeats in 64 KiB writes: 4 million frames the rule would hold without a bound
    const chunk = Buffer.alloc(64 * 1024);
    for (let at = 0; at < chunk.length; at += 8) chunk.set([8, 0, 0, 0, 0, 0, 0, 0xce], at);
    let flushed = 0;
    for (let i = 0; i < 512; i++) socket.write(chunk, () => (flushed += chunk.length));
    // the broker stops reading once about 1 MiB (frames and their entries) is held
    const [connection] = [...spy.broker.connections()];
    await waitFor(() => connection!.socket.isPaused(), 'the broker to stop reading the client', 5000);
    const read = flushed;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(flushed).toBe(read);
    expect(flushed).toBeLessThan(16 * 1024 * 1024);
  });
});
