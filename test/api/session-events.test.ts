// The events a session keeps and hands out, fed by hand: the history's bounds, waitFor's
// abort and predicate errors, and an iterator that falls behind.

import { describe, expect, it } from 'vitest';
import { HISTORY_MAX_BYTES, ITERATOR_MAX_BACKLOG, SessionEventStream, WaitForError } from '../../src/api/session-events.js';
import type { ConnOpenEvent, SpyEvent } from '../../src/events.js';

let seq = 0;
const open = (conn = 1): ConnOpenEvent => ({
  kind: 'conn.open',
  seq: ++seq,
  ts: 1,
  conn,
  client: { address: '127.0.0.1', port: 1000 },
  server: { address: '127.0.0.1', port: 5672 },
});
/** An undecoded-bytes event holding `size` bytes: its cost is about its size. */
const bytes = (size: number): SpyEvent => ({ kind: 'bytes', seq: ++seq, ts: 1, conn: 1, dir: 'c2s', offset: 0, data: new Uint8Array(size) });

describe('SessionEventStream', () => {
  it('keeps the last N events, and no more than 64 MiB of them', () => {
    const counted = new SessionEventStream(3, () => {});
    for (let i = 0; i < 10; i++) counted.sink(open(i));
    expect(counted.history().map((e) => e.conn)).toEqual([7, 8, 9]);

    const sized = new SessionEventStream(1000, () => {});
    const big = 8 * 1024 * 1024;
    for (let i = 0; i < 20; i++) sized.sink(bytes(big));
    const kept = sized.history();
    expect(kept.length).toBe(Math.floor(HISTORY_MAX_BYTES / (big + 1000)));
    expect(kept.at(-1)!.seq).toBe(seq);
  });

  it('waitFor: an abort rejects with reason aborted; a predicate that throws rejects with its error', async () => {
    const events = new SessionEventStream(10, () => {});
    const abort = new AbortController();
    const aborted = events.waitFor(() => false, { signal: abort.signal });
    abort.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'WaitForError', reason: 'aborted' });
    const throwing = events.waitFor((e) => {
      if (e.kind === 'conn.open') throw new Error('boom');
      return false;
    });
    events.sink(open());
    await expect(throwing).rejects.toThrow('boom');
  });

  it('waitFor after close: the history still answers; else reason closed at once', async () => {
    const events = new SessionEventStream(10, () => {});
    events.sink(open(5));
    events.close();
    expect((await events.waitFor('conn:5')).conn).toBe(5);
    const error = await events.waitFor('conn:6').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitForError);
    expect((error as WaitForError).reason).toBe('closed');
    expect((error as WaitForError).message).toMatch(/^waitFor\("conn:6"\) found nothing: the session is closed; 1 event seen/);
  });

  it('a listener that throws is reported and keeps its later events; the others get every event', () => {
    const errors: unknown[] = [];
    const events = new SessionEventStream(10, (e) => errors.push(e));
    const heard: number[] = [];
    events.on(() => {
      throw new Error('listener bug');
    });
    events.on((e) => heard.push(e.seq));
    events.sink(open());
    events.sink(open());
    expect(heard).toHaveLength(2);
    expect(errors).toHaveLength(2);
  });

  it(`an iterator ${ITERATOR_MAX_BACKLOG} events behind fails with EventBacklogError, after what it had`, async () => {
    const events = new SessionEventStream(0, () => {});
    const iterator = events[Symbol.asyncIterator]();
    for (let i = 0; i < ITERATOR_MAX_BACKLOG + 1; i++) events.sink(open());
    let read = 0;
    const error = await (async () => {
      for (;;) {
        await iterator.next();
        read++;
      }
    })().catch((e: unknown) => e);
    expect(read).toBe(ITERATOR_MAX_BACKLOG);
    expect(error).toMatchObject({ name: 'EventBacklogError' });
  });
});
