// The bus every source emits on: sinks are fixed when it is made, and a sink that throws on
// one event loses that event only; the failure is counted and reported without flooding.
import { describe, expect, it } from 'vitest';
import { EventBus, sinkFailureNotices, type SpyEvent } from '../../src/events.js';

const closeEvent = (bus: EventBus, conn = 1): SpyEvent => ({
  kind: 'conn.close',
  seq: bus.nextSeq(),
  ts: 1,
  conn,
  reason: 'test',
  unanswered: [],
  unacked: 0,
  unconfirmed: 0,
});

describe('EventBus', () => {
  it('a sink that throws on one event still gets the next ones; the others get all of them', () => {
    const flaky: number[] = [];
    const steady: number[] = [];
    const notices: string[] = [];
    const bus = new EventBus(
      [
        (e) => {
          if (e.seq === 2) throw new Error('cannot encode this one');
          flaky.push(e.seq);
        },
        (e) => steady.push(e.seq),
      ],
      sinkFailureNotices((line) => notices.push(line), ['the recorder', 'the output']),
    );
    for (let i = 0; i < 4; i++) bus.emit(closeEvent(bus));
    expect(flaky).toEqual([1, 3, 4]);
    expect(steady).toEqual([1, 2, 3, 4]);
    expect(bus.failures).toBe(1);
    expect(notices).toEqual([
      'the recorder failed on event 2 (conn.close, connection 1): cannot encode this one; that event is missing from it, later events still reach it',
    ]);
  });

  it('a sink failing on every event is reported at 1, 10, 100, … failures, not once per event', () => {
    const notices: string[] = [];
    const bus = new EventBus(
      [
        () => {
          throw new Error('disk gone');
        },
      ],
      sinkFailureNotices((line) => notices.push(line)),
    );
    for (let i = 0; i < 1000; i++) bus.emit(closeEvent(bus));
    expect(bus.failures).toBe(1000);
    expect(notices).toHaveLength(4);
    expect(notices[0]).toMatch(/^sink 1 failed on event 1 /);
    expect(notices.slice(1)).toEqual([
      'sink 1 has failed on 10 events so far (latest: event 10: disk gone)',
      'sink 1 has failed on 100 events so far (latest: event 100: disk gone)',
      'sink 1 has failed on 1000 events so far (latest: event 1000: disk gone)',
    ]);
  });
});
