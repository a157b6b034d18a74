import { describe, expect, it } from 'vitest';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus, type SpyEvent } from '../../src/events.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { FILTER_KEYS, FilterSyntaxError, parseFilter } from '../../src/view/filter.js';
import { formatEventLine } from '../../src/view/format.js';
import { createSummary } from '../../src/view/summary.js';
import { compileTopicPattern } from '../../src/view/topic-pattern.js';

/** A small two-connection session as events. */
function sessionEvents(): SpyEvent[] {
  const events: SpyEvent[] = [];
  const bus = new EventBus([(e) => events.push(e)]);
  const ts = Date.UTC(2026, 0, 1, 12, 0, 1, 234) * 1000;
  for (const conn of [1, 3]) {
    const tap = new ConnectionTap(conn, bus);
    bus.emit({
      kind: 'conn.open',
      seq: bus.nextSeq(),
      ts,
      conn,
      client: { address: '127.0.0.1', port: 50000 + conn },
      server: { address: '127.0.0.1', port: 5672 },
    });
    tap.feed('c2s', encodeProtocolHeader(), ts);
    tap.feed('c2s', encodeMethodFrame(1, 'queue.declare', { queue: `jobs-${conn}`, durable: true }), ts);
    tap.feed('s2c', encodeMethodFrame(1, 'queue.declare-ok', { queue: `jobs-${conn}` }), ts + 1800);
    tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': conn === 3 ? 'order.created' : 'invoice.paid' }), ts);
    for (const f of encodeContentFrames(1, 60, { 'content-type': 'application/json' }, Buffer.alloc(1229, 0x20), 131072)) tap.feed('c2s', f, ts);
    tap.feed(
      's2c',
      encodeMethodFrame(2, 'channel.close', {
        'reply-code': 404,
        'reply-text': "NOT_FOUND - no exchange 'nope' in vhost '/'",
        'class-id': 60,
        'method-id': 40,
      }),
      ts + 10,
    );
  }
  return events;
}

