import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../src/broker/amqp-error.js';
import { DeliveryTracker } from '../../src/broker/delivery-tracker.js';
import { Queue } from '../../src/broker/queue.js';
import type { FieldTable } from '../../src/decoder/types.js';
import { FakeClock, int, message, RecordingConsumer, RecordingEnvironment, S, table, text } from './broker-fixtures.js';

function makeQueue(args: FieldTable = table(), options: { autoDelete?: boolean; env?: RecordingEnvironment } = {}) {
  const env = options.env ?? new RecordingEnvironment();
  const queue = new Queue({ name: 'q', vhost: '/', durable: false, autoDelete: options.autoDelete ?? false, arguments: args }, env);
  return { queue, env, clock: env.clock };
}

/** Drains the queue with basic.get (no-ack), returning bodies, `*` marking redelivered. */
function getAll(queue: Queue): string[] {
  const out: string[] = [];
  for (let r = queue.get(true, 'ch'); r !== undefined; r = queue.get(true, 'ch')) {
    out.push(text(r.delivery.message.body) + (r.delivery.redelivered ? '*' : ''));
  }
  return out;
}

const publishAll = (queue: Queue, bodies: string[]) => bodies.map((b) => queue.publish(message(b)));

describe('queue ordering', () => {
  it('is FIFO and basic.get reports the messages left', () => {
    const { queue } = makeQueue();
    publishAll(queue, ['1', '2', '3']);
    expect(queue.messageCount).toBe(3);
    const first = queue.get(false, 'ch')!;
    expect(text(first.delivery.message.body)).toBe('1');
    expect(first.messageCount).toBe(2);
    expect(first.delivery.redelivered).toBe(false);
    expect(queue.unackedCount).toBe(1);
    expect(getAll(queue)).toEqual(['2', '3']);
    expect(queue.get(false, 'ch')).toBeUndefined();
  });

  it('puts requeued messages back at their original position, ahead of newer ones (as RabbitMQ 3.10 does)', () => {
    // RabbitMQ 3.10.8: publish 1..5, get 1,2,3, nack 2 then 1 with requeue, publish 6 → 1*,2*,4,5,6
    const { queue } = makeQueue();
    publishAll(queue, ['1', '2', '3', '4', '5']);
    const got = [queue.get(false, 'ch')!, queue.get(false, 'ch')!, queue.get(false, 'ch')!];
    expect(queue.settle([got[1]!.delivery.deliveryId], 'requeue')).toEqual([]);
    queue.settle([got[0]!.delivery.deliveryId], 'requeue');
    queue.publish(message('6'));
    expect(getAll(queue)).toEqual(['1*', '2*', '4', '5', '6']);
    queue.settle([got[2]!.delivery.deliveryId], 'ack');
    expect(queue.unackedCount).toBe(0);
  });

  it('delivers higher priorities first, FIFO within a priority, capping at x-max-priority', () => {
    // RabbitMQ 3.10.8 with x-max-priority 5: p0, p9, p5, p3, p0b → p9, p5, p3, p0, p0b
    const { queue } = makeQueue(table(['x-max-priority', int(5)]));
    queue.publish(message('p0'));
    queue.publish(message('p9', { priority: 9 }));
    queue.publish(message('p5', { priority: 5 }));
    queue.publish(message('p3', { priority: 3 }));
    queue.publish(message('p0b'));
    expect(getAll(queue)).toEqual(['p9', 'p5', 'p3', 'p0', 'p0b']);
  });

  it('ignores priorities without x-max-priority', () => {
    const { queue } = makeQueue();
    queue.publish(message('a'));
    queue.publish(message('b', { priority: 9 }));
    expect(getAll(queue)).toEqual(['a', 'b']);
  });

  it('requeues within the message priority', () => {
    const { queue } = makeQueue(table(['x-max-priority', int(2)]));
    queue.publish(message('low1'));
    queue.publish(message('low2'));
    queue.publish(message('high', { priority: 2 }));
    const h = queue.get(false, 'ch')!;
    const l1 = queue.get(false, 'ch')!;
    queue.settle([l1.delivery.deliveryId, h.delivery.deliveryId], 'requeue');
    expect(getAll(queue)).toEqual(['high*', 'low1*', 'low2']);
  });
});

