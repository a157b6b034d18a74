import { describe, expect, it } from 'vitest';
import type { FieldTable, FieldValue } from '../../src/decoder/types.js';
import { AmqpError } from '../../src/broker/amqp-error.js';
import type { Binding, Exchange } from '../../src/broker/exchange.js';
import { DirectExchange } from '../../src/broker/exchange-direct.js';
import { FanoutExchange } from '../../src/broker/exchange-fanout.js';
import { compileHeadersPattern, headersIndex, headersMatch, HeadersExchange } from '../../src/broker/exchange-headers.js';
import { TopicExchange } from '../../src/broker/exchange-topic.js';
import { checkExchangeType } from '../../src/broker/exchange-types.js';

const props = (name: string) => ({ name, durable: false, autoDelete: false, internal: false, arguments: { entries: [] } });
const t = (...entries: Array<[string, FieldValue]>): FieldTable => ({ entries });
const S = (value: string): FieldValue => ({ type: 'S', value });
const I = (value: number): FieldValue => ({ type: 'I', value });

function routed(x: Exchange, key: string, headers?: FieldTable): string[] {
  const out = new Set<Binding>();
  x.route(key, headers, out);
  return [...out].map((b) => b.destination).sort();
}

describe('direct exchange', () => {
  it('routes on exact key equality, one binding per identity', () => {
    const x = new DirectExchange(props('d'));
    expect(x.bind('queue', 'q1', 'k')).toBe(true);
    expect(x.bind('queue', 'q1', 'k')).toBe(false);
    expect(x.bind('queue', 'q2', 'k')).toBe(true);
    expect(x.bind('queue', 'q3', 'other')).toBe(true);
    expect(x.bind('queue', 'q1', 'k', t(['a', S('1')]))).toBe(true); // other arguments: another binding
    expect(x.bindingCount).toBe(4);
    expect(routed(x, 'k')).toEqual(['q1', 'q1', 'q2']);
    expect(routed(x, 'K')).toEqual([]);
    expect(x.unbind('queue', 'q1', 'k')).toBeDefined();
    expect(x.unbind('queue', 'q1', 'k')).toBeUndefined();
    expect(routed(x, 'k')).toEqual(['q1', 'q2']);
    expect(x.unbindDestination('queue', 'q1')).toHaveLength(1);
    expect(routed(x, 'k')).toEqual(['q2']);
    expect(x.bindingCount).toBe(2);
  });

  it('treats argument order as irrelevant to binding identity', () => {
    const x = new DirectExchange(props('d'));
    x.bind('queue', 'q', 'k', t(['a', S('1')], ['b', S('2')]));
    expect(x.bind('queue', 'q', 'k', t(['b', S('2')], ['a', S('1')]))).toBe(false);
  });
});

describe('fanout exchange', () => {
  it('routes to every binding whatever the key', () => {
    const x = new FanoutExchange(props('f'));
    x.bind('queue', 'a', 'x');
    x.bind('exchange', 'b', '');
    expect(routed(x, 'anything')).toEqual(['a', 'b']);
    x.unbind('queue', 'a', 'x');
    expect(routed(x, '')).toEqual(['b']);
  });
});

describe('topic exchange', () => {
  it('routes the tutorial bindings', () => {
    const x = new TopicExchange(props('t'));
    x.bind('queue', 'Q1', '*.orange.*');
    x.bind('queue', 'Q2', '*.*.rabbit');
    x.bind('queue', 'Q2', 'lazy.#');
    expect(routed(x, 'quick.orange.rabbit')).toEqual(['Q1', 'Q2']);
    expect(routed(x, 'lazy.orange.elephant')).toEqual(['Q1', 'Q2']);
    expect(routed(x, 'quick.orange.fox')).toEqual(['Q1']);
    expect(routed(x, 'lazy.brown.fox')).toEqual(['Q2']);
    expect(routed(x, 'lazy.pink.rabbit')).toEqual(['Q2', 'Q2']); // two bindings, one queue: the vhost dedups
    expect(routed(x, 'quick.brown.fox')).toEqual([]);
    x.unbind('queue', 'Q2', 'lazy.#');
    expect(routed(x, 'lazy.brown.fox')).toEqual([]);
  });
});

