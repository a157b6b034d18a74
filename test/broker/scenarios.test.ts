// The broker scenarios, written once: each runs with amqplib and with @cloudamqp/amqp-client,
// against the built-in broker and (when AMQP_SPY_RABBITMQ_URL is set) against RabbitMQ, with
// the same assertions, so the suite itself is checked against the real thing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { CLIENTS, type ClientFactory, type ReceivedMessage, type ScenarioChannel, type ScenarioClient, type Target } from './scenario-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const unique = (name: string) => `spy-scenario.${name}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The first x-death entry of a dead-lettered message, as the client decoded it. */
function firstDeath(m: ReceivedMessage): Record<string, unknown> {
  const deaths = m.headers['x-death'] as Array<Record<string, unknown>> | undefined;
  expect(Array.isArray(deaths)).toBe(true);
  return deaths![0]!;
}

async function getAll(ch: ScenarioChannel, queue: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const m = await ch.get(queue, true);
    if (m === undefined) return bodies;
    bodies.push(m.body);
  }
}

function defineScenarios(target: () => Target, connect: ClientFactory): void {
  const clients: ScenarioClient[] = [];
  const open = async (): Promise<ScenarioClient> => {
    const c = await connect(target());
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    for (const c of clients) await c.close();
  });

  it('declares, publishes to the default exchange, counts with a passive declare, gets with message-count', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const q = unique('basic');
    expect(await ch.declareQueue(q, { exclusive: true })).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
    expect(await Promise.all(['m1', 'm2', 'm3'].map((b) => ch.publishConfirmed('', q, b)))).toEqual(['ack', 'ack', 'ack']);
    expect(await ch.declareQueue(q, { passive: true })).toEqual({ queue: q, messageCount: 3, consumerCount: 0 });
    const first = await ch.get(q);
    expect(first).toMatchObject({ body: 'm1', redelivered: false, exchange: '', routingKey: q, messageCount: 2 });
    const second = await ch.get(q, true);
    expect(second).toMatchObject({ body: 'm2', messageCount: 1 });
    expect(second!.deliveryTag).toBe(first!.deliveryTag + 1);
    ch.ack(first!.deliveryTag);
    expect(await ch.get(q, true)).toMatchObject({ body: 'm3', messageCount: 0 });
    expect(await ch.get(q)).toBeUndefined();
    const named = await ch.declareQueue('', { exclusive: true });
    expect(named.queue).toMatch(/^amq\.gen-/);
    await ch.close();
  });

  it('routes through amq.topic, amq.fanout and exchange-to-exchange bindings', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const qa = unique('route-a');
    const qb = unique('route-b');
    const x1 = unique('x1');
    const x2 = unique('x2');
    await ch.declareQueue(qa, { exclusive: true });
    await ch.declareQueue(qb, { exclusive: true });
    await ch.bindQueue(qa, 'amq.topic', 'a.*');
    await ch.bindQueue(qb, 'amq.topic', '#.z');
    await ch.bindQueue(qb, 'amq.fanout', '');
    await ch.declareExchange(x1, 'fanout', { autoDelete: false });
    await ch.declareExchange(x2, 'direct', { autoDelete: false });
    await ch.bindExchange(x2, x1, '');
    await ch.bindQueue(qa, x2, 'k');
    const acks = await Promise.all([
      ch.publishConfirmed('amq.topic', 'a.b', 'topic-a'),
      ch.publishConfirmed('amq.topic', 'c.z', 'topic-z'),
      ch.publishConfirmed('amq.topic', 'a.z', 'topic-both'),
      ch.publishConfirmed('amq.fanout', 'whatever', 'fanout'),
      ch.publishConfirmed(x1, 'k', 'e2e'),
      ch.publishConfirmed(x1, 'other', 'e2e-dropped'),
    ]);
    expect(acks.every((a) => a === 'ack')).toBe(true);
    expect(await getAll(ch, qa)).toEqual(['topic-a', 'topic-both', 'e2e']);
    expect(await getAll(ch, qb)).toEqual(['topic-z', 'topic-both', 'fanout']);
    await ch.unbindQueue(qa, 'amq.topic', 'a.*');
    await ch.publishConfirmed('amq.topic', 'a.b', 'after-unbind');
    expect(await getAll(ch, qa)).toEqual([]);
    await ch.deleteExchange(x1);
    await ch.deleteExchange(x2);
    await ch.close();
  });

  it('delivers round-robin to two consumers, each in queue order', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const q = unique('rr');
    await ch.declareQueue(q, { exclusive: true });
    const got = new Map<string, number[]>();
    const onMessage = (m: ReceivedMessage) => {
      const list = got.get(m.consumerTag!) ?? [];
      list.push(Number(m.body));
      got.set(m.consumerTag!, list);
    };
    const a = await ch.consume(q, onMessage, { noAck: true });
    const b = await ch.consume(q, onMessage, { noAck: true });
    await Promise.all(Array.from({ length: 20 }, (_, i) => ch.publishConfirmed('', q, String(i))));
    await until(() => (got.get(a)?.length ?? 0) + (got.get(b)?.length ?? 0) === 20, '20 deliveries');
    expect(got.get(a)).toHaveLength(10);
    expect(got.get(b)).toHaveLength(10);
    for (const list of got.values()) expect([...list].sort((x, y) => x - y)).toEqual(list);
    await ch.cancel(a);
    await ch.cancel(b);
    await ch.close();
  });

  it('limits unacked deliveries with basic.qos and delivers more after acks', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const q = unique('qos');
    await ch.declareQueue(q, { exclusive: true });
    await Promise.all(Array.from({ length: 5 }, (_, i) => ch.publishConfirmed('', q, `p${i}`)));
    await ch.prefetch(2);
    const received: ReceivedMessage[] = [];
    await ch.consume(q, (m) => received.push(m));
    await until(() => received.length === 2, 'two deliveries');
    // the other three stay ready: a synchronous round trip shows it
    expect((await ch.declareQueue(q, { passive: true })).messageCount).toBe(3);
    expect(received.length).toBe(2);
    ch.ack(received[1]!.deliveryTag, true);
    await until(() => received.length === 4, 'two more deliveries');
    expect(received.map((m) => m.body)).toEqual(['p0', 'p1', 'p2', 'p3']);
    expect((await ch.declareQueue(q, { passive: true })).messageCount).toBe(1);
    await ch.close();
  });

  it('requeues a nack at the head as redelivered, and dead-letters a reject', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const dlx = unique('dlx');
    const dlq = unique('dlq');
    const q = unique('nack');
    await ch.declareExchange(dlx, 'fanout');
    await ch.declareQueue(dlq, { exclusive: true });
    await ch.bindQueue(dlq, dlx, '');
    await ch.declareQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.publishConfirmed('', q, 'a');
    await ch.publishConfirmed('', q, 'b');
    const a = await ch.get(q);
    expect(a).toMatchObject({ body: 'a', redelivered: false });
    ch.nack(a!.deliveryTag, false, true);
    const again = await ch.get(q);
    expect(again).toMatchObject({ body: 'a', redelivered: true, messageCount: 1 });
    ch.reject(again!.deliveryTag, false);
    let dead: ReceivedMessage | undefined;
    await until(async () => (dead = await ch.get(dlq, true)) !== undefined, 'the dead-lettered message');
    expect(dead!.body).toBe('a');
    const death = firstDeath(dead!);
    expect(String(death['reason'])).toBe('rejected');
    expect(String(death['queue'])).toBe(q);
    expect(await ch.get(q, true)).toMatchObject({ body: 'b', redelivered: false });
    await ch.deleteExchange(dlx);
    await ch.close();
  });

  it('expires messages by per-message expiration and x-message-ttl, dead-lettering them as expired', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const dlx = unique('ttl-dlx');
    const dlq = unique('ttl-dlq');
    const q = unique('ttl');
    const q2 = unique('ttl2');
    await ch.declareExchange(dlx, 'fanout');
    await ch.declareQueue(dlq, { exclusive: true });
    await ch.bindQueue(dlq, dlx, '');
    await ch.declareQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx } });
    await ch.declareQueue(q2, { exclusive: true, arguments: { 'x-dead-letter-exchange': dlx, 'x-message-ttl': 30 } });
    await ch.publishConfirmed('', q, 'short', { expiration: '30' });
    await ch.publishConfirmed('', q, 'long', { expiration: '600000' });
    await ch.publishConfirmed('', q2, 'queue-ttl');
    const dead: ReceivedMessage[] = [];
    await until(async () => {
      const m = await ch.get(dlq, true);
      if (m !== undefined) dead.push(m);
      return dead.length === 2;
    }, 'two expired messages');
    expect(dead.map((m) => m.body).sort()).toEqual(['queue-ttl', 'short']);
    for (const m of dead) expect(String(firstDeath(m)['reason'])).toBe('expired');
    expect(await getAll(ch, q)).toEqual(['long']);
    await ch.deleteExchange(dlx);
    await ch.close();
  });

  it('confirms every publish, returns unroutable mandatory messages (312 NO_ROUTE) and nacks refused ones', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const q = unique('confirm');
    const full = unique('full');
    await ch.declareQueue(q, { exclusive: true });
    await ch.declareQueue(full, { exclusive: true, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
    const lost = unique('nowhere');
    const results = await Promise.all([
      ch.publishConfirmed('', q, 'c1'),
      ch.publishConfirmed('', lost, 'returned', { mandatory: true }),
      ch.publishConfirmed('', q, 'c2'),
      ch.publishConfirmed('', full, 'fits'),
      ch.publishConfirmed('', full, 'refused'),
      ch.publishConfirmed('', q, 'c3'),
    ]);
    expect(results).toEqual(['ack', 'ack', 'ack', 'ack', 'nack', 'ack']);
    await until(() => ch.returned.length === 1, 'basic.return');
    expect(ch.returned[0]).toEqual({ replyCode: 312, replyText: 'NO_ROUTE', exchange: '', routingKey: lost, body: 'returned' });
    expect(await getAll(ch, q)).toEqual(['c1', 'c2', 'c3']);
    expect(await getAll(ch, full)).toEqual(['fits']);
    await ch.close();
  });

  it('applies publishes and acks of a transaction only on commit', async () => {
    const client = await open();
    const observer = await client.channel();
    const q = unique('tx');
    await observer.declareQueue(q, { exclusive: true });
    const ready = async () => (await observer.declareQueue(q, { passive: true })).messageCount;
    const tx = await client.channel();
    await tx.txSelect();
    tx.publish('', q, 't1');
    tx.publish('', q, 't2');
    expect(await ready()).toBe(0);
    await tx.txCommit();
    expect(await ready()).toBe(2);
    tx.publish('', q, 't3');
    await tx.txRollback();
    expect(await ready()).toBe(2);
    // an ack rolled back leaves the message unacked: closing the channel requeues it
    const m = await tx.get(q);
    expect(m).toMatchObject({ body: 't1' });
    tx.ack(m!.deliveryTag);
    await tx.txRollback();
    await tx.close();
    expect(await ready()).toBe(2);
    const tx2 = await client.channel();
    await tx2.txSelect();
    const m2 = await tx2.get(q);
    expect(m2).toMatchObject({ body: 't1', redelivered: true });
    tx2.ack(m2!.deliveryTag);
    await tx2.txCommit();
    await tx2.close();
    expect(await ready()).toBe(1);
    await observer.close();
  });

  it('cancels consumers of a deleted queue and reports purge/delete counts', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const consumerChannel = await client.channel();
    const q = unique('purge');
    const watched = unique('watched');
    await ch.declareQueue(q, { exclusive: true });
    await ch.declareQueue(watched, { exclusive: true });
    await Promise.all(['1', '2', '3'].map((b) => ch.publishConfirmed('', q, b)));
    expect(await ch.purge(q)).toBe(3);
    await Promise.all(['4', '5'].map((b) => ch.publishConfirmed('', q, b)));
    const tag = await consumerChannel.consume(watched, () => undefined, { noAck: true });
    expect(await ch.deleteQueue(watched)).toBe(0);
    await until(() => consumerChannel.serverCancelled.includes(tag), 'basic.cancel from the broker');
    expect(await ch.deleteQueue(q)).toBe(2);
    await ch.close();
    await consumerChannel.close();
  });

  it('basic.recover redelivers what is unacked', async () => {
    const client = await open();
    const ch = await client.channel({ confirm: true });
    const q = unique('recover');
    await ch.declareQueue(q, { exclusive: true });
    await ch.publishConfirmed('', q, 'r');
    expect(await ch.get(q)).toMatchObject({ body: 'r', redelivered: false });
    await ch.recover();
    expect(await ch.get(q, true)).toMatchObject({ body: 'r', redelivered: true });
    await ch.close();
  });

  it('answers RPC requests through direct reply-to (amq.rabbitmq.reply-to)', async () => {
    const requester = await open();
    const responder = await open();
    const rch = await responder.channel();
    const rpc = unique('rpc');
    await rch.declareQueue(rpc, { exclusive: true });
    const requests: ReceivedMessage[] = [];
    await rch.consume(
      rpc,
      (m) => {
        requests.push(m);
        rch.publish('', m.replyTo!, `reply to ${m.body}`);
      },
      { noAck: true },
    );
    const ch = await requester.channel();
    const replies: ReceivedMessage[] = [];
    await ch.consume('amq.rabbitmq.reply-to', (m) => replies.push(m), { noAck: true });
    ch.publish('', rpc, 'ping', { replyTo: 'amq.rabbitmq.reply-to' });
    await until(() => replies.length === 1, 'the reply');
    expect(replies[0]).toMatchObject({ body: 'reply to ping', exchange: '' });
    expect(requests[0]!.replyTo).toMatch(/^amq\.rabbitmq\.reply-to\./);
    expect(replies[0]!.routingKey).toBe(requests[0]!.replyTo);
    // without a reply consumer the request is refused
    const lone = await requester.channel();
    lone.publish('', rpc, 'ping', { replyTo: 'amq.rabbitmq.reply-to' });
    expect(await lone.closedByServer).toEqual({ code: 406, text: 'PRECONDITION_FAILED - fast reply consumer does not exist' });
    await ch.close();
    await rch.close();
  });

  describe('errors close the channel with RabbitMQ codes and texts; the connection goes on', () => {
    it('404 for a missing queue and for publishing to a missing exchange', async () => {
      const client = await open();
      const ch = await client.channel();
      const missing = unique('missing');
      await expect(ch.declareQueue(missing, { passive: true })).rejects.toMatchObject({
        code: 404,
        text: `NOT_FOUND - no queue '${missing}' in vhost '/'`,
      });
      expect(await ch.closedByServer).toEqual({ code: 404, text: `NOT_FOUND - no queue '${missing}' in vhost '/'` });
      const ch2 = await client.channel();
      ch2.publish(missing, 'rk', 'x');
      expect(await ch2.closedByServer).toEqual({ code: 404, text: `NOT_FOUND - no exchange '${missing}' in vhost '/'` });
      const ch3 = await client.channel();
      expect((await ch3.declareQueue('', { exclusive: true })).queue).toMatch(/^amq\.gen-/);
      await ch3.close();
    });

    it('406 for an unknown delivery tag and for an inequivalent redeclare', async () => {
      const client = await open();
      const ch = await client.channel();
      ch.ack(5);
      expect(await ch.closedByServer).toEqual({ code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 5' });
      const ch2 = await client.channel();
      const q = unique('inequivalent');
      await ch2.declareQueue(q, { exclusive: true });
      const refused = (await ch2.declareQueue(q, { exclusive: true, arguments: { 'x-max-length': 3 } }).catch((e: unknown) => e)) as {
        code: number;
        text: string;
      };
      expect(refused.code).toBe(406);
      // the type name depends on how the client library encodes 3
      expect(refused.text).toMatch(
        new RegExp(
          `^PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '${q.replace(/\./g, '\\.')}' in vhost '/': received the value '3' of type '(byte|short|signedint|long)' but current is none$`,
        ),
      );
      const ch3 = await client.channel();
      expect((await ch3.declareQueue(q, { passive: true })).queue).toBe(q);
      await ch3.close();
    });

    it("405 for another connection's exclusive queue, 403 for a reserved exchange name", async () => {
      const owner = await open();
      const other = await open();
      const q = unique('exclusive');
      const och = await owner.channel();
      await och.declareQueue(q, { exclusive: true });
      const ch = await other.channel();
      await expect(ch.get(q)).rejects.toMatchObject({ code: 405 });
      const closed = await ch.closedByServer;
      expect(closed.text).toBe(
        `RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '${q}' in vhost '/'. ` +
          'It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.',
      );
      const ch2 = await other.channel();
      await expect(ch2.declareExchange('amq.spy-test', 'direct')).rejects.toMatchObject({
        code: 403,
        text: "ACCESS_REFUSED - exchange name 'amq.spy-test' contains reserved prefix 'amq.*'",
      });
      expect((await och.declareQueue(q, { passive: true })).queue).toBe(q);
      await och.close();
    });
  });

  it('refuses an unknown vhost (530) and a wrong password (403)', async () => {
    const t = target();
    const vhost = unique('vhost');
    // amqplib reports a connection.close during connection.open without its text
    const vhostError = (await connect({ ...t, vhost }).catch((e: unknown) => e)) as Error;
    expect(vhostError.message).toMatch(
      new RegExp(`NOT_ALLOWED - vhost ${vhost.replace(/\./g, '\\.')} not found|^Expected ConnectionOpenOk; got <ConnectionClose channel:0>$`),
    );
    const authError = (await connect({ ...t, password: `${t.password}-wrong` }).catch((e: unknown) => e)) as Error;
    expect(authError.message).toContain('ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. ');
  });
}

for (const [library, connect] of CLIENTS) {
  describe(`broker scenarios with ${library} against the built-in broker`, () => {
    let broker: RunningBroker;
    beforeAll(async () => {
      broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    });
    afterAll(async () => {
      await broker.close();
    });
    defineScenarios(() => ({ host: '127.0.0.1', port: broker.address.port, username: 'guest', password: 'guest' }), connect);
  });

  describeWithRabbitMQ(`broker scenarios with ${library}`, () => {
    defineScenarios(() => rabbitAddress(), connect);
  });
}