describe('message TTL', () => {
  it('expires messages at x-message-ttl, lazily and through the timer hook', () => {
    const { queue, env, clock } = makeQueue(table(['x-message-ttl', int(1000)], ['x-dead-letter-exchange', S('dlx')]));
    const t0 = clock.t;
    queue.publish(message('a'));
    clock.advance(500);
    queue.publish(message('b'));
    expect(queue.nextExpiry()).toBe(t0 + 1000);
    clock.advance(499);
    queue.expire();
    expect(queue.messageCount).toBe(2);
    clock.advance(1);
    queue.expire(clock.t);
    expect(queue.messageCount).toBe(1);
    expect(env.deadLetters).toEqual([{ body: 'a', reason: 'expired' }]);
    expect(queue.nextExpiry()).toBe(t0 + 1500);
    clock.advance(600);
    // lazily, on access
    expect(queue.get(true, 'ch')).toBeUndefined();
    expect(env.deadLetters.map((d) => d.body)).toEqual(['a', 'b']);
    expect(queue.nextExpiry()).toBe(Infinity);
  });

  it('uses the smaller of per-message expiration and queue TTL, and drops without a DLX', () => {
    const { queue, env, clock } = makeQueue(table(['x-message-ttl', int(1000)]));
    queue.publish(message('short', { expiration: '10' }));
    queue.publish(message('long', { expiration: '60000' }));
    clock.advance(10);
    expect(getAll(queue)).toEqual(['long']);
    expect(env.deadLetters).toEqual([]);
  });

  it('expires only at the head: a short-lived message behind a long-lived one waits (RabbitMQ semantics)', () => {
    const { queue, clock } = makeQueue();
    queue.publish(message('long', { expiration: '10000' }));
    queue.publish(message('short', { expiration: '10' }));
    clock.advance(100);
    queue.expire();
    expect(queue.messageCount).toBe(2);
    const head = queue.get(true, 'ch')!;
    expect(text(head.delivery.message.body)).toBe('long');
    // now 'short' is at the head and long expired
    expect(queue.get(true, 'ch')).toBeUndefined();
  });

  it('hands a TTL-0 message to a waiting consumer, and drops it otherwise', () => {
    const { queue, env } = makeQueue(table(['x-message-ttl', int(0)], ['x-dead-letter-exchange', S('dlx')]));
    expect(queue.publish(message('nobody'))).toBe('queued');
    expect(queue.messageCount).toBe(0);
    expect(env.deadLetters).toEqual([{ body: 'nobody', reason: 'expired' }]);
    const c = new RecordingConsumer('c');
    queue.consume(c);
    expect(queue.publish(message('someone'))).toBe('delivered');
    expect(c.bodies()).toEqual(['someone']);
  });

  it('keeps the original expiry of a requeued message', () => {
    const { queue, clock } = makeQueue(table(['x-message-ttl', int(100)]));
    queue.publish(message('a'));
    const d = queue.get(false, 'ch')!;
    clock.advance(200);
    queue.settle([d.delivery.deliveryId], 'requeue');
    expect(queue.messageCount).toBe(0);
  });
});

