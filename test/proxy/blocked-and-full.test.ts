// State a user needs at a glance, with real clients over real sockets: a connection the
// broker blocked (and the publishes sent meanwhile), and a consumer at its prefetch limit —
// in the events, the `error` and `blocked` filters, and the connections view.

import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { nowMicros, type FrameEvent, type MessageEvent, type SpyEvent } from '../../src/events.js';
import { startProxySession, type RunningSession } from '../../src/session/live-session.js';
import { connectionLines } from '../../src/tui/connection-lines.js';
import { EventStore } from '../../src/tui/event-store.js';
import { parseFilter } from '../../src/view/filter.js';
import { describeAgainstBrokers } from '../support/brokers.js';
import { waitFor } from '../support/cli.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Spy {
  readonly events: SpyEvent[];
  readonly store: EventStore;
  readonly port: number;
  readonly session: RunningSession;
}

async function spyOn(host: string, port: number): Promise<Spy> {
  const events: SpyEvent[] = [];
  const store = new EventStore();
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host, port, tls: false },
    sinks: [(e) => events.push(e), (e) => store.push(e)],
    notice: () => {},
  });
  cleanups.push(() => session.stop());
  return { events, store, port: session.address.port, session };
}

const methods = (events: readonly SpyEvent[], name: string): FrameEvent[] =>
  events.filter((e): e is FrameEvent => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === name);
const published = (events: readonly SpyEvent[], body: string): MessageEvent | undefined =>
  events.find((e): e is MessageEvent => e.kind === 'message' && e.method.name === 'basic.publish' && Buffer.from(e.body).toString() === body);
const screenOf = (store: EventStore) =>
  connectionLines(store.connections.values(), { now: nowMicros() })
    .map((l) => l.text)
    .join('\n');

