// A replayed channel pairs the recorded server methods with the new server's in order,
// replies apart from deliveries, once each has its whole content.
import { describe, expect, it } from 'vitest';
import { encodeContentHeaderFrame, encodeFrame, encodeMethodFrame } from '../../../src/decoder/frame-codec.js';
import type { DecodedFrame } from '../../../src/decoder/types.js';
import { CONFIRM_ACK } from '../../../src/commands/replay-to/confirm-log.js';
import { ReplayChannel, type ServerItem, type Side } from '../../../src/commands/replay-to/replay-channel.js';
import { decodeStream } from '../../support/decode-stream.js';

const decode = (bytes: Uint8Array): DecodedFrame => decodeStream(bytes)[0]!.decoded;
const FRAME_BODY = 3;

function add(ch: ReplayChannel, side: Side, bytes: Uint8Array, line?: number): boolean {
  const frame = decode(bytes);
  if (frame.type === 'method') {
    ch.addMethod(side, frame.method, line);
    return true;
  }
  if (frame.type === 'header' || frame.type === 'body') return ch.addContent(side, frame);
  throw new Error(`unexpected ${frame.type}`);
}

const deliver = (tag: number) => encodeMethodFrame(1, 'basic.deliver', { 'consumer-tag': 'c', 'delivery-tag': tag, exchange: '', 'routing-key': 'jobs' });
const header = (size: number) => encodeContentHeaderFrame(1, { classId: 60, bodySize: size, properties: {} });
const body = (text: string) => encodeFrame(FRAME_BODY, 1, Buffer.from(text));
const pairs = (ch: ReplayChannel) => [...ch.completePairs(() => false)].map(([r, f]) => `${describeItem(r)} = ${describeItem(f)}`);
const describeItem = (item: ServerItem) =>
  `${item.method.name}#${String(item.method.args['delivery-tag'] ?? '')}${item.line !== undefined ? `@${item.line}` : ''}:${Buffer.concat(item.body).toString()}`;

describe('ReplayChannel', () => {
  it('pairs a delivery only once both sides have its whole body, however it was cut into frames', () => {
    const ch = new ReplayChannel();
    add(ch, 'recorded', deliver(1), 10);
    add(ch, 'recorded', header(5));
    add(ch, 'recorded', body('hello'));
    add(ch, 'fresh', deliver(4));
    add(ch, 'fresh', header(5));
    add(ch, 'fresh', body('hel'));
    expect(pairs(ch)).toEqual([]);
    expect(ch.settled()).toBe(false);
    add(ch, 'fresh', body('lo'));
    expect(pairs(ch)).toEqual(['basic.deliver#1@10:hello = basic.deliver#4:hello']);
    expect(ch.settled()).toBe(true);
  });

  it('an empty body is complete at its header; content with no method awaiting it is refused', () => {
    const ch = new ReplayChannel();
    expect(add(ch, 'fresh', header(0))).toBe(false);
    expect(add(ch, 'fresh', body('x'))).toBe(false);
    add(ch, 'recorded', deliver(1));
    add(ch, 'recorded', header(0));
    add(ch, 'fresh', deliver(2));
    add(ch, 'fresh', header(0));
    expect(pairs(ch)).toEqual(['basic.deliver#1: = basic.deliver#2:']);
    // the content is done: a stray body frame is not taken
    expect(add(ch, 'fresh', body('x'))).toBe(false);
  });

  it('replies are paired apart from deliveries, whichever came first', () => {
    const ch = new ReplayChannel();
    add(ch, 'recorded', encodeMethodFrame(1, 'basic.qos-ok'), 1);
    add(ch, 'recorded', deliver(1), 2);
    add(ch, 'recorded', header(0));
    add(ch, 'fresh', deliver(9));
    add(ch, 'fresh', header(0));
    add(ch, 'fresh', encodeMethodFrame(1, 'basic.qos-ok'));
    expect(pairs(ch)).toEqual(['basic.qos-ok#@1: = basic.qos-ok#:', 'basic.deliver#1@2: = basic.deliver#9:']);
  });

  it('stops a stream after the pair that made it stop, and says what is missing or extra', () => {
    const ch = new ReplayChannel();
    for (const line of [1, 2]) add(ch, 'recorded', encodeMethodFrame(1, 'basic.qos-ok'), line);
    for (let i = 0; i < 3; i++) add(ch, 'fresh', encodeMethodFrame(1, 'basic.qos-ok'));
    add(ch, 'recorded', encodeMethodFrame(1, 'basic.recover-ok'), 3);
    const taken = [...ch.completePairs(() => true)];
    expect(taken.map(([r]) => r.line)).toEqual([1]);
    expect(ch.missing().map((i) => i.line)).toEqual([2, 3]);
    expect(ch.extras().length).toBe(2);
    ch.dropRecorded();
    expect([ch.missing().length, ch.settled()]).toEqual([0, true]);
    ch.dropFresh();
    expect(ch.extras().length).toBe(0);
  });

  it('is not settled while it awaits our close-ok, nor while confirms are behind; a dead channel is', () => {
    const ch = new ReplayChannel();
    ch.awaitingCloseOk = true;
    expect(ch.settled()).toBe(false);
    ch.awaitingCloseOk = false;
    ch.confirms.selected = true;
    ch.confirms.published = 1;
    ch.confirms.recorded.settle(1, false, CONFIRM_ACK, 1);
    expect(ch.settled()).toBe(false);
    ch.dead = true;
    expect(ch.settled()).toBe(true);
  });
});
