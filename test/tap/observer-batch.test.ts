import { describe, expect, it } from 'vitest';
import type { ConnectionInfo, Direction, FaultMark, SocketEnd } from '../../src/events.js';
import type { StreamGap } from '../../src/source/byte-observer.js';
import { ObserverBatchWriter, readObserverBatch, type ObserverBatchTarget } from '../../src/tap/observer-batch.js';

function recorder(): { calls: unknown[]; target: ObserverBatchTarget } {
  const calls: unknown[] = [];
  return {
    calls,
    target: {
      onOpen: (conn: ConnectionInfo, ts: number) => calls.push(['open', conn, ts]),
      onData: (id: number, dir: Direction, chunk: Uint8Array, ts: number) => calls.push(['data', id, dir, [...chunk], ts]),
      onFrameMarked: (id: number, dir: Direction, frame: Uint8Array, mark: FaultMark, ts: number) => calls.push(['marked', id, dir, [...frame], mark, ts]),
      onClose: (id: number, end: SocketEnd, ts: number) => calls.push(['close', id, end, ts]),
      onUpstreamError: (id: number, message: string, unforwarded: number) => calls.push(['upstream', id, message, unforwarded]),
      onSkip: (id: number, dir: Direction, length: number, ts: number) => calls.push(['skip', id, dir, length, ts]),
      onGap: (id: number, dir: Direction, gap: StreamGap, ts: number) => calls.push(['gap', id, dir, gap, ts]),
    },
  };
}

describe('observer batches', () => {
  it('read back every call in order, with its time', () => {
    const writer = new ObserverBatchWriter(32);
    const conn = { id: 70000, client: { address: '127.0.0.1', port: 40000 }, server: { address: '::1', port: 5672 } };
    writer.open(conn, 1_700_000_000_000_001);
    writer.data(70000, 'c2s', Uint8Array.of(1, 2, 3), 5);
    writer.data(70000, 's2c', new Uint8Array(1000).fill(7), 6);
    writer.skip(70000, 's2c', 5_000_000_000, 7);
    writer.gap(70000, 's2c', { lost: 1460, skipped: 12, midStream: false }, 7.5);
    writer.marked(70000, 's2c', Uint8Array.of(8, 0, 0), 'injected', 9);
    writer.marked(70000, 'c2s', Uint8Array.of(1), 'suppressed', 10);
    writer.upstreamError(70000, 'connection refused — é', 12);
    writer.close(70000, { by: 'server', how: 'reset', detail: 'x' }, 8);
    const batch = writer.take()!;
    expect(writer.take()).toBeUndefined();
    const { calls, target } = recorder();
    readObserverBatch(batch, target);
    expect(calls).toEqual([
      ['open', conn, 1_700_000_000_000_001],
      ['data', 70000, 'c2s', [1, 2, 3], 5],
      ['data', 70000, 's2c', new Array(1000).fill(7), 6],
      ['skip', 70000, 's2c', 5_000_000_000, 7],
      ['gap', 70000, 's2c', { lost: 1460, skipped: 12, midStream: false }, 7.5],
      ['marked', 70000, 's2c', [8, 0, 0], 'injected', 9],
      ['marked', 70000, 'c2s', [1], 'suppressed', 10],
      ['upstream', 70000, 'connection refused — é', 12],
      ['close', 70000, { by: 'server', how: 'reset', detail: 'x' }, 8],
    ]);
  });

  it('a data chunk read back is a copy: the batch can be reused', () => {
    const writer = new ObserverBatchWriter();
    writer.data(1, 'c2s', Uint8Array.of(9, 9), 1);
    const batch = writer.take()!;
    let chunk: Uint8Array | undefined;
    readObserverBatch(batch, { ...recorder().target, onData: (_id, _dir, c) => (chunk = c) });
    batch.fill(0);
    expect([...chunk!]).toEqual([9, 9]);
  });

  it('a batch sent once past its initial size carries no unused memory; one never emptied grows linearly', () => {
    const writer = new ObserverBatchWriter(64 * 1024);
    writer.data(1, 'c2s', new Uint8Array(40 * 1024), 1);
    writer.data(1, 'c2s', new Uint8Array(40 * 1024), 2);
    const batch = writer.take()!;
    // two records: 80 KiB and two 18-byte headers, in a buffer exactly that big (doubling made 128 KiB)
    expect(batch.length).toBe(80 * 1024 + 36);
    expect(batch.buffer.byteLength).toBe(batch.length);
    let grows = 0;
    let size = 0;
    for (let i = 0; i < 10_000; i++) {
      writer.data(1, 's2c', new Uint8Array(100), i);
      const now = (writer as unknown as { buffer: Uint8Array }).buffer.length;
      if (now !== size) grows++;
      size = now;
    }
    // 1.2 MB written without a take: a few doublings, not a copy per record
    expect(writer.size).toBe(10_000 * 118);
    expect(grows).toBeLessThan(10);
  });
});
