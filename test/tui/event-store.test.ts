import { describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { EventStore } from '../../src/tui/event-store.js';
import { parseFilter } from '../../src/view/filter.js';
import { findEvent, methodNameOf, sampleConversation } from './conversation.js';

function storeWith(events: readonly import('../../src/events.js').SpyEvent[], capacity = 100_000): EventStore {
  const store = new EventStore(capacity);
  for (const e of events) store.push(e);
  return store;
}

function viewNames(store: EventStore): string[] {
  const names: string[] = [];
  for (let pos = 0; pos < store.viewLength(); pos++) {
    const e = store.at(store.viewAt(pos)!)!;
    names.push(methodNameOf(e) ?? (e.kind === 'frame' ? e.frame.type : e.kind));
  }
  return names;
}

describe('EventStore', () => {
  const { events } = sampleConversation();

  it('shows messages as one row and hides their content frames in message mode', () => {
    const store = storeWith(events);
    const names = viewNames(store);
    expect(names.filter((n) => n === 'basic.publish')).toHaveLength(4);
    expect(names).not.toContain('header');
    expect(names).not.toContain('body');
    const rows = [...Array(store.viewLength()).keys()].map((p) => store.at(store.viewAt(p)!)!);
    expect(rows.filter((e) => e.kind === 'message')).toHaveLength(6);
  });

  it('shows every frame and no message rows in frame mode, and hides heartbeats on request', () => {
    const store = storeWith(events);
    store.setView({ mode: 'frames', hideHeartbeats: false });
    const frames = events.filter((e) => e.kind !== 'message');
    expect(store.viewLength()).toBe(frames.length);
    expect(viewNames(store)).toContain('header');
    expect(viewNames(store).filter((n) => n === 'heartbeat')).toHaveLength(2);
    store.setView({ mode: 'frames', hideHeartbeats: true });
    expect(viewNames(store)).not.toContain('heartbeat');
    expect(store.viewLength()).toBe(frames.length - 2);
  });

  it('applies a filter to the events kept and to those that arrive later', () => {
    const store = storeWith(events.slice(0, 30));
    store.setView({ mode: 'messages', hideHeartbeats: false, filter: parseFilter('method:basic.publish') });
    const before = store.viewLength();
    expect(before).toBe(3);
    for (const e of events.slice(30)) store.push(e);
    expect(store.viewLength()).toBe(4);
    expect(viewNames(store).every((n) => n === 'basic.publish')).toBe(true);
  });

  it('keeps only the last N events, drops the oldest from the view, and finds kept ones by seq', () => {
    const store = storeWith(events, 10);
    expect(store.size).toBe(10);
    expect(store.evicted).toBe(events.length - 10);
    expect(store.firstIndex).toBe(events.length - 10);
    expect(store.findBySeq(events[0]!.seq)).toBeUndefined();
    const last = events[events.length - 1]!;
    expect(store.findBySeq(last.seq)).toBe(last);
    for (let pos = 0; pos < store.viewLength(); pos++) expect(store.viewAt(pos)!).toBeGreaterThanOrEqual(store.firstIndex);
  });

  it('stays bounded however many events pass through it', () => {
    const store = new EventStore(100);
    for (let round = 0; round < 200; round++) for (const e of events) store.push({ ...e, seq: round * 1000 + e.seq });
    expect(store.size).toBe(100);
    expect(store.viewLength()).toBeLessThanOrEqual(100);
    expect(store.total).toBe(events.length * 200);
  });

  it('drops the oldest events when the bytes they hold pass the budget', () => {
    const store = new EventStore(100_000, { maxBytes: 2000 });
    let seq = 0;
    for (let round = 0; round < 50; round++) for (const e of events) store.push({ ...e, seq: ++seq });
    expect(store.bytes).toBeLessThanOrEqual(2000);
    expect(store.bytes).toBeGreaterThan(1000);
    expect(store.size).toBeLessThan(events.length * 2);
    expect(store.findBySeq(seq)).toBeDefined();
  });

  it('maps a linked content frame to the message row that holds it', () => {
    const store = storeWith(events);
    const confirm = findEvent(events, (e) => e.kind === 'frame' && methodNameOf(e) === 'basic.ack' && e.dir === 's2c');
    const publishSeq = confirm.kind === 'frame' ? confirm.insight!.confirms!.publishSeqs[0]! : -1;
    const row = store.rowForSeq(publishSeq)!;
    const target = store.at(row)!;
    expect(target.kind).toBe('message');
    expect(target.kind === 'message' && target.frames).toContain(publishSeq);
    store.setView({ mode: 'frames', hideHeartbeats: false });
    expect(store.at(store.rowForSeq(publishSeq)!)!.seq).toBe(publishSeq);
  });

  it('finds the next and previous match in the view', () => {
    const store = storeWith(events);
    const filter = parseFilter('error');
    const found = store.findInView(filter, -1, 1)!;
    expect(methodNameOf(store.at(store.viewAt(found)!)!)).toBe('channel.close');
    expect(store.findInView(filter, found, 1)).toBeUndefined();
    expect(store.findInView(filter, store.viewLength(), -1)).toBe(found);
  });

  it('clears the list but keeps counters and connections', () => {
    const store = storeWith(events);
    store.clear();
    expect(store.size).toBe(0);
    expect(store.viewLength()).toBe(0);
    expect(store.traffic.framesC2S).toBeGreaterThan(0);
    expect(store.connections.size).toBe(1);
  });

  it('derives the connections view-model from the protocol', () => {
    const conv = sampleConversation(7);
    const store = storeWith(conv.events.slice(0, conv.events.findIndex((e) => methodNameOf(e) === 'basic.ack' && e.kind === 'frame' && e.dir === 'c2s') + 1));
    const conn = store.connections.get(7)!;
    expect(conn.client).toEqual({ address: '127.0.0.1', port: 40007 });
    expect(conn.product).toBe('amqplib');
    expect(conn.version).toBe('0.10.3');
    expect(conn.platform).toBe('Node.JS v20');
    expect(conn.user).toBe('guest');
    expect(conn.vhost).toBe('/prod');
    expect(conn.frameMax).toBe(131072);
    expect(conn.heartbeat).toBe(30);
    const ch = conn.channels.get(1)!;
    expect(ch.state).toBe('open');
    expect(ch.prefetch).toBe(10);
    expect([...ch.consumers]).toEqual(['ctag-1']);
    expect(ch.unacked).toBe(1);
    expect(ch.confirmMode).toBe(true);
    expect(ch.unconfirmed).toBe(0);
    expect(store.openConnections).toBe(1);
  });

  it('marks error closes and closed connections', () => {
    const conv = sampleConversation(3).close('client closed');
    const store = storeWith(conv.events);
    const conn = store.connections.get(3)!;
    expect(conn.state).toBe('closed');
    expect(conn.channels.get(1)!.closeError).toBe('404 NOT_FOUND');
    expect(conn.channels.get(1)!.state).toBe('closed');
    expect(store.openConnections).toBe(0);
  });

  it('a close with reply code 0 (py-amqp, Bunny) is a normal close: no error count, no close error', () => {
    const conv = sampleConversation(4);
    const m = encodeMethodFrame;
    const close = (code: number) => ({ 'reply-code': code, 'reply-text': 'Normal shutdown', 'class-id': 0, 'method-id': 0 });
    conv.send('c2s', m(2, 'channel.open', {})).send('s2c', m(2, 'channel.open-ok', {}));
    conv.send('c2s', m(2, 'channel.close', close(0))).send('s2c', m(2, 'channel.close-ok', {}));
    conv.send('c2s', m(3, 'channel.open', {})).send('s2c', m(3, 'channel.open-ok', {}));
    conv.send('s2c', m(3, 'channel.close', close(0))).send('c2s', m(3, 'channel.close-ok', {}));
    conv.send('c2s', m(0, 'connection.close', close(0))).send('s2c', m(0, 'connection.close-ok', {}));
    const store = storeWith(conv.close('client closed').events);
    const conn = store.connections.get(4)!;
    // the sample's 404 is its one error
    expect(conn.errors).toBe(1);
    expect(conn.closeError).toBeUndefined();
    expect([2, 3].map((id) => [conn.channels.get(id)!.state, conn.channels.get(id)!.closeError])).toEqual([
      ['closed', undefined],
      ['closed', undefined],
    ]);
    store.setView({ mode: 'frames', hideHeartbeats: false, filter: parseFilter('error') });
    expect(viewNames(store)).toEqual(['channel.close']);
  });

  it('counts frames and messages per direction and turns them into rates', () => {
    const store = new EventStore();
    expect(store.rates(0).framesC2S).toBe(0);
    for (const e of events) store.push(e);
    const c2sFrames = events.filter((e) => e.kind === 'frame' && e.dir === 'c2s').length;
    const s2cMessages = events.filter((e) => e.kind === 'message' && e.dir === 's2c').length;
    expect(store.traffic.framesC2S).toBe(c2sFrames);
    expect(store.traffic.messagesS2C).toBe(s2cMessages);
    const rates = store.rates(2000);
    expect(rates.framesC2S).toBeCloseTo(c2sFrames / 2, 5);
    expect(rates.messagesS2C).toBeCloseTo(s2cMessages / 2, 5);
  });

  it('rejects a buffer size that is not a positive integer', () => {
    expect(() => new EventStore(0)).toThrow(RangeError);
  });
});
