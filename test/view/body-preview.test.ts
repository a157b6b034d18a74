import { gzipSync } from 'node:zlib';
import { encode as encodeMsgpack } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import type { MessageEvent } from '../../src/events.js';
import { messageBodyPreview, plainPreviewBytes } from '../../src/view/body-preview.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';
import { Conversation } from '../tui/conversation.js';

/** The messages a client publishes with these bodies and properties, as the tap makes them. */
function messages(bodies: ReadonlyArray<readonly [Uint8Array, Record<string, unknown>]>): MessageEvent[] {
  const c = new Conversation();
  c.send('c2s', encodeProtocolHeader());
  for (const [body, properties] of bodies)
    c.send(
      'c2s',
      encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' }),
      ...encodeContentFrames(1, 60, properties, body, 131072),
    );
  return c.events.filter((e): e is MessageEvent => e.kind === 'message');
}

function print(events: readonly MessageEvent[], json = false): string[] {
  let out = '';
  const printer = createHeadlessPrinter({ write: (chunk) => (out += Buffer.from(chunk).toString('utf8')), json });
  for (const event of events) printer(event);
  printer.flush();
  return out.trim().split('\n');
}

const utf8 = (s: string) => new Uint8Array(Buffer.from(s));
const ORDER = JSON.stringify({ order: { id: 42, items: [{ sku: 'a-1', qty: 2 }], note: 'x'.repeat(100) } });

describe('headless body previews', () => {
  const events = messages([
    [utf8(ORDER), { 'content-type': 'application/json' }],
    [new Uint8Array(gzipSync(ORDER)), { 'content-type': 'application/json', 'content-encoding': 'gzip' }],
    [encodeMsgpack({ order: { id: 42 } }), { 'content-type': 'application/msgpack' }],
    [utf8('plain\nwords\x1b[31m red'), {}],
    [new Uint8Array([0, 1, 2, 0xff]), {}],
  ]);

  it('ends each message line with a one-line preview of the decoded body, cut', () => {
    const lines = print(events);
    expect(lines).toHaveLength(5);
    const preview = ORDER.slice(0, 79);
    expect(lines[0]).toMatch(new RegExp(`basic\\.publish .* application/json  ${preview.replace(/[[\]{}().*+?]/g, '\\$&')}…$`));
    const decoded = lines[1]!.slice(lines[1]!.indexOf('B application/json  ') + 20);
    expect(decoded).toMatch(/^\{"order": \{"id": 42, "items": \[\{"sku": "a-1", "qty": 2\}\], "note": "x+…$/);
    expect(decoded).toHaveLength(80);
    expect(lines[2]!.endsWith('  {"order": {"id": 42}}')).toBe(true);
    // no escape sequence from a body reaches the terminal
    expect(lines[3]!.endsWith('  plain words [31m red')).toBe(true);
    expect(lines[4]!.endsWith('  <hex 000102ff>')).toBe(true);
  });

  it('previews plain text from its first bytes: whitespace runs as one space, cut at 80', () => {
    const preview = (text: string) => messageBodyPreview(messages([[utf8(text), {}]])[0]!);
    expect(preview('a'.repeat(80))).toBe('a'.repeat(80));
    expect(preview('a'.repeat(81))).toBe(`${'a'.repeat(79)}…`);
    expect(preview('  two  words\n\tand a line  \n')).toBe('two words and a line');
    expect(preview('trailing ')).toBe('trailing');
    expect(preview(`${'word '.repeat(20)}`)).toBe(`${'word '.repeat(16).slice(0, 79)}…`);
    expect(preview('ünïcødé ✓ text')).toBe('ünïcødé ✓ text');
    expect(preview(' ')).toBeUndefined();
  });

  it('--json: the decoded body beside the raw one, with what was done to it', () => {
    const lines = print(events, true).map((l) => JSON.parse(l) as { body: string; decoded: Record<string, unknown> });
    expect(lines[0]!.decoded).toEqual({ format: 'json', value: JSON.parse(ORDER), sniffed: false, note: 'json' });
    expect(lines[1]!.decoded).toMatchObject({ format: 'json', value: JSON.parse(ORDER), encodings: ['gzip'] });
    expect(lines[1]!.decoded.note).toMatch(/^gzip undone \(\d+ → 161 bytes\) · json$/);
    expect(Buffer.from(lines[1]!.body, 'base64').equals(gzipSync(ORDER))).toBe(true);
    expect(lines[2]!.decoded).toMatchObject({ format: 'msgpack', value: { order: { id: 42 } } });
    expect(lines[3]!.decoded).toMatchObject({ format: 'text', value: 'plain\nwords\x1b[31m red', sniffed: true });
    expect(lines[4]!.decoded).toMatchObject({ format: 'hex', value: null });
  });

  it('--json keeps integers beyond 2^53 exact as JSON numbers', () => {
    const [line] = print(messages([[utf8('{"id":9007199254740993}'), { 'content-type': 'application/json' }]]), true);
    expect(line).toContain('"decoded":{"format":"json","value":{"id":9007199254740993}');
  });
});

describe('the headless line copies plain bodies as bytes', () => {
  it('and says the same as the preview made as a string, for bodies plain or not', () => {
    const fc = (bytes: number[]) => new Uint8Array(bytes);
    const alphabet = [0x20, 0x20, 0x0a, 0x09, 0x1b, 0x41, 0x7a, 0x7b, 0x7d, 0x22, 0x7e, 0x7f, 0xc3, 0xa9, 0x80];
    let random = 12345;
    const next = () => {
      random = (random * 1103515245 + 12345) % 2 ** 31;
      return random;
    };
    const bodies: [Uint8Array, Record<string, unknown>][] = [];
    for (let i = 0; i < 400; i++) {
      const length = next() % 120;
      // mostly printable ASCII, sometimes a space run, a control or a UTF-8 byte
      const bytes = Array.from({ length }, () => (next() % 60 === 0 ? alphabet[next() % alphabet.length]! : 0x21 + (next() % 94)));
      const properties = [{}, { 'content-type': 'application/json' }, { 'content-type': 'text/plain' }][i % 3]!;
      bodies.push([fc(bytes), properties]);
    }
    const events = messages(bodies);
    const lines = print(events);
    let fast = 0;
    for (const [i, event] of events.entries()) {
      const preview = messageBodyPreview(event);
      const plain = plainPreviewBytes(event);
      if (plain !== undefined) fast++;
      const line = lines[i]!;
      if (preview === undefined) expect(line, `body ${i}`).not.toMatch(/ B {2}/);
      else expect(line.endsWith(`  ${preview.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, ' ')}`), `body ${i}: ${line}`).toBe(true);
    }
    // both paths were taken
    expect(fast).toBeGreaterThan(20);
    expect(fast).toBeLessThan(events.length);
  });
});
