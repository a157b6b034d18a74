// What replay --to calls a difference between a recorded value and the new server's.
import { describe, expect, it } from 'vitest';
import type { FieldTable, FieldValue } from '../../../src/decoder/types.js';
import { diffValues, NameMap } from '../../../src/commands/replay-to/replay-compare.js';

const table = (entries: [string, FieldValue][]): FieldTable => ({ entries });
const xDeath = (count: number, time: bigint, queue: string): FieldValue => ({
  type: 'A',
  value: [
    {
      type: 'F',
      value: table([
        ['count', { type: 'l', value: BigInt(count) }],
        ['queue', { type: 'S', value: queue }],
        ['time', { type: 'T', value: time }],
      ]),
    },
  ],
});

describe('diffValues', () => {
  it('names only the entry of a table that differs, with its path', () => {
    const out: string[] = [];
    const recorded = table([
      ['trace', { type: 'S', value: 'a' }],
      ['x-death', xDeath(1, 1000n, 'jobs')],
    ]);
    const fresh = table([
      ['trace', { type: 'S', value: 'a' }],
      ['x-death', xDeath(2, 1000n, 'jobs')],
    ]);
    diffValues('property headers', recorded, fresh, new NameMap(), out);
    expect(out).toEqual(['property headers.x-death[0].count: recorded 1, now 2']);
  });

  it("an x-death time is the broker's clock, not a difference; a time elsewhere is", () => {
    const out: string[] = [];
    diffValues('h', table([['x-death', xDeath(1, 1000n, 'q')]]), table([['x-death', xDeath(1, 2000n, 'q')]]), new NameMap(), out);
    expect(out).toEqual([]);
    diffValues('h', table([['sent', { type: 'T', value: 1n }]]), table([['sent', { type: 'T', value: 2n }]]), new NameMap(), out);
    expect(out).toEqual(['h.sent: recorded 1, now 2']);
  });

  it('maps names the broker generates, once per name, and says absent entries', () => {
    const names = new NameMap();
    const out: string[] = [];
    diffValues('property reply-to', 'amq.rabbitmq.reply-to.g1h2AA.old', 'amq.rabbitmq.reply-to.g1h2AA.new', names, out);
    diffValues('queue', 'amq.gen-abc', 'amq.gen-xyz', names, out);
    expect(out).toEqual([]);
    expect(names.map('amq.gen-abc')).toBe('amq.gen-xyz');
    // the same recorded name now standing for another: a difference
    diffValues('queue', 'amq.gen-abc', 'amq.gen-other', names, out);
    // a name the user chose is never mapped
    diffValues('queue', 'orders', 'orders-2', names, out);
    diffValues('h', table([['a', { type: 'S', value: 'x' }]]), table([]), names, out);
    expect(out).toEqual(['queue: recorded amq.gen-abc, now amq.gen-other', 'queue: recorded orders, now orders-2', 'h.a: recorded x, now absent']);
  });
});