describe('length limits', () => {
  it('drops the head with reason maxlen, counting ready messages only (RabbitMQ 3.10 behaviour)', () => {
    // RabbitMQ 3.10.8, x-max-length 2: publish a, b; get a; publish c, d; requeue a → [c, d]
    const { queue, env } = makeQueue(table(['x-max-length', int(2)], ['x-dead-letter-exchange', S('dlx')]));
    publishAll(queue, ['a', 'b']);
    const a = queue.get(false, 'ch')!;
    expect(a.messageCount).toBe(1);
    queue.publish(message('c'));
    expect(queue.messageCount).toBe(2);
    expect(env.deadLetters).toEqual([]);
    queue.publish(message('d'));
    expect(queue.messageCount).toBe(2);
    expect(env.deadLetters).toEqual([{ body: 'b', reason: 'maxlen' }]);
    queue.settle([a.delivery.deliveryId], 'requeue');
    expect(env.deadLetters).toEqual([
      { body: 'b', reason: 'maxlen' },
      { body: 'a', reason: 'maxlen' },
    ]);
    expect(getAll(queue)).toEqual(['c', 'd']);
  });

  it('limits body bytes with x-max-length-bytes', () => {
    const { queue, env } = makeQueue(table(['x-max-length-bytes', int(5)]));
    publishAll(queue, ['aa', 'bb', 'cc']);
    expect(queue.messageBytes).toBe(4);
    expect(getAll(queue)).toEqual(['bb', 'cc']);
    queue.publish(message('toolarge'));
    expect(queue.messageCount).toBe(0);
    expect(env.deadLetters).toEqual([]); // no DLX: dropped
  });

  it('refuses publishes with x-overflow reject-publish, without dead-lettering', () => {
    const { queue, env } = makeQueue(table(['x-max-length', int(1)], ['x-overflow', S('reject-publish')], ['x-dead-letter-exchange', S('dlx')]));
    expect(queue.publish(message('a'))).toBe('queued');
    expect(queue.publish(message('b'))).toBe('rejected');
    expect(env.deadLetters).toEqual([]);
    expect(getAll(queue)).toEqual(['a']);
    expect(queue.publish(message('c'))).toBe('queued');
  });

  it('dead-letters refused publishes with reject-publish-dlx', () => {
    const { queue, env } = makeQueue(table(['x-max-length', int(1)], ['x-overflow', S('reject-publish-dlx')], ['x-dead-letter-exchange', S('dlx')]));
    queue.publish(message('a'));
    expect(queue.publish(message('b'))).toBe('rejected');
    expect(env.deadLetters).toEqual([{ body: 'b', reason: 'maxlen' }]);
  });

  it('lets a publish through to a waiting consumer even when the limit is 0', () => {
    const { queue } = makeQueue(table(['x-max-length', int(0)], ['x-overflow', S('reject-publish')]));
    expect(queue.publish(message('a'))).toBe('rejected');
    const c = new RecordingConsumer('c');
    queue.consume(c);
    expect(queue.publish(message('b'))).toBe('delivered');
  });
});

describe('purge and delete', () => {
  it('purge returns the ready count and leaves unacked messages alone', () => {
    const { queue } = makeQueue();
    publishAll(queue, ['a', 'b', 'c']);
    const a = queue.get(false, 'ch')!;
    expect(queue.purge()).toBe(2);
    expect(queue.messageCount).toBe(0);
    expect(queue.unackedCount).toBe(1);
    queue.settle([a.delivery.deliveryId], 'requeue');
    expect(getAll(queue)).toEqual(['a*']);
  });

  it('delete returns the ready count and cancels consumers', () => {
    const { queue } = makeQueue();
    const c = new RecordingConsumer('c', { prefetch: 1 });
    queue.consume(c);
    publishAll(queue, ['a', 'b', 'c']);
    expect(queue.delete()).toBe(2);
    expect(c.cancelledCount).toBe(1);
    expect(queue.deleted).toBe(true);
    expect(queue.settle([c.received[0]!.deliveryId], 'ack')).toEqual([c.received[0]!.deliveryId]);
    expect(() => queue.get(true, 'ch')).toThrow(AmqpError);
  });
});

