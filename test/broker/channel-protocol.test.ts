// Channel-level protocol details, byte-exact over a real socket: publisher confirms per
// message, consume-ok before deliveries, global prefetch, consumer cancel notifications,
// requeue order and release on channel close. Run against the built-in broker and, when
// AMQP_SPY_RABBITMQ_URL is set, against RabbitMQ with the same assertions.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldTable } from '../../src/decoder/field-table.js';
import type { DecodedFrame, DecodedMethod } from '../../src/decoder/types.js';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { RawClient } from './raw-client.js';

const methods = (frames: DecodedFrame[]): DecodedMethod[] => frames.flatMap((f) => (f.type === 'method' ? [f.method] : []));

async function openWithQueue(c: RawClient, args: Record<string, number | string> = {}): Promise<string> {
  await c.open();
  await c.openChannel(1);
  c.send(1, 'queue.declare', { queue: '', exclusive: true, arguments: fieldTable(args) });
  return String((await c.expectMethod('queue.declare-ok')).args['queue']);
}

/** Waits until the client has seen `n` methods named `name`. */
async function waitForMethods(c: RawClient, name: string, n: number): Promise<void> {
  while (methods(c.frames).filter((m) => m.name === name).length < n) await c.next(`${n} × ${name}`);
}

/** Expands confirms (multiple acks) into per-tag outcomes, in the order they arrived. */
function confirmOutcomes(c: RawClient): Map<number, 'ack' | 'nack'> {
  const out = new Map<number, 'ack' | 'nack'>();
  for (const m of methods(c.frames)) {
    if (m.name !== 'basic.ack' && m.name !== 'basic.nack') continue;
    const tag = Number(m.args['delivery-tag']);
    const kind = m.name === 'basic.ack' ? 'ack' : 'nack';
    const from = m.args['multiple'] === true ? 1 : tag;
    for (let t = from; t <= tag; t++) if (!out.has(t)) out.set(t, kind);
  }
  return out;
}