describe('headless line format', () => {
  const previousTz = process.env['TZ'];
  it('reads like the issue: time, connection, direction, channel, method, key arguments, size, content type', () => {
    process.env['TZ'] = 'UTC';
    try {
      const events = sessionEvents();
      const message = events.find((e) => e.kind === 'message' && e.conn === 3)!;
      expect(formatEventLine(message)).toBe('12:00:01.234 #3 C→S ch1 basic.publish exchange=orders routing-key=order.created 1.2 KB application/json');
      const reply = events.find((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'queue.declare-ok')!;
      expect(formatEventLine(reply)).toMatch(/S→C ch1 queue\.declare-ok queue=jobs-1 .*\[← queue\.declare 1\.8 ms\]/);
      const close = events.find((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'channel.close')!;
      expect(formatEventLine(close)).toContain("[404 NOT_FOUND - no exchange 'nope' in vhost '/']");
    } finally {
      if (previousTz === undefined) delete process.env['TZ'];
      else process.env['TZ'] = previousTz;
    }
  });

  it('colours only when asked', () => {
    const line = formatEventLine(sessionEvents()[1]!, { color: true });
    expect(line).toContain('\u001b[');
    expect(formatEventLine(sessionEvents()[1]!)).not.toContain('\u001b[');
  });
});

describe('filter language', () => {
  const events = sessionEvents();
  const matching = (text: string) => events.filter((e) => parseFilter(text).matches(e));
  const names = (list: SpyEvent[]) => list.map((e) => (e.kind === 'frame' ? (e.frame.type === 'method' ? e.frame.method.name : e.frame.type) : e.kind));

  it('method:, with globs', () => {
    expect(names(matching('method:queue.declare'))).toEqual(['queue.declare', 'queue.declare']);
    expect(new Set(names(matching('method:queue.*')))).toEqual(new Set(['queue.declare', 'queue.declare-ok']));
    expect(matching('method:basic.publish').map((e) => e.kind)).toEqual(['frame', 'message', 'frame', 'message']);
  });

  it('conn:, ch:, dir:, combined as AND, and negated', () => {
    expect(matching('conn:3').every((e) => e.conn === 3)).toBe(true);
    expect(matching('conn:3').length).toBeGreaterThan(3);
    expect(names(matching('ch:2 conn:1'))).toEqual(['channel.close']);
    expect(matching('dir:s2c').every((e) => 'dir' in e && e.dir === 's2c')).toBe(true);
    expect(matching('conn:1 -ch:1').some((e) => (e.kind === 'frame' || e.kind === 'message') && e.channel === 1)).toBe(false);
  });

  it('exchange:, queue:, rk: with topic patterns', () => {
    expect(matching('exchange:orders').length).toBe(4);
    expect(matching('queue:jobs-3').map((e) => e.conn)).toEqual([3, 3]);
    expect(matching('rk:order.*').every((e) => e.conn === 3)).toBe(true);
    expect(matching('rk:#.paid').every((e) => e.conn === 1)).toBe(true);
    expect(matching('rk:order.*').length).toBe(2);
  });

  it('error and free text', () => {
    expect(names(matching('error'))).toEqual(['channel.close', 'channel.close']);
    expect(names(matching('NOT_FOUND conn:1'))).toEqual(['channel.close']);
    expect(matching('"no exchange"')).toHaveLength(2);
  });

  it('bad filters give one-line errors', () => {
    expect(() => parseFilter('colour:red')).toThrow(FilterSyntaxError);
    expect(() => parseFilter('colour:red')).toThrow(/unknown key "colour:"/);
    expect(() => parseFilter('conn:abc')).toThrow(/takes a number/);
    expect(() => parseFilter('dir:up')).toThrow(/c2s or s2c/);
    expect(() => parseFilter('"open')).toThrow(/unclosed quote/);
    expect(parseFilter('  ').empty).toBe(true);
  });

  it('OR combines terms (it was refused before it was supported); a quoted "or" is text', () => {
    expect(new Set(names(matching('method:queue.declare OR method:queue.declare-ok')))).toEqual(new Set(['queue.declare', 'queue.declare-ok']));
    expect(() => parseFilter('a or')).toThrow(/"or" needs a term after it at column 3/);
    expect(matching('"or"').length).toBeGreaterThan(0);
    expect(() => parseFilter('order')).not.toThrow();
  });

  it('documents every key it accepts', () => {
    for (const { key, example } of FILTER_KEYS) expect(() => parseFilter(example), key).not.toThrow();
  });

  it('topic patterns: *, #, empty words', () => {
    const cases: [string, string, boolean][] = [
      ['*.orange.*', 'quick.orange.rabbit', true],
      ['*.orange.*', 'quick.orange', false],
      ['lazy.#', 'lazy', true],
      ['lazy.#', 'lazy.brown.fox', true],
      ['lazy.#', 'lazyx', false],
      ['#', '', true],
      ['#', 'a.b.c', true],
      ['*', '', true],
      ['*', 'a.b', false],
      ['a.#.b', 'a.b', true],
      ['a.#.b', 'a.x.y.b', true],
      ['a.#.b', 'a.x.y', false],
      ['a..b', 'a..b', true],
      ['a.*.b', 'a..b', true],
      ['#.#', 'x', true],
    ];
    for (const [pattern, key, expected] of cases) expect(compileTopicPattern(pattern)(key), `${pattern} ~ ${key}`).toBe(expected);
  });
});

describe('a normal close (reply code 0 or 200, either side) is not an error', () => {
  /** py-amqp and Bunny close with reply code 0; RabbitMQ's error close stays an error. */
  function closingSession(): SpyEvent[] {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    const tap = new ConnectionTap(1, bus);
    const ts = 1_700_000_000_000_000;
    const close = (code: number, text: string) => ({ 'reply-code': code, 'reply-text': text, 'class-id': 0, 'method-id': 0 });
    tap.feed('c2s', encodeProtocolHeader(), ts);
    tap.feed('c2s', encodeMethodFrame(1, 'channel.close', close(0, '')), ts);
    tap.feed('s2c', encodeMethodFrame(1, 'channel.close-ok'), ts);
    tap.feed('s2c', encodeMethodFrame(2, 'channel.close', close(0, 'bye')), ts);
    tap.feed('c2s', encodeMethodFrame(2, 'channel.close-ok'), ts);
    tap.feed('s2c', encodeMethodFrame(3, 'channel.close', { ...close(406, 'PRECONDITION_FAILED - no'), 'class-id': 50, 'method-id': 10 }), ts);
    tap.feed('c2s', encodeMethodFrame(0, 'connection.close', close(0, 'Normal shutdown')), ts);
    tap.feed('s2c', encodeMethodFrame(0, 'connection.close', close(200, 'OK')), ts);
    return events;
  }
  const closes = (events: SpyEvent[]) => events.filter((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name.endsWith('.close'));

  it('prints no error marker for it, only for the real error', () => {
    const lines = closes(closingSession()).map((e) => formatEventLine(e));
    expect(lines).toHaveLength(5);
    expect(lines.filter((l) => l.includes('['))).toEqual([expect.stringContaining('[406 PRECONDITION_FAILED - no]')]);
    for (const line of lines) expect(line).not.toContain('UNKNOWN');
    // only the error is coloured red
    const red = closes(closingSession()).filter((e) => formatEventLine(e, { color: true }).includes('\u001b[31m'));
    expect(red).toHaveLength(1);
  });

  it('the error filter and the summary leave it out', () => {
    const events = closingSession();
    const errors = events.filter((e) => parseFilter('error').matches(e));
    expect(errors.map((e) => (e.kind === 'frame' && e.frame.type === 'method' ? e.frame.method.args['reply-code'] : undefined))).toEqual([406]);
    expect(events.filter((e) => parseFilter('-error method:*.close').matches(e))).toHaveLength(4);
    const summary = createSummary();
    for (const e of events) summary.sink(e);
    expect(summary.counts.errors).toBe(1);
    expect(summary.text()).toContain('; 1 error');
  });
});

describe('free text reaches properties, headers and text bodies', () => {
  /** One published message with a correlation id, a header and a JSON body, and one binary body. */
  function messages(): SpyEvent[] {
    const events: SpyEvent[] = [];
    const bus = new EventBus([(e) => events.push(e)]);
    const tap = new ConnectionTap(1, bus);
    tap.feed('c2s', encodeProtocolHeader(), 1);
    // a 70 KiB body frame needs a negotiated frame-max (4 KiB before tune-ok)
    tap.feed('c2s', encodeMethodFrame(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': 131072, heartbeat: 0 }), 1);
    tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' }), 2);
    const headers = {
      entries: [
        ['trace-id', { type: 'S', value: 'Trace-77' }],
        ['retry', { type: 'A', value: [{ type: 'I', value: 3 }] }],
      ] as const,
    };
    const body = Buffer.from(`${' '.repeat(70 * 1024)}{"customer":"Zelda"}`);
    for (const f of encodeContentFrames(
      1,
      60,
      { 'content-type': 'application/json', 'correlation-id': 'corr-1', headers },
      Buffer.from('{"customer":"Ada Lovelace"}'),
      131072,
    ))
      tap.feed('c2s', f, 3);
    tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' }), 4);
    for (const f of encodeContentFrames(1, 60, {}, Buffer.from([0, 1, 2, 0xff, 0xfe, 0x41, 0x64, 0x61]), 131072)) tap.feed('c2s', f, 5);
    tap.feed('c2s', encodeMethodFrame(1, 'basic.publish', { exchange: 'orders', 'routing-key': 'order.created' }), 6);
    for (const f of encodeContentFrames(1, 60, {}, body, 131072)) tap.feed('c2s', f, 7);
    return events.filter((e) => e.kind === 'message');
  }

  it('finds a correlation id, a header name or value, and body text, and says where', () => {
    const [first, binary, big] = messages();
    expect(formatEventLine(first!)).not.toContain('corr-1');
    const search = parseFilter('corr-1');
    expect(search.matches(first!)).toBe(true);
    expect(search.matchedIn?.(first!)).toEqual(['correlation-id']);
    expect(parseFilter('trace-77').matchedIn?.(first!)).toEqual(['headers.trace-id']);
    expect(parseFilter('trace-id').matches(first!)).toBe(true);
    expect(parseFilter('headers.retry').matches(first!)).toBe(false);
    expect(parseFilter('"ada lovelace"').matchedIn?.(first!)).toEqual(['body']);
    expect(parseFilter('text:lovelace rk:order.*').matches(first!)).toBe(true);
    // the row shows it: no field to name
    expect(parseFilter('order.created').matchedIn?.(first!)).toEqual([]);
    expect(parseFilter('-lovelace').matches(first!)).toBe(false);
    // binary bodies are not text; text past the first 64 KiB is not searched
    expect(parseFilter('ada').matches(binary!)).toBe(false);
    expect(parseFilter('zelda').matches(big!)).toBe(false);
  });
});