describe('consumers', () => {
  it('round-robins among consumers', () => {
    const { queue } = makeQueue();
    const cs = ['c1', 'c2', 'c3'].map((t) => new RecordingConsumer(t, { noAck: true }));
    for (const c of cs) queue.consume(c);
    publishAll(queue, ['1', '2', '3', '4', '5', '6', '7']);
    expect(cs.map((c) => c.bodies())).toEqual([
      ['1', '4', '7'],
      ['2', '5'],
      ['3', '6'],
    ]);
    expect(queue.unackedCount).toBe(0);
    expect(cs[0]!.received[0]!.deliveryId).toBe(0);
  });

  it('respects per-consumer prefetch and delivers again on ack', () => {
    const { queue } = makeQueue();
    const c = new RecordingConsumer('c', { prefetch: 2 });
    queue.consume(c);
    publishAll(queue, ['1', '2', '3', '4']);
    expect(c.bodies()).toEqual(['1', '2']);
    expect(queue.messageCount).toBe(2);
    queue.settle([c.received[0]!.deliveryId], 'ack');
    expect(c.bodies()).toEqual(['1', '2', '3']);
    queue.settle([c.received[1]!.deliveryId, c.received[2]!.deliveryId], 'ack');
    expect(c.bodies()).toEqual(['1', '2', '3', '4']);
  });

  it('skips a consumer whose channel has no capacity, and drains when told', () => {
    const { queue } = makeQueue();
    const a = new RecordingConsumer('a');
    const b = new RecordingConsumer('b');
    queue.consume(a);
    queue.consume(b);
    a.open = false;
    publishAll(queue, ['1', '2']);
    expect(a.bodies()).toEqual([]);
    expect(b.bodies()).toEqual(['1', '2']);
    b.open = false;
    queue.publish(message('3'));
    expect(queue.messageCount).toBe(1);
    a.open = true;
    queue.drain();
    expect(a.bodies()).toEqual(['3']);
  });

  it('refuses consumers next to an exclusive one, with RabbitMQ text', () => {
    const { queue } = makeQueue();
    queue.consume(new RecordingConsumer('x', { exclusive: true }));
    const err = (() => {
      try {
        queue.consume(new RecordingConsumer('y'));
      } catch (e) {
        return e as AmqpError;
      }
      return undefined;
    })();
    expect(err?.replyCode).toBe(403);
    expect(err?.replyText).toBe("ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use");
    const { queue: q2 } = makeQueue();
    q2.consume(new RecordingConsumer('y'));
    expect(() => q2.consume(new RecordingConsumer('x', { exclusive: true }))).toThrow("ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use");
  });

  it('prefers higher x-priority consumers while they have capacity', () => {
    const { queue } = makeQueue();
    const low = new RecordingConsumer('low', { priority: 0 });
    const high = new RecordingConsumer('high', { priority: 10, prefetch: 2 });
    queue.consume(low);
    queue.consume(high);
    publishAll(queue, ['1', '2', '3']);
    expect(high.bodies()).toEqual(['1', '2']);
    expect(low.bodies()).toEqual(['3']);
  });

  it('with x-single-active-consumer, only the oldest consumer gets messages until it leaves', () => {
    const { queue } = makeQueue(table(['x-single-active-consumer', { type: 't', value: true }]));
    const a = new RecordingConsumer('a', { noAck: true });
    const b = new RecordingConsumer('b', { noAck: true });
    queue.consume(a);
    queue.consume(b);
    publishAll(queue, ['1', '2']);
    queue.cancel(a);
    publishAll(queue, ['3']);
    expect(a.bodies()).toEqual(['1', '2']);
    expect(b.bodies()).toEqual(['3']);
  });

  it('asks to be deleted when the last consumer of an auto-delete queue cancels', () => {
    const { queue, env } = makeQueue(table(), { autoDelete: true });
    const a = new RecordingConsumer('a');
    const b = new RecordingConsumer('b');
    queue.consume(a);
    queue.consume(b);
    queue.cancel(a);
    expect(env.deleteRequests).toEqual([]);
    queue.cancel(b);
    expect(env.deleteRequests).toEqual([{ queue: 'q', reason: 'auto-delete' }]);
  });

  it('keeps a cancelled consumer’s unacked messages until they are settled', () => {
    const { queue } = makeQueue();
    const a = new RecordingConsumer('a');
    queue.consume(a);
    publishAll(queue, ['1']);
    queue.cancel(a);
    expect(queue.unackedCount).toBe(1);
    queue.settle([a.received[0]!.deliveryId], 'requeue');
    expect(getAll(queue)).toEqual(['1*']);
  });

  it('requeues a closed channel’s deliveries in order, redelivered', () => {
    const { queue } = makeQueue();
    const a = new RecordingConsumer('a', { channel: 'ch1' });
    queue.consume(a);
    publishAll(queue, ['1', '2', '3']);
    queue.publish(message('4'));
    queue.cancelChannelConsumers('ch1');
    expect(queue.consumerCount).toBe(0);
    expect(queue.releaseChannel('ch1')).toBe(4);
    expect(getAll(queue)).toEqual(['1*', '2*', '3*', '4*']);
  });

  it('rejects without requeue: dead-lettered with a DLX, dropped without', () => {
    const { queue, env } = makeQueue(table(['x-dead-letter-exchange', S('dlx')]));
    publishAll(queue, ['a', 'b']);
    const a = queue.get(false, 'ch')!;
    queue.settle([a.delivery.deliveryId], 'reject');
    expect(env.deadLetters).toEqual([{ body: 'a', reason: 'rejected' }]);
    const { queue: plain, env: env2 } = makeQueue();
    plain.publish(message('x'));
    plain.settle([plain.get(false, 'ch')!.delivery.deliveryId], 'reject');
    expect(env2.deadLetters).toEqual([]);
    expect(plain.messageCount + plain.unackedCount).toBe(0);
  });
});