/** The same checks against the built-in broker and, when available, RabbitMQ. */
function channelCases(port: () => number): void {
  describe('publisher confirms', () => {
    it('confirms each message in its own turn: a returned mandatory message is acked after its basic.return', async () => {
      const c = await RawClient.connect(port());
      const q = await openWithQueue(c);
      c.send(1, 'confirm.select');
      await c.expectMethod('confirm.select-ok');
      c.publish(1, '', q, 'one');
      c.publish(1, '', 'no-such-queue', 'two', {}, { mandatory: true });
      c.publish(1, '', q, 'three');
      await c.expectMethod('basic.return');
      while (confirmOutcomes(c).size < 3) await c.next('confirms');
      expect([...confirmOutcomes(c)]).toEqual([
        [1, 'ack'],
        [2, 'ack'],
        [3, 'ack'],
      ]);
      // the return comes before any ack that covers tag 2
      const names = methods(c.frames).map((m) => m.name);
      const returnAt = names.indexOf('basic.return');
      const ackOf2 = methods(c.frames).findIndex((m) => m.name === 'basic.ack' && Number(m.args['delivery-tag']) >= 2);
      expect(returnAt).toBeLessThan(ackOf2);
      const ret = methods(c.frames)[returnAt]!;
      expect(ret.args).toMatchObject({ 'reply-code': 312, 'reply-text': 'NO_ROUTE', exchange: '', 'routing-key': 'no-such-queue' });
      c.destroy();
    });

    it('nacks exactly the message a full queue refuses, in order with the acks around it', async () => {
      const c = await RawClient.connect(port());
      const q = await openWithQueue(c, { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
      c.send(1, 'confirm.select');
      await c.expectMethod('confirm.select-ok');
      c.publish(1, '', q, 'fits');
      c.publish(1, '', q, 'refused');
      c.send(1, 'basic.get', { queue: q, 'no-ack': true });
      c.publish(1, '', q, 'fits again');
      while (confirmOutcomes(c).size < 3) await c.next('confirms');
      expect([...confirmOutcomes(c)]).toEqual([
        [1, 'ack'],
        [2, 'nack'],
        [3, 'ack'],
      ]);
      const confirms = methods(c.frames).filter((m) => m.name === 'basic.ack' || m.name === 'basic.nack');
      expect(confirms.map((m) => [m.name, Number(m.args['delivery-tag'])])).toEqual([
        ['basic.ack', 1],
        ['basic.nack', 2],
        ['basic.ack', 3],
      ]);
      c.destroy();
    });
  });

  describe('consumers', () => {
    it('sends consume-ok before the first delivery, with a server-generated tag', async () => {
      const c = await RawClient.connect(port());
      const q = await openWithQueue(c);
      c.publish(1, '', q, 'waiting');
      c.send(1, 'basic.consume', { queue: q, 'no-ack': true });
      const ok = await c.expectMethod('basic.consume-ok');
      expect(String(ok.args['consumer-tag'])).toMatch(/^amq\.ctag-[A-Za-z0-9_-]{22}$/);
      const deliver = await c.expectMethod('basic.deliver');
      expect(deliver.args).toMatchObject({ 'consumer-tag': ok.args['consumer-tag'], 'delivery-tag': 1n, redelivered: false, exchange: '', 'routing-key': q });
      c.destroy();
    });

    it('basic.qos global limits unacked deliveries across the consumers of a channel', async () => {
      const c = await RawClient.connect(port());
      const q1 = await openWithQueue(c);
      c.send(1, 'queue.declare', { queue: '', exclusive: true });
      const q2 = String((await c.expectMethod('queue.declare-ok')).args['queue']);
      for (let i = 0; i < 3; i++) {
        c.publish(1, '', q1, `a${i}`);
        c.publish(1, '', q2, `b${i}`);
      }
      c.send(1, 'basic.qos', { 'prefetch-count': 2, global: true });
      await c.expectMethod('basic.qos-ok');
      c.send(1, 'basic.consume', { queue: q1 });
      await c.expectMethod('basic.consume-ok');
      c.send(1, 'basic.consume', { queue: q2 });
      await c.expectMethod('basic.consume-ok');
      // two arrive; a round trip later there is still no third
      await waitForMethods(c, 'basic.deliver', 2);
      c.send(1, 'queue.declare', { queue: q2, passive: true });
      await c.expectMethod('queue.declare-ok');
      expect(methods(c.frames).filter((m) => m.name === 'basic.deliver')).toHaveLength(2);
      c.send(1, 'basic.ack', { 'delivery-tag': 2n, multiple: true });
      await waitForMethods(c, 'basic.deliver', 4);
      c.send(1, 'queue.declare', { queue: q2, passive: true });
      await c.expectMethod('queue.declare-ok');
      expect(methods(c.frames).filter((m) => m.name === 'basic.deliver')).toHaveLength(4);
      c.destroy();
    });

    it('tells a consumer its queue was deleted only when the client asked (consumer_cancel_notify)', async () => {
      for (const notify of [true, false]) {
        const c = await RawClient.connect(port());
        await c.open({ capabilities: { consumer_cancel_notify: notify } });
        await c.openChannel(1);
        c.send(1, 'queue.declare', { queue: '', exclusive: true });
        const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
        c.send(1, 'basic.consume', { queue: q, 'consumer-tag': 'watcher' });
        await c.expectMethod('basic.consume-ok');
        c.send(1, 'queue.delete', { queue: q });
        await c.expectMethod('queue.delete-ok');
        // RabbitMQ may send the cancel just after delete-ok: wait for it, or make a round trip
        if (notify) await waitForMethods(c, 'basic.cancel', 1);
        c.send(1, 'basic.qos', { 'prefetch-count': 1 });
        await c.expectMethod('basic.qos-ok');
        const cancels = methods(c.frames).filter((m) => m.name === 'basic.cancel');
        expect(cancels.map((m) => m.args['consumer-tag'])).toEqual(notify ? ['watcher'] : []);
        c.destroy();
      }
    });

    it('requeues nacked messages at the head in their order, marked redelivered', async () => {
      const c = await RawClient.connect(port());
      const q = await openWithQueue(c);
      for (const b of ['m1', 'm2', 'm3', 'm4']) c.publish(1, '', q, b);
      const bodies: string[] = [];
      const getOne = async (noAck: boolean): Promise<{ tag: bigint; redelivered: boolean; body: string }> => {
        c.send(1, 'basic.get', { queue: q, 'no-ack': noAck });
        const ok = await c.expectMethod('basic.get-ok');
        await c.next();
        const body = await c.next();
        const text = body.type === 'body' ? Buffer.from(body.body).toString() : '';
        bodies.push(text);
        return { tag: ok.args['delivery-tag'] as bigint, redelivered: ok.args['redelivered'] as boolean, body: text };
      };
      await getOne(false);
      await getOne(false);
      const third = await getOne(false);
      c.send(1, 'basic.nack', { 'delivery-tag': third.tag, multiple: true, requeue: true });
      const again = [await getOne(true), await getOne(true), await getOne(true), await getOne(true)];
      expect(again.map((m) => [m.body, m.redelivered])).toEqual([
        ['m1', true],
        ['m2', true],
        ['m3', true],
        ['m4', false],
      ]);
      c.destroy();
    });

    it('requeues what a closed channel held unacked, to another consumer', async () => {
      const c = await RawClient.connect(port());
      const q = await openWithQueue(c);
      await c.openChannel(2);
      c.send(1, 'basic.consume', { queue: q, 'consumer-tag': 'first' });
      await c.expectMethod('basic.consume-ok');
      c.publish(2, '', q, 'held');
      await c.expectMethod('basic.deliver');
      c.send(2, 'basic.consume', { queue: q, 'consumer-tag': 'second' });
      await c.expectMethod('basic.consume-ok');
      c.send(1, 'channel.close', { 'reply-code': 200 });
      await c.expectMethod('channel.close-ok');
      await waitForMethods(c, 'basic.deliver', 2);
      const redelivery = methods(c.frames).filter((m) => m.name === 'basic.deliver')[1]!;
      expect(redelivery.args).toMatchObject({ 'consumer-tag': 'second', redelivered: true, 'delivery-tag': 1n });
      c.destroy();
    });
  });
}

describe('channel protocol on the built-in broker', () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
  });
  afterAll(async () => {
    await broker.close();
  });
  channelCases(() => broker.address.port);
});

describeWithRabbitMQ('channel protocol', () => {
  channelCases(() => rabbitAddress().port);
});
