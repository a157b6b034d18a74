// replay --to's publisher confirms: each side's outcome per publish however the broker
// batches them, and the ranges of publishes the final comparison reports.
import { describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../../src/decoder/frame-codec.js';
import type { MethodArgsInput, MethodName } from '../../../src/decoder/spec.js';
import type { DecodedMethod } from '../../../src/decoder/types.js';
import { CONFIRM_ACK, CONFIRM_NACK, CONFIRM_NONE, ChannelConfirms, ConfirmLog, MAX_CONFIRM_RANGES } from '../../../src/commands/replay-to/confirm-log.js';
import { decodeStream } from '../../support/decode-stream.js';

function method<N extends MethodName>(name: N, args?: MethodArgsInput<N>): DecodedMethod {
  const frame = decodeStream(encodeMethodFrame(1, name, args))[0]!.decoded;
  if (frame.type !== 'method') throw new Error(`not a method: ${frame.type}`);
  return frame.method;
}
const ack = (tag: number, multiple = false) => method('basic.ack', { 'delivery-tag': tag, multiple });
const nack = (tag: number, multiple = false) => method('basic.nack', { 'delivery-tag': tag, multiple, requeue: false });

/** Outcomes of publishes 1..n as letters: a(ck), n(ack), - (none). */
function outcomes(log: ConfirmLog, n: number): string {
  let out = '';
  for (let seq = 1; seq <= n; seq++) out += { [CONFIRM_NONE]: '-', [CONFIRM_ACK]: 'a', [CONFIRM_NACK]: 'n' }[log.outcome(seq)];
  return out;
}

/** A channel after confirm.select and `n` publishes. */
function publishing(n: number): ChannelConfirms {
  const confirms = new ChannelConfirms();
  confirms.clientSent(method('confirm.select', { nowait: false }));
  for (let i = 0; i < n; i++) confirms.clientSent(method('basic.publish', { exchange: '', 'routing-key': 'q' }));
  return confirms;
}

const closed = { channelDead: false, recordingClosed: true };

describe('ConfirmLog', () => {
  it('multiple=true settles every publish from the first unsettled one up to the tag, never one settled already', () => {
    const log = new ConfirmLog();
    log.settle(2, true, CONFIRM_ACK, 6);
    expect(outcomes(log, 6)).toBe('aa----');
    log.settle(5, false, CONFIRM_NACK, 6);
    expect(outcomes(log, 6)).toBe('aa--n-');
    // 3, 4 and 6 acked; 5 keeps its nack
    log.settle(6, true, CONFIRM_ACK, 6);
    expect(outcomes(log, 6)).toBe('aaaana');
    expect(log.resolved).toBe(6);
  });

  it('out of order, with gaps: a single confirm settles only its publish, and a later multiple fills the gap', () => {
    const log = new ConfirmLog();
    log.settle(3, false, CONFIRM_ACK, 4);
    expect(outcomes(log, 4)).toBe('--a-');
    log.settle(1, false, CONFIRM_ACK, 4);
    expect(outcomes(log, 4)).toBe('a-a-');
    log.settle(4, true, CONFIRM_NACK, 4);
    expect(outcomes(log, 4)).toBe('anan');
    expect(log.resolved).toBe(4);
    // a second confirm for a publish counts once and keeps the first outcome
    log.settle(2, false, CONFIRM_ACK, 4);
    expect(outcomes(log, 4)).toBe('anan');
    expect(log.resolved).toBe(4);
  });

  it('tag 0 with multiple means every publish so far; a tag past the publishes is cut to them', () => {
    const all = new ConfirmLog();
    all.settle(0, true, CONFIRM_ACK, 3);
    expect(outcomes(all, 4)).toBe('aaa-');
    expect(all.resolved).toBe(3);
    const bogus = new ConfirmLog();
    bogus.settle(2 ** 60, false, CONFIRM_NACK, 2);
    bogus.settle(0, false, CONFIRM_ACK, 2); // tag 0 alone names no publish
    expect(outcomes(bogus, 3)).toBe('-n-');
    expect(bogus.resolved).toBe(1);
  });

  it('grows past its first 64 publishes', () => {
    const log = new ConfirmLog();
    log.settle(150, true, CONFIRM_ACK, 200);
    expect([log.outcome(150), log.outcome(151), log.resolved]).toEqual([CONFIRM_ACK, CONFIRM_NONE, 150]);
    log.settle(200, true, CONFIRM_NACK, 200);
    expect([log.outcome(151), log.outcome(200), log.outcome(201), log.resolved]).toEqual([CONFIRM_NACK, CONFIRM_NACK, CONFIRM_NONE, 200]);
  });
});

describe('ChannelConfirms', () => {
  it('numbers publishes only after confirm.select, and ignores confirms before it', () => {
    const confirms = new ChannelConfirms();
    confirms.clientSent(method('basic.publish', { exchange: '', 'routing-key': 'q' }));
    expect(confirms.settle('fresh', ack(1))).toBe(false);
    expect([confirms.published, confirms.fresh.resolved, confirms.comparable()]).toEqual([0, 0, 0]);
    confirms.clientSent(method('confirm.select', { nowait: false }));
    confirms.clientSent(method('basic.publish', { exchange: '', 'routing-key': 'q' }));
    confirms.clientSent(method('basic.publish', { exchange: '', 'routing-key': 'q' }));
    expect(confirms.settle('fresh', ack(2, true))).toBe(true);
    expect([confirms.published, confirms.fresh.resolved, confirms.comparable()]).toEqual([2, 2, 2]);
    expect(confirms.differences(closed)).toEqual(['publisher confirm of publishes 1-2 of 2: recorded none, now ack']);
    confirms.settle('recorded', ack(1));
    confirms.settle('recorded', ack(2));
    expect(confirms.differences(closed)).toEqual([]);
  });

  it('one range for a run of publishes the brokers batched differently', () => {
    const confirms = publishing(5);
    confirms.settle('recorded', ack(5, true));
    confirms.settle('fresh', ack(2, true));
    confirms.settle('fresh', nack(5, true));
    expect(confirms.differences(closed)).toEqual(['publisher confirm of publishes 3-5 of 5: recorded ack, now nack']);
  });

  it('names single publishes and runs apart; publishes without a confirm count only when the recording closed', () => {
    const confirms = publishing(6);
    confirms.settle('recorded', ack(6, true));
    confirms.settle('fresh', nack(1));
    confirms.settle('fresh', ack(3, true));
    confirms.settle('fresh', nack(4));
    expect(confirms.differences(closed)).toEqual([
      'publisher confirm of publish 1 of 6: recorded ack, now nack',
      'publisher confirm of publish 4 of 6: recorded ack, now nack',
      'publisher confirm of publishes 5-6 of 6: recorded ack, now none',
    ]);
    // a diverged channel's missing confirms were reported already
    expect(confirms.differences({ channelDead: true, recordingClosed: true })).toEqual([
      'publisher confirm of publish 1 of 6: recorded ack, now nack',
      'publisher confirm of publish 4 of 6: recorded ack, now nack',
    ]);

    const cut = publishing(3);
    cut.settle('recorded', ack(1));
    cut.settle('fresh', ack(3, true));
    // a cut recording just ends: its unconfirmed publishes are no difference
    expect(cut.differences({ channelDead: false, recordingClosed: false })).toEqual([]);
    expect(cut.differences(closed)).toEqual(['publisher confirm of publishes 2-3 of 3: recorded none, now ack']);
  });

  it(`reports at most ${MAX_CONFIRM_RANGES} ranges, then how many more`, () => {
    const confirms = publishing(50);
    confirms.settle('recorded', ack(50, true));
    for (let seq = 1; seq <= 50; seq++) confirms.settle('fresh', seq % 2 === 1 ? nack(seq) : ack(seq));
    const lines = confirms.differences(closed);
    expect(lines.length).toBe(MAX_CONFIRM_RANGES + 1);
    expect(lines[0]).toBe('publisher confirm of publish 1 of 50: recorded ack, now nack');
    expect(lines[MAX_CONFIRM_RANGES - 1]).toBe('publisher confirm of publish 39 of 50: recorded ack, now nack');
    expect(lines[MAX_CONFIRM_RANGES]).toBe('publisher confirms: 5 more ranges of publishes differ');
  });

  it('caught up once the new server confirmed as many as the recording had, or once overdue', () => {
    const confirms = publishing(4);
    confirms.settle('recorded', ack(3, true));
    confirms.settle('fresh', ack(2, true));
    expect(confirms.caughtUp()).toBe(false);
    confirms.settle('fresh', nack(4));
    expect(confirms.caughtUp()).toBe(true);
    const late = publishing(1);
    late.settle('recorded', ack(1));
    late.overdue = true;
    expect(late.caughtUp()).toBe(true);
  });
});