describe('x-expires', () => {
  it('asks for deletion once unused for x-expires, and consumers or gets keep it alive', () => {
    const env = new RecordingEnvironment(new FakeClock());
    const { queue, clock } = makeQueue(table(['x-expires', int(1000)]), { env });
    const t0 = clock.t;
    expect(queue.nextExpiry()).toBe(t0 + 1000);
    clock.advance(900);
    queue.get(true, 'ch');
    expect(queue.nextExpiry()).toBe(t0 + 1900);
    const c = new RecordingConsumer('c');
    queue.consume(c);
    expect(queue.nextExpiry()).toBe(Infinity);
    clock.advance(5000);
    queue.expire();
    expect(env.deleteRequests).toEqual([]);
    queue.cancel(c);
    clock.advance(999);
    queue.expire();
    expect(env.deleteRequests).toEqual([]);
    clock.advance(1);
    queue.expire();
    expect(env.deleteRequests).toEqual([{ queue: 'q', reason: 'expired' }]);
  });
});

describe('DeliveryTracker', () => {
  function setup() {
    const { queue } = makeQueue();
    const tracker = new DeliveryTracker();
    publishAll(queue, ['1', '2', '3', '4']);
    const tags = [1, 2, 3].map(() => tracker.add(queue.get(false, 'ch')!.delivery));
    return { queue, tracker, tags };
  }

  it('acks multiple up to a tag', () => {
    const { queue, tracker, tags } = setup();
    expect(tags).toEqual([1n, 2n, 3n]);
    tracker.ack(2n, true);
    expect(queue.unackedCount).toBe(1);
    expect(tracker.unackedCount).toBe(1);
    tracker.ack(0n, true);
    expect(queue.unackedCount).toBe(0);
  });

  it('refuses unknown tags with RabbitMQ text', () => {
    const { tracker } = setup();
    tracker.ack(1n, false);
    expect(() => tracker.ack(1n, false)).toThrow('PRECONDITION_FAILED - unknown delivery tag 1');
    expect(() => tracker.nack(7n, true, true)).toThrow('PRECONDITION_FAILED - unknown delivery tag 7');
  });

  it('nack with requeue puts messages back in order; releaseAll requeues the rest', () => {
    const { queue, tracker } = setup();
    tracker.nack(3n, false, true);
    tracker.nack(1n, false, true);
    expect(tracker.releaseAll()).toBe(1);
    expect(getAll(queue)).toEqual(['1*', '2*', '3*', '4']);
  });

  it('gives no-ack deliveries a tag without tracking them', () => {
    const { queue } = makeQueue();
    const tracker = new DeliveryTracker();
    queue.publish(message('a'));
    expect(tracker.add(queue.get(true, 'ch')!.delivery)).toBe(1n);
    expect(tracker.unackedCount).toBe(0);
  });
});

describe('channel-wide prefetch through canDeliver', () => {
  it('shares one channel limit across queues; freed capacity is handed out by draining', () => {
    const env = new RecordingEnvironment();
    const q1 = new Queue({ name: 'q1', vhost: '/', durable: false, autoDelete: false, arguments: table() }, env);
    const q2 = new Queue({ name: 'q2', vhost: '/', durable: false, autoDelete: false, arguments: table() }, env);
    const tracker = new DeliveryTracker();
    const channelLimit = 2; // basic.qos prefetch-count 2, global = true
    const tags: bigint[] = [];
    const consumerFor = (tag: string) => ({
      tag,
      channel: 'ch',
      noAck: false,
      canDeliver: () => tracker.unackedCount < channelLimit,
      deliver: (d: import('../../src/broker/queue.js').Delivery) => {
        tags.push(tracker.add(d));
      },
    });
    q1.consume(consumerFor('c1'));
    q2.consume(consumerFor('c2'));
    q1.publish(message('a'));
    q2.publish(message('b'));
    q1.publish(message('c'));
    q2.publish(message('d'));
    expect(tracker.unackedCount).toBe(2);
    expect([q1.messageCount, q2.messageCount]).toEqual([1, 1]);
    tracker.ack(tags[1]!, false); // 'b' from q2: q2 drains itself on settle
    expect([q1.messageCount, q2.messageCount]).toEqual([1, 0]);
    tracker.ack(tags[0]!, false); // 'a' from q1
    expect([q1.messageCount, q2.messageCount]).toEqual([0, 0]);
    expect(tracker.unackedCount).toBe(2);
    tracker.ack(0n, true);
    expect(tracker.unackedCount).toBe(0);
  });
});
