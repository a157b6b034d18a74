// A channel's delivery tags: every basic.deliver / basic.get-ok takes the next tag; deliveries
// awaiting an ack are kept so ack/nack/reject (single or multiple) and channel close reach
// the right queue. RabbitMQ's rule: the tag named must be outstanding, else 406.

import { unknownDeliveryTag } from './amqp-error.js';
import type { Delivery, Settlement } from './queue.js';

export class DeliveryTracker {
  private lastTag = 0n;
  /** outstanding deliveries in tag order (Map keeps insertion order) */
  private readonly pending = new Map<bigint, Delivery>();

  get unackedCount(): number {
    return this.pending.size;
  }

  /** Takes the next delivery tag for `delivery`, remembering it when it awaits an ack. */
  add(delivery: Delivery): bigint {
    const tag = ++this.lastTag;
    if (delivery.deliveryId !== 0) this.pending.set(tag, delivery);
    return tag;
  }

  has(tag: bigint): boolean {
    return this.pending.has(tag);
  }

  /** basic.ack; tag 0 with multiple means everything outstanding. */
  ack(tag: bigint, multiple: boolean): void {
    this.settle(this.take(tag, multiple), 'ack');
  }

  /** basic.nack / basic.reject (reject is nack without multiple). */
  nack(tag: bigint, multiple: boolean, requeue: boolean): void {
    this.settle(this.take(tag, multiple), requeue ? 'requeue' : 'reject');
  }

  /** Channel close: every outstanding delivery goes back to its queue, marked redelivered. */
  releaseAll(): number {
    const all = [...this.pending.values()];
    this.pending.clear();
    this.settle(all, 'requeue');
    return all.length;
  }

  private take(tag: bigint, multiple: boolean): Delivery[] {
    if (multiple && tag === 0n) {
      const all = [...this.pending.values()];
      this.pending.clear();
      return all;
    }
    if (!this.pending.has(tag)) throw unknownDeliveryTag(tag);
    if (!multiple) {
      const d = this.pending.get(tag)!;
      this.pending.delete(tag);
      return [d];
    }
    const taken: Delivery[] = [];
    for (const [t, d] of this.pending) {
      if (t > tag) break;
      taken.push(d);
      this.pending.delete(t);
    }
    return taken;
  }

  /** Groups by queue so each queue settles (and redelivers) once. */
  private settle(deliveries: readonly Delivery[], how: Settlement): void {
    const byQueue = new Map<Delivery['queue'], number[]>();
    for (const d of deliveries) {
      let ids = byQueue.get(d.queue);
      if (ids === undefined) {
        ids = [];
        byQueue.set(d.queue, ids);
      }
      ids.push(d.deliveryId);
    }
    for (const [queue, ids] of byQueue) queue.settle(ids, how);
  }
}