describe('a connection the built-in broker blocks (memory alarm), through the proxy', () => {
  it('is BLOCKED in the connections view, its publishes meanwhile are flagged, unblocked says for how long', async () => {
    const broker: RunningBroker = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, maxMemory: 1 });
    cleanups.push(() => broker.close());
    const spy = await spyOn('127.0.0.1', broker.address.port);
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${spy.port}`);
    cleanups.push(() => connection.close());
    let blocked = false;
    let unblocked = false;
    connection.on('blocked', () => {
      blocked = true;
    });
    connection.on('unblocked', () => {
      unblocked = true;
    });
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('first'));
    await waitFor(() => blocked, 'amqplib to be told connection.blocked');
    // the broker reads nothing more from a blocked publisher; the proxy still does
    channel.sendToQueue(queue, Buffer.from('sent while blocked'));
    await waitFor(() => published(spy.events, 'sent while blocked') !== undefined, 'the publish to pass the proxy');

    expect(published(spy.events, 'first')!.insight?.whileBlocked).toBeUndefined();
    expect(published(spy.events, 'sent while blocked')!.insight?.whileBlocked).toBe(true);
    expect(screenOf(spy.store)).toMatch(/#1 {2}BLOCKED \d+(\.\d+)? (µs|ms|s) \(low on memory\) {2}open/);
    const error = parseFilter('error');
    const blockedTerm = parseFilter('blocked');
    expect(spy.events.filter((e) => error.matches(e)).map((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name)).toEqual([
      'connection.blocked',
    ]);
    expect(
      spy.events
        .filter((e) => blockedTerm.matches(e))
        .map((e) => (e.kind === 'message' ? 'message' : e.kind === 'frame' && e.frame.type === 'method' ? e.frame.method.name : e.kind)),
    ).toEqual(['connection.blocked', 'basic.publish', 'message']);

    broker.broker.setMaxMemory(Number.MAX_SAFE_INTEGER);
    await waitFor(() => unblocked, 'amqplib to be told connection.unblocked');
    await waitFor(() => methods(spy.events, 'connection.unblocked').length === 1, 'the spy to see connection.unblocked');
    const [blockedFrame] = methods(spy.events, 'connection.blocked');
    const [unblockedFrame] = methods(spy.events, 'connection.unblocked');
    expect(unblockedFrame!.insight?.blockedMicros).toBe(unblockedFrame!.ts - blockedFrame!.ts);
    expect(spy.events.filter((e) => error.matches(e))).toHaveLength(2);
    const screen = screenOf(spy.store);
    expect(screen).not.toContain('BLOCKED');
    expect(screen).toMatch(/was blocked \d/);
    // the publish sent while blocked went through once the broker read again
    channel.sendToQueue(queue, Buffer.from('after'));
    await waitFor(() => published(spy.events, 'after') !== undefined, 'a publish after unblocked');
    expect(published(spy.events, 'after')!.insight?.whileBlocked).toBeUndefined();
    expect((await channel.checkQueue(queue)).messageCount).toBe(3);
  });
});

describeAgainstBrokers('a consumer at its prefetch limit, through the proxy to', (target) => {
  it('amqplib, prefetch 2 per consumer: the second delivery is FULL 2/2, and the channel until an ack', async () => {
    const { host, port, username, password } = target();
    const spy = await spyOn(host, port);
    const connection = await amqp.connect(`amqp://${username}:${password}@127.0.0.1:${spy.port}`);
    cleanups.push(() => connection.close());
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    for (let i = 0; i < 4; i++) channel.sendToQueue(queue, Buffer.from(`m${i}`));
    await channel.prefetch(2);
    const received: amqp.ConsumeMessage[] = [];
    await channel.consume(queue, (message) => {
      if (message) received.push(message);
    });
    await waitFor(() => received.length === 2 && methods(spy.events, 'basic.deliver').length === 2, 'two deliveries');
    const [first, second] = methods(spy.events, 'basic.deliver');
    expect(first!.insight?.prefetchFull).toBeUndefined();
    expect(second!.insight?.prefetchFull).toEqual({ unacked: 2, limit: 2, global: false });
    expect(screenOf(spy.store)).toMatch(/^ {4}1 +open +1 +2 +2 FULL 2\/2 +-/m);
    channel.ack(received[0]!);
    await waitFor(() => methods(spy.events, 'basic.deliver').length === 3, 'the delivery the ack made room for');
    // the ack took it below the limit; the delivery after it filled it again
    expect(methods(spy.events, 'basic.ack')[0]!.insight?.prefetchFull).toBeUndefined();
    expect(methods(spy.events, 'basic.deliver')[2]!.insight?.prefetchFull).toEqual({ unacked: 2, limit: 2, global: false });
    channel.ackAll();
    await waitFor(() => methods(spy.events, 'basic.deliver').length === 4 && methods(spy.events, 'basic.ack').length === 2, 'the last delivery');
    expect(screenOf(spy.store)).toMatch(/^ {4}1 +open +1 +2 +1 +-/m);
  });

  it('@cloudamqp/amqp-client, prefetch 3 for the channel (global): two consumers share it', async () => {
    const { host, port, username, password } = target();
    const spy = await spyOn(host, port);
    const client = new AMQPClient(`amqp://${username}:${password}@127.0.0.1:${spy.port}`);
    const connection = await client.connect();
    cleanups.push(() => connection.close());
    const channel = await connection.channel();
    const { name: queue } = await channel.queueDeclare('', { exclusive: true });
    for (let i = 0; i < 6; i++) await channel.basicPublish('', queue, `m${i}`);
    await channel.basicQos(3, 0, true);
    await channel.basicConsume(queue, { noAck: false }, () => {});
    await channel.basicConsume(queue, { noAck: false }, () => {});
    await waitFor(() => methods(spy.events, 'basic.deliver').length === 3, 'three deliveries');
    const deliveries = methods(spy.events, 'basic.deliver');
    expect(deliveries.map((d) => d.insight?.prefetchFull)).toEqual([undefined, undefined, { unacked: 3, limit: 3, global: true }]);
    expect(screenOf(spy.store)).toContain('3 FULL 3/3 on the channel');
  });
});