describe('headers matching', () => {
  const match = (args: FieldTable, headers: FieldTable | undefined) => headersMatch(compileHeadersPattern(args), headersIndex(headers));
  const table: Array<[string, FieldTable, FieldTable | undefined, boolean]> = [
    ['all: every pair present and equal', t(['x-match', S('all')], ['a', S('1')], ['b', S('2')]), t(['a', S('1')], ['b', S('2')], ['c', S('3')]), true],
    ['all: one differs', t(['x-match', S('all')], ['a', S('1')], ['b', S('2')]), t(['a', S('1')], ['b', S('3')]), false],
    ['all: one missing', t(['x-match', S('all')], ['a', S('1')], ['b', S('2')]), t(['a', S('1')]), false],
    ['default is all', t(['a', S('1')], ['b', S('2')]), t(['a', S('1')]), false],
    ['any: one equal', t(['x-match', S('any')], ['a', S('1')], ['b', S('2')]), t(['b', S('2')]), true],
    ['any: none equal', t(['x-match', S('any')], ['a', S('1')], ['b', S('2')]), t(['a', S('2')]), false],
    ['all with no pairs matches everything', t(), t(['a', S('1')]), true],
    ['all with no pairs matches no headers', t(['x-match', S('all')]), undefined, true],
    ['any with no pairs matches nothing', t(['x-match', S('any')]), t(['a', S('1')]), false],
    ['all ignores x- keys of the binding', t(['x-match', S('all')], ['x-foo', S('1')], ['a', S('1')]), t(['a', S('1')]), true],
    ['any ignores x- keys of the binding', t(['x-match', S('any')], ['x-foo', S('1')]), t(['x-foo', S('1')]), false],
    ['all-with-x compares x- keys', t(['x-match', S('all-with-x')], ['x-foo', S('1')], ['a', S('1')]), t(['a', S('1')]), false],
    ['all-with-x: x- key present', t(['x-match', S('all-with-x')], ['x-foo', S('1')], ['a', S('1')]), t(['a', S('1')], ['x-foo', S('1')]), true],
    ['any-with-x: x- key alone', t(['x-match', S('any-with-x')], ['x-foo', S('1')], ['a', S('1')]), t(['x-foo', S('1')]), true],
    ['void binding value matches presence', t(['a', { type: 'V', value: null }]), t(['a', I(42)]), true],
    ['void binding value needs the header', t(['a', { type: 'V', value: null }]), t(['b', I(42)]), false],
    ['integers of different widths are equal', t(['a', { type: 'b', value: 1 }]), t(['a', { type: 'l', value: 1n }]), true],
    ['an integer equals the same double', t(['a', { type: 'b', value: 1 }]), t(['a', { type: 'd', value: 1 }]), true],
    ['a string is not the number it spells', t(['a', { type: 'b', value: 1 }]), t(['a', S('1')]), false],
    ['booleans', t(['a', { type: 't', value: true }]), t(['a', { type: 't', value: true }]), true],
    ['boolean vs string', t(['a', { type: 't', value: true }]), t(['a', S('true')]), false],
    ['string vs bytes with the same content', t(['a', S('ab')]), t(['a', { type: 'x', value: new Uint8Array([97, 98]) }]), true],
    ['arrays compare typed elements', t(['a', { type: 'A', value: [S('x')] }]), t(['a', { type: 'A', value: [S('x')] }]), true],
    [
      'arrays with other element types differ',
      t(['a', { type: 'A', value: [{ type: 'b', value: 1 }] }]),
      t(['a', { type: 'A', value: [{ type: 'l', value: 1n }] }]),
      false,
    ],
    ['no headers property', t(['a', S('1')]), undefined, false],
  ];
  it.each(table)('%s', (_name, args, headers, expected) => {
    expect(match(args, headers)).toBe(expected);
  });

  it('routes through the exchange and refuses bad x-match values with RabbitMQ texts', () => {
    const x = new HeadersExchange(props('h'));
    x.bind('queue', 'q1', '', t(['x-match', S('any')], ['format', S('pdf')], ['type', S('report')]));
    x.bind('queue', 'q2', '', t(['x-match', S('all')], ['format', S('pdf')], ['type', S('log')]));
    expect(routed(x, 'ignored', t(['format', S('pdf')], ['type', S('log')]))).toEqual(['q1', 'q2']);
    expect(routed(x, 'ignored', t(['type', S('report')]))).toEqual(['q1']);
    expect(routed(x, 'ignored', undefined)).toEqual([]);
    const err = (args: FieldTable) => {
      try {
        x.validateBinding('', args);
      } catch (e) {
        return e as AmqpError;
      }
      throw new Error('accepted');
    };
    const e1 = err(t(['x-match', S('bogus')]));
    expect(e1.replyCode).toBe(406);
    expect(e1.replyText).toBe('PRECONDITION_FAILED - Invalid x-match field value <<"bogus">>; expected all, any, all-with-x, or any-with-x');
    expect(err(t(['x-match', { type: 'b', value: 5 }])).replyText).toBe('PRECONDITION_FAILED - Invalid x-match field type byte (value 5); expected longstr');
  });
});

describe('exchange types', () => {
  it('refuses unknown and empty types with 503 connection errors', () => {
    expect(checkExchangeType('topic')).toBe('topic');
    for (const [type, text] of [
      ['bogus', "COMMAND_INVALID - unknown exchange type 'bogus'"],
      ['', "COMMAND_INVALID - invalid exchange type ''"],
    ] as const) {
      try {
        checkExchangeType(type);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(AmqpError);
        expect((e as AmqpError).replyCode).toBe(503);
        expect((e as AmqpError).hard).toBe(true);
        expect((e as AmqpError).replyText).toBe(text);
      }
    }
  });
});
