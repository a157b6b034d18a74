// Outstanding deliveries in tag order: settling is right, and costs what it settles.
import { describe, expect, it } from 'vitest';
import { TagQueue } from '../../src/tap/tag-queue.js';

describe('TagQueue', () => {
  it('settles one tag, every tag up to one (multiple), or all (tag 0 multiple)', () => {
    const q = new TagQueue();
    for (let tag = 1; tag <= 6; tag++) q.add(tag, tag * 10);
    expect(q.settle(3, false)).toEqual([30]);
    expect(q.settle(3, false)).toEqual([]); // already settled
    expect(q.settle(4, true)).toEqual([10, 20, 40]);
    expect(q.size).toBe(2);
    expect(q.first()).toBe(50);
    expect(q.settle(9, false)).toEqual([]); // never delivered
    expect(q.settle(0, true)).toEqual([50, 60]);
    expect(q.size).toBe(0);
    expect(q.first()).toBeUndefined();
  });

  it('keeps tag order when a tag comes out of order, and a repeated tag takes the new seq', () => {
    const q = new TagQueue();
    q.add(5, 50);
    q.add(2, 20);
    q.add(9, 90);
    q.add(5, 51);
    expect(q.size).toBe(3);
    expect(q.settle(5, true)).toEqual([20, 51]);
    expect(q.settle(9, true)).toEqual([90]);
  });

  it('compares tags beyond 2^53 (bigint) with smaller ones (numbers)', () => {
    const q = new TagQueue();
    const big = 2n ** 60n;
    q.add(7, 1);
    q.add(big, 2);
    q.add(big + 1n, 3);
    expect(q.settle(big, true)).toEqual([1, 2]);
    expect(q.settle(big + 1n, false)).toEqual([3]);
  });

  it('acking 40k deliveries one at a time with multiple=true examines each delivery once', () => {
    const q = new TagQueue();
    const n = 40_000;
    for (let tag = 1; tag <= n; tag++) q.add(tag, tag);
    for (let tag = 1; tag <= n; tag++) {
      const settled = q.settle(tag, true);
      if (settled.length !== 1 || settled[0] !== tag) throw new Error(`ack ${tag} settled ${settled.join(',')}`);
    }
    expect(q.size).toBe(0);
    // a scan of every outstanding delivery per ack would be n²/2 = 800M
    expect(q.examined).toBe(n);
  });

  it('single acks out of order leave no unbounded garbage behind the one left outstanding', () => {
    const q = new TagQueue();
    q.add(1, 1);
    for (let tag = 2; tag <= 10_000; tag++) {
      q.add(tag, tag);
      expect(q.settle(tag, false)).toEqual([tag]);
    }
    expect(q.size).toBe(1);
    expect(q.first()).toBe(1);
    // tag 1 is still the oldest: a multiple ack up to 10000 settles just it, cheaply
    const before = q.examined;
    expect(q.settle(10_000, true)).toEqual([1]);
    expect(q.examined - before).toBeLessThanOrEqual(200);
  });
});
