// replay --to sends recorded client frames with the names and delivery tags the new server
// chose, and credentials that work there; a frame with nothing to change goes as recorded.
import { describe, expect, it } from 'vitest';
import { encodeContentHeaderFrame, encodeMethodFrame } from '../../../src/decoder/frame-codec.js';
import { saslCredentials } from '../../../src/decoder/sasl.js';
import type { DecodedFrame, DecodedMethod } from '../../../src/decoder/types.js';
import { ClientFrameRewriter } from '../../../src/commands/replay-to/client-frame-rewriter.js';
import { NameMap } from '../../../src/commands/replay-to/replay-compare.js';
import { decodeStream } from '../../support/decode-stream.js';

const decode = (bytes: Uint8Array): DecodedFrame => decodeStream(bytes)[0]!.decoded;

function sentMethod(bytes: Uint8Array): DecodedMethod {
  const frame = decode(bytes);
  if (frame.type !== 'method') throw new Error(`not a method: ${frame.type}`);
  return frame.method;
}

const noTags = new Map<bigint, bigint>();
const startOk = (response: string) =>
  encodeMethodFrame(0, 'connection.start-ok', { 'client-properties': { entries: [] }, mechanism: 'PLAIN', response: Buffer.from(response), locale: 'en_US' });

describe('ClientFrameRewriter', () => {
  it('maps learnt names in method arguments and header properties', () => {
    const names = new NameMap();
    names.learn('amq.gen-old', 'amq.gen-new');
    const rewriter = new ClientFrameRewriter(names, false, {});
    const consume = encodeMethodFrame(1, 'basic.consume', { queue: 'amq.gen-old', 'consumer-tag': 'mine' });
    const sent = rewriter.rewrite(decode(consume), consume, noTags);
    expect(sentMethod(sent.bytes).args).toMatchObject({ queue: 'amq.gen-new', 'consumer-tag': 'mine' });
    expect(sent.method?.args['queue']).toBe('amq.gen-new');
    const props = encodeContentHeaderFrame(1, { classId: 60, bodySize: 5, properties: { 'reply-to': 'amq.gen-old', 'correlation-id': 'c1' } });
    const header = decode(rewriter.rewrite(decode(props), props, noTags).bytes);
    expect(header.type === 'header' && header.header.properties).toEqual({ 'reply-to': 'amq.gen-new', 'correlation-id': 'c1' });
    expect(header.type === 'header' && header.header.bodySize).toBe(5n);
  });

  it('sends the recorded bytes themselves when nothing changes', () => {
    const rewriter = new ClientFrameRewriter(new NameMap(), false, {});
    const publish = encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'jobs' });
    const sent = rewriter.rewrite(decode(publish), publish, noTags);
    expect(sent.bytes).toBe(publish);
    expect(sent.method?.name).toBe('basic.publish');
    const props = encodeContentHeaderFrame(1, { classId: 60, bodySize: 1, properties: { 'reply-to': 'jobs' } });
    expect(rewriter.rewrite(decode(props), props, noTags)).toEqual({ bytes: props });
  });

  it("acks, nacks and rejects carry the new server's delivery tag", () => {
    const rewriter = new ClientFrameRewriter(new NameMap(), false, {});
    const tags = new Map([
      [1n, 7n],
      [2n, 2n],
    ]);
    const ack = encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 1, multiple: true });
    expect(sentMethod(rewriter.rewrite(decode(ack), ack, tags).bytes).args).toMatchObject({ 'delivery-tag': 7n, multiple: true });
    const reject = encodeMethodFrame(1, 'basic.reject', { 'delivery-tag': 1, requeue: false });
    expect(sentMethod(rewriter.rewrite(decode(reject), reject, tags).bytes).args['delivery-tag']).toBe(7n);
    // the same tag, or one never delivered here, is left as recorded
    const same = encodeMethodFrame(1, 'basic.nack', { 'delivery-tag': 2, multiple: false, requeue: true });
    expect(rewriter.rewrite(decode(same), same, tags).bytes).toBe(same);
    const unknown = encodeMethodFrame(1, 'basic.ack', { 'delivery-tag': 3, multiple: false });
    expect(rewriter.rewrite(decode(unknown), unknown, tags).bytes).toBe(unknown);
  });

  it("a masked recording's start-ok keeps its user with the password guest, or takes the target's", () => {
    const recorded = startOk('\0alice\0********');
    const masked = new ClientFrameRewriter(new NameMap(), true, {});
    const args = sentMethod(masked.rewrite(decode(recorded), recorded, noTags).bytes).args;
    expect(args['mechanism']).toBe('PLAIN');
    expect(saslCredentials(args['mechanism'], args['response'])).toEqual({ user: 'alice', password: 'guest' });
    const given = new ClientFrameRewriter(new NameMap(), true, { username: 'bob', password: 's3cret' });
    const sent = given.rewrite(decode(recorded), recorded, noTags);
    expect(saslCredentials(sent.method?.args['mechanism'], sent.method?.args['response'])).toEqual({ user: 'bob', password: 's3cret' });
  });

  it('kept credentials go as recorded unless the target gives its own', () => {
    const recorded = startOk('\0alice\0wonder');
    const kept = new ClientFrameRewriter(new NameMap(), false, {});
    expect(kept.rewrite(decode(recorded), recorded, noTags).bytes).toBe(recorded);
    const passwordOnly = new ClientFrameRewriter(new NameMap(), false, { password: 'other' });
    const args = sentMethod(passwordOnly.rewrite(decode(recorded), recorded, noTags).bytes).args;
    expect(saslCredentials(args['mechanism'], args['response'])).toEqual({ user: 'alice', password: 'other' });
  });
});
