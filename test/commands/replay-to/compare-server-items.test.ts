// What replay --to calls a difference between a recorded server method (with its content)
// and the new server's, and what it learns from the pair for later client frames.
import { describe, expect, it } from 'vitest';
import { encodeContentHeaderFrame, encodeMethodFrame } from '../../../src/decoder/frame-codec.js';
import type { BasicPropertiesInput, MethodArgsInput, MethodName } from '../../../src/decoder/spec.js';
import type { DecodedContentHeader, DecodedMethod, FieldTable } from '../../../src/decoder/types.js';
import type { ServerItem } from '../../../src/commands/replay-to/replay-channel.js';
import { compareServerItems, methodText, NameMap, serverName, type CompareContext } from '../../../src/commands/replay-to/replay-compare.js';
import { decodeStream } from '../../support/decode-stream.js';

function method<N extends MethodName>(name: N, args?: MethodArgsInput<N>): DecodedMethod {
  const frame = decodeStream(encodeMethodFrame(1, name, args))[0]!.decoded;
  if (frame.type !== 'method') throw new Error(`not a method: ${frame.type}`);
  return frame.method;
}

function header(properties: BasicPropertiesInput, bodySize: number): DecodedContentHeader {
  const frame = decodeStream(encodeContentHeaderFrame(1, { classId: 60, bodySize, properties }))[0]!.decoded;
  if (frame.type !== 'header') throw new Error(`not a header: ${frame.type}`);
  return frame.header;
}

function item(m: DecodedMethod, content?: { properties: BasicPropertiesInput; body: string[] }): ServerItem {
  if (!content) return { method: m, body: [], received: 0, complete: true };
  const body = content.body.map((part) => Buffer.from(part));
  const size = body.reduce((n, part) => n + part.length, 0);
  return { method: m, header: header(content.properties, size), body, received: size, complete: true };
}

function context(lastRequest?: DecodedMethod): CompareContext & { names: NameMap; deliveryTags: Map<bigint, bigint> } {
  return { names: new NameMap(), lastRequest, deliveryTags: new Map() };
}

const declareOk = (queue: string, messages: number) => method('queue.declare-ok', { queue, 'message-count': messages, 'consumer-count': 0 });

