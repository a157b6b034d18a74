// The reverse links: a publish learns its confirm, a delivery its ack, a request its RPC reply,
// from the events that come after them.
import { describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type MessageEvent, type SpyEvent } from '../../src/events.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { describeEventDetail } from '../../src/view/event-detail.js';
import { eventRowCells } from '../../src/view/event-row.js';
import { describeLater, LaterFactsIndex } from '../../src/view/later-facts.js';
import { sampleConversation } from '../tui/conversation.js';

const m = encodeMethodFrame;
const messages = (events: readonly SpyEvent[], name: string) => events.filter((e): e is MessageEvent => e.kind === 'message' && e.method.name === name);

function indexed(events: readonly SpyEvent[]): LaterFactsIndex {
  const index = new LaterFactsIndex();
  for (const e of events) index.observe(e);
  return index;
}

describe('LaterFactsIndex', () => {
  it('publishes learn their confirm, deliveries their ack; what a close cut short says so', () => {
    const events = sampleConversation().events;
    const index = indexed(events);
    const publishes = messages(events, 'basic.publish');
    const deliveries = messages(events, 'basic.deliver');
    expect(publishes).toHaveLength(4);
    for (const p of publishes.slice(0, 3)) {
      expect(index.of(p)?.outcome).toMatchObject({ kind: 'confirmed' });
      expect(index.isPending(p)).toBe(false);
    }
    // the publish to a missing exchange: its channel closed with 404 before any confirm
    expect(index.of(publishes[3]!)?.outcome).toMatchObject({ kind: 'closed' });
    expect(index.of(deliveries[0]!)?.outcome).toMatchObject({ kind: 'acked' });
    expect(index.of(deliveries[1]!)?.outcome).toMatchObject({ kind: 'closed' });
    // the row says it, with the delay in the RTT column; the detail links to the ack
    const ack = events.find((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.ack' && e.dir === 'c2s')!;
    const cells = eventRowCells(deliveries[0]!, describeLater(deliveries[0]!, index.of(deliveries[0]!), false));
    expect(cells.detail).toMatch(/→ acked$/);
    // from the deliver method frame to the ack: 6 frames of 1.5 ms apart
    const deliverFrame = events.find((e) => e.seq === deliveries[0]!.frames[0])!;
    expect(ack.ts - deliverFrame.ts).toBe(9000);
    expect(cells.rtt).toBe('9.0 ms');
    const detail = describeEventDetail(deliveries[0]!, { later: { facts: index.of(deliveries[0]!), pending: false } });
    expect(detail.links).toContainEqual({ label: 'its ack', seq: ack.seq });
    expect(eventRowCells(deliveries[1]!, describeLater(deliveries[1]!, index.of(deliveries[1]!), false)).tone).toBe('error');
  });

  it('marks what still waits: a publish awaiting its confirm, a delivery not yet acked', () => {
    const events = sampleConversation().events;
    // up to just before the broker's confirm
    const confirm = events.findIndex((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.ack' && e.dir === 's2c');
    const index = indexed(events.slice(0, confirm));
    const publish = messages(events.slice(0, confirm), 'basic.publish')[0]!;
    expect(index.isPending(publish)).toBe(true);
    expect(describeLater(publish, index.of(publish), true)).toEqual({ text: 'awaiting confirm', tone: 'pending' });
  });

  it('pairs an RPC over direct reply-to across connections, with its round trip', () => {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    let ts = 1_000_000;
    const taps = [1, 2].map((conn) => {
      const tap = new ConnectionTap(conn, bus);
      tap.feed('c2s', encodeProtocolHeader(), ts);
      tap.feed('c2s', m(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': 131072, heartbeat: 0 }), ts);
      return tap;
    });
    const feed = (tap: ConnectionTap, dir: 'c2s' | 's2c', ...frames: Uint8Array[]) => {
      for (const f of frames) tap.feed(dir, f, (ts += 1000));
    };
    const content = (props: Record<string, unknown>, body: string) => encodeContentFrames(1, 60, props, Buffer.from(body), 131072);
    // the client (#1) asks; the server (#2) gets it with the name direct reply-to gave it, and answers
    feed(
      taps[0]!,
      'c2s',
      m(1, 'basic.publish', { exchange: '', 'routing-key': 'rpc' }),
      ...content({ 'reply-to': 'amq.rabbitmq.reply-to', 'correlation-id': 'corr-1' }, 'question'),
    );
    feed(
      taps[1]!,
      's2c',
      m(1, 'basic.deliver', { 'consumer-tag': 'srv', 'delivery-tag': 1n, exchange: '', 'routing-key': 'rpc' }),
      ...content({ 'reply-to': 'amq.rabbitmq.reply-to.g1h2AA.abc', 'correlation-id': 'corr-1' }, 'question'),
    );
    feed(
      taps[1]!,
      'c2s',
      m(1, 'basic.publish', { exchange: '', 'routing-key': 'amq.rabbitmq.reply-to.g1h2AA.abc' }),
      ...content({ 'correlation-id': 'corr-1' }, 'answer'),
    );
    const index = indexed(events);
    const [request, reply] = messages(events, 'basic.publish');
    expect(index.of(request!)?.rpc).toEqual({ role: 'request', otherSeq: reply!.frames[0], correlationId: 'corr-1', rttMicros: reply!.ts - request!.ts });
    expect(index.of(reply!)?.rpc).toMatchObject({ role: 'reply', otherSeq: request!.frames[0] });
    expect(describeLater(reply!, index.of(reply!), false)?.text).toBe('RPC reply');
  });

  it('forgets what is about events the caller no longer holds', () => {
    const events = sampleConversation().events;
    const index = indexed(events);
    const last = events.at(-1)!;
    index.forgetBefore(last.seq + 1);
    for (const e of events) expect(index.of(e)).toBeUndefined();
  });

  it('forgets up to a point: what is about later events stays, a forgotten wait is not settled after', () => {
    const events = sampleConversation().events;
    const confirm = events.findIndex((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.ack' && e.dir === 's2c');
    const publishes = messages(events.slice(0, confirm), 'basic.publish');
    expect(publishes.length).toBeGreaterThan(1);
    const index = new LaterFactsIndex();
    for (const e of events.slice(0, confirm)) index.observe(e);
    // the first publish leaves the caller's buffer while it still waits for its confirm
    index.forgetBefore(publishes[0]!.seq + 1);
    expect(index.isPending(publishes[0]!)).toBe(false);
    expect(index.isPending(publishes[1]!)).toBe(true);
    for (const e of events.slice(confirm)) index.observe(e);
    expect(index.of(publishes[0]!)).toBeUndefined();
    expect(index.of(publishes[1]!)?.outcome).toMatchObject({ kind: 'confirmed' });
    // and then everything up to the last event
    index.forgetBefore(events.at(-1)!.seq + 1);
    for (const e of events) expect(index.of(e)).toBeUndefined();
  });
});