describe('compareServerItems', () => {
  it('another method than recorded: the channel diverged, both named with their arguments', () => {
    const recorded = item(declareOk('jobs', 0));
    const fresh = item(method('channel.close', { 'reply-code': 404, 'reply-text': 'NOT_FOUND', 'class-id': 50, 'method-id': 10 }));
    expect(compareServerItems(recorded, fresh, context())).toEqual({
      diverged: true,
      text: 'recorded queue.declare-ok queue=jobs message-count=0 consumer-count=0, now channel.close reply-code=404 reply-text=NOT_FOUND class-id=50 method-id=10',
    });
  });

  it('a queue the server named is learnt, not reported; the other fields still are', () => {
    const ctx = context(method('queue.declare', { queue: '', exclusive: true }));
    expect(compareServerItems(item(declareOk('q-1', 0)), item(declareOk('q-2', 3)), ctx)).toEqual({
      diverged: false,
      text: 'queue.declare-ok: message-count: recorded 0, now 3',
    });
    expect(ctx.names.get('q-1')).toBe('q-2');
  });

  it('a queue the client named that comes back otherwise is a difference, and nothing is learnt', () => {
    const ctx = context(method('queue.declare', { queue: 'q-1' }));
    expect(compareServerItems(item(declareOk('q-1', 0)), item(declareOk('q-2', 0)), ctx)).toEqual({
      diverged: false,
      text: 'queue.declare-ok: queue: recorded q-1, now q-2',
    });
    expect(ctx.names.has('q-1')).toBe(false);
  });

  it('a consumer tag the server chose is learnt from consume-ok', () => {
    const ctx = context(method('basic.consume', { queue: 'jobs', 'consumer-tag': '' }));
    const result = compareServerItems(
      item(method('basic.consume-ok', { 'consumer-tag': 'tag-1' })),
      item(method('basic.consume-ok', { 'consumer-tag': 'tag-9' })),
      ctx,
    );
    expect(result).toEqual({ diverged: false });
    expect(ctx.names.get('tag-1')).toBe('tag-9');
  });

  it('a delivery: its tag is learnt, a generated consumer tag mapped; fields, properties and body compared', () => {
    const ctx = context();
    const deliver = (tag: number, consumerTag: string, redelivered: boolean) =>
      method('basic.deliver', { 'consumer-tag': consumerTag, 'delivery-tag': tag, redelivered, exchange: '', 'routing-key': 'jobs' });
    const recorded = item(deliver(1, 'amq.ctag-old', false), { properties: { 'content-type': 'text/plain', priority: 1 }, body: ['ab', 'c'] });
    const fresh = item(deliver(7, 'amq.ctag-new', true), { properties: { 'content-type': 'application/json' }, body: ['abd'] });
    expect(compareServerItems(recorded, fresh, ctx)).toEqual({
      diverged: false,
      text: 'basic.deliver: redelivered: recorded false, now true; property content-type: recorded text/plain, now application/json; property priority: recorded 1, now absent; body: recorded 3 bytes, now 3 bytes (different bytes)',
    });
    expect(ctx.deliveryTags.get(1n)).toBe(7n);
    expect(ctx.names.get('amq.ctag-old')).toBe('amq.ctag-new');
    // a body in other frames but the same bytes is the same body
    const same = compareServerItems(
      item(deliver(2, 'c', false), { properties: {}, body: ['ab', 'c'] }),
      item(deliver(8, 'c', false), { properties: {}, body: ['abc'] }),
      ctx,
    );
    expect(same).toEqual({ diverged: false });
    expect(ctx.deliveryTags.get(2n)).toBe(8n);
    const shorter = compareServerItems(
      item(deliver(3, 'c', false), { properties: {}, body: ['abc'] }),
      item(deliver(9, 'c', false), { properties: {}, body: ['ab'] }),
      ctx,
    );
    expect(shorter.text).toBe('basic.deliver: body: recorded 3 bytes, now 2 bytes');
  });

  it('two normal closes are the same answer whatever their codes and texts; an error close is not', () => {
    const close = (code: number, text: string) => item(method('channel.close', { 'reply-code': code, 'reply-text': text, 'class-id': 0, 'method-id': 0 }));
    expect(compareServerItems(close(200, 'OK'), close(0, ''), context())).toEqual({ diverged: false });
    expect(compareServerItems(close(200, 'OK'), close(406, 'PRECONDITION_FAILED'), context())).toEqual({
      diverged: false,
      text: 'channel.close: reply-code: recorded 200, now 406; reply-text: recorded OK, now PRECONDITION_FAILED',
    });
  });

  it('connection.start and open-ok are not compared field by field; the server is named apart', () => {
    const table = (product: string, version: string): FieldTable => ({
      entries: [
        ['product', { type: 'S', value: product }],
        ['version', { type: 'S', value: version }],
      ],
    });
    const start = (properties: FieldTable) =>
      method('connection.start', { 'version-major': 0, 'version-minor': 9, 'server-properties': properties, mechanisms: 'PLAIN', locales: 'en_US' });
    const recorded = start(table('RabbitMQ', '3.13.0'));
    const fresh = start(table('amqp-spy', '0.1.0'));
    expect(compareServerItems(item(recorded), item(fresh), context())).toEqual({ diverged: false });
    expect(serverName(recorded.args['server-properties'])).toBe('RabbitMQ 3.13.0');
    expect(serverName(undefined)).toBe('unknown server');
    expect(compareServerItems(item(method('connection.open-ok', {})), item(method('connection.open-ok', { 'known-hosts': 'x' })), context())).toEqual({
      diverged: false,
    });
  });

  it('methodText leaves out reserved, false and empty arguments', () => {
    expect(methodText(method('basic.qos-ok'))).toBe('basic.qos-ok');
    expect(methodText(method('queue.declare', { queue: 'jobs', durable: true }))).toBe('queue.declare queue=jobs durable');
  });
});
