import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../src/broker/amqp-error.js';
import { VirtualHost, serverNamedQueue } from '../../src/broker/vhost.js';
import type { FieldTable, FieldValue } from '../../src/decoder/types.js';
import { FakeClock, int, long, RecordingConsumer, S, table, text } from './broker-fixtures.js';

const CONN = 'conn-1';
const OTHER = 'conn-2';
const b = (s: string) => new TextEncoder().encode(s);
const byte = (value: number): FieldValue => ({ type: 'b', value });

function caught(fn: () => unknown): AmqpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AmqpError) return e;
    throw e;
  }
  throw new Error('expected an AmqpError');
}

function expectError(fn: () => unknown, code: number, text: string): void {
  const e = caught(fn);
  expect({ code: e.replyCode, text: e.replyText }).toEqual({ code, text });
}

function setup() {
  const clock = new FakeClock();
  const vhost = new VirtualHost({ now: clock.now });
  const declare = (
    name: string,
    args: FieldTable = table(),
    extra: { exclusive?: boolean; autoDelete?: boolean; durable?: boolean; connection?: string } = {},
  ) =>
    vhost.declareQueue({
      name,
      connection: extra.connection ?? CONN,
      arguments: args,
      durable: extra.durable ?? false,
      exclusive: extra.exclusive ?? false,
      autoDelete: extra.autoDelete ?? false,
    });
  const drain = (queue: string): string[] => {
    const q = vhost.queueFor(queue, CONN);
    const out: string[] = [];
    for (let r = q.get(true, 'ch'); r !== undefined; r = q.get(true, 'ch')) out.push(text(r.delivery.message.body));
    return out;
  };
  const routed = (exchange: string, key: string, headers?: FieldTable) =>
    vhost
      .route(exchange, key, headers)
      .map((q) => q.name)
      .sort();
  return { clock, vhost, declare, drain, routed };
}

describe('exchange declaration', () => {
  it('has the default and amq.* exchanges', () => {
    const { vhost } = setup();
    expect([...vhost.exchanges()].map((x) => [x.name, x.type])).toEqual([
      ['', 'direct'],
      ['amq.direct', 'direct'],
      ['amq.fanout', 'fanout'],
      ['amq.topic', 'topic'],
      ['amq.headers', 'headers'],
      ['amq.match', 'headers'],
      ['amq.rabbitmq.trace', 'topic'],
    ]);
  });

  it('checks equivalence with RabbitMQ 3.10 texts', () => {
    const { vhost } = setup();
    vhost.declareExchange({ name: 'x', type: 'direct' });
    expect(vhost.declareExchange({ name: 'x', type: 'direct' }).name).toBe('x');
    expectError(
      () => vhost.declareExchange({ name: 'x', type: 'direct', durable: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'x', type: 'fanout' }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'x', type: 'direct', autoDelete: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'x', type: 'direct', internal: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'x', type: 'direct', arguments: table(['alternate-exchange', S('ae')]) }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received the value 'ae' of type 'longstr' but current is none",
    );
    vhost.declareExchange({ name: 'xa', type: 'direct', arguments: table(['alternate-exchange', S('ae')]) });
    expectError(
      () => vhost.declareExchange({ name: 'xa', type: 'direct' }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'xa' in vhost '/': received none but current is the value 'ae' of type 'longstr'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'xa', type: 'direct', arguments: table(['alternate-exchange', S('ae2')]) }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'xa' in vhost '/': received 'ae2' but current is 'ae'",
    );
    // other arguments are not compared
    vhost.declareExchange({ name: 'xa', type: 'direct', arguments: table(['alternate-exchange', S('ae')], ['foo', byte(1)]) });
  });

  it('guards reserved names and the default exchange', () => {
    const { vhost } = setup();
    expectError(
      () => vhost.declareExchange({ name: 'amq.foo', type: 'direct' }),
      403,
      "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'",
    );
    vhost.declareExchange({ name: 'amq.direct', type: 'direct', durable: true });
    expectError(
      () => vhost.declareExchange({ name: 'amq.direct', type: 'fanout', durable: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'amq.direct' in vhost '/': received 'fanout' but current is 'direct'",
    );
    expectError(
      () => vhost.declareExchange({ name: 'amq.direct', type: 'direct' }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.direct' in vhost '/': received 'false' but current is 'true'",
    );
    const defaultText = 'ACCESS_REFUSED - operation not permitted on the default exchange';
    expectError(() => vhost.declareExchange({ name: '', type: 'direct', durable: true }), 403, defaultText);
    expectError(() => vhost.declareExchange({ name: '', type: 'fanout' }), 403, defaultText);
    expectError(() => vhost.declareExchange({ name: '', type: '', passive: true }), 403, defaultText);
    expectError(() => vhost.deleteExchange(''), 403, defaultText);
    vhost.declareQueue({ name: 'q', connection: CONN });
    expectError(() => vhost.bindQueue('q', '', 'k'), 403, defaultText);
    expectError(() => vhost.unbindQueue('q', '', 'q'), 403, defaultText);
    expectError(() => vhost.bindExchange('amq.direct', '', 'k'), 403, defaultText);
    expectError(() => vhost.bindExchange('', 'amq.direct', 'k'), 403, defaultText);
    expectError(() => vhost.deleteExchange('amq.fanout', true), 403, "ACCESS_REFUSED - deletion of system exchange 'amq.fanout' in vhost '/' not allowed");
  });

  it('reports missing exchanges, bad types and bad alternate-exchange arguments', () => {
    const { vhost } = setup();
    expectError(() => vhost.declareExchange({ name: 'nope', type: 'direct', passive: true }), 404, "NOT_FOUND - no exchange 'nope' in vhost '/'");
    expect(vhost.declareExchange({ name: 'amq.topic', type: 'ignored', passive: true }).type).toBe('topic');
    const bogus = caught(() => vhost.declareExchange({ name: 'x', type: 'bogus' }));
    expect([bogus.replyCode, bogus.replyText, bogus.hard]).toEqual([503, "COMMAND_INVALID - unknown exchange type 'bogus'", true]);
    expectError(
      () => vhost.declareExchange({ name: 'xae', type: 'direct', arguments: table(['alternate-exchange', byte(5)]) }),
      406,
      "PRECONDITION_FAILED - invalid type 'byte' for arg 'alternate-exchange' in exchange 'xae' in vhost '/'",
    );
    expect(vhost.exchange('xae')).toBeUndefined();
  });

  it('deletes exchanges: missing is fine, if-unused refuses bound ones', () => {
    const { vhost, declare } = setup();
    vhost.deleteExchange('nope');
    vhost.declareExchange({ name: 'x', type: 'direct' });
    declare('q');
    vhost.bindQueue('q', 'x', 'k');
    expectError(() => vhost.deleteExchange('x', true), 406, "PRECONDITION_FAILED - exchange 'x' in vhost '/' in use");
    vhost.deleteExchange('x');
    expect(vhost.exchange('x')).toBeUndefined();
    expect(vhost.bindings()).toEqual([]);
  });
});

describe('queue declaration', () => {
  it('names server-named queues like RabbitMQ', () => {
    const { vhost } = setup();
    const ok = vhost.declareQueue({ name: '', connection: CONN, exclusive: true });
    expect(ok.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(ok).toMatchObject({ messageCount: 0, consumerCount: 0 });
    expect(serverNamedQueue(() => new Uint8Array(16).fill(255))).toBe('amq.gen-_____________________w');
  });

  it('checks equivalence of durable, auto-delete, exclusivity and x- arguments', () => {
    const { declare } = setup();
    declare('q');
    expectError(
      () => declare('q', table(), { durable: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
    expectError(
      () => declare('q', table(), { autoDelete: true }),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
    expectError(
      () => declare('q', table(), { exclusive: true }),
      405,
      "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.",
    );
    declare('qm', table(['x-max-length', byte(10)]));
    expectError(
      () => declare('qm', table(['x-max-length', byte(20)])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'qm' in vhost '/': received '20' but current is '10'",
    );
    expectError(
      () => declare('qm', table()),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'qm' in vhost '/': received none but current is the value '10' of type 'byte'",
    );
    expectError(
      () => declare('q', table(['x-max-length', byte(20)])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received the value '20' of type 'byte' but current is none",
    );
    expectError(
      () => declare('qm', table(['x-max-length', S('10')])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'qm' in vhost '/': received '10' but current is '10'",
    );
    // an integer and a float are different type classes even with equal values; so are timestamps
    expectError(
      () => declare('qm', table(['x-max-length', { type: 'd', value: 10 }])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'qm' in vhost '/': received '10.0' but current is '10'",
    );
    expectError(
      () => declare('qm', table(['x-max-length', { type: 'T', value: 10n }])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'qm' in vhost '/': received '10' but current is '10'",
    );
    // same value in another integer width, and non-x arguments: equivalent
    declare('qm', table(['x-max-length', long(10)], ['foo', S('bar')]));
    declare('qo', table(['x-overflow', S('drop-head')]));
    expectError(
      () => declare('qo', table(['x-overflow', S('reject-publish')])),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-overflow' for queue 'qo' in vhost '/': received 'reject-publish' but current is 'drop-head'",
    );
    declare('qs', table(['x-single-active-consumer', { type: 't', value: false }]));
    expectError(
      () => declare('qs', table()),
      406,
      "PRECONDITION_FAILED - inequivalent arg 'x-single-active-consumer' for queue 'qs' in vhost '/': received none but current is the value 'false' of type 'bool'",
    );
    // x-queue-type classic equals no type
    declare('q', table(['x-queue-type', S('classic')]));
  });

  it('makes exclusive queues transient', () => {
    const { declare, vhost } = setup();
    declare('e', table(), { exclusive: true, durable: true });
    declare('e', table(), { exclusive: true, durable: false });
    expect(vhost.queue('e')?.durable).toBe(false);
  });

  const invalid: Array<[string, FieldTable, string]> = [
    ['x-max-length string', table(['x-max-length', S('abc')]), `invalid arg 'x-max-length' for queue 'v' in vhost '/': "expected integer, got longstr"`],
    ['x-max-length negative', table(['x-max-length', byte(-1)]), `invalid arg 'x-max-length' for queue 'v' in vhost '/': {value_negative,-1}`],
    [
      'x-max-length double',
      table(['x-max-length', { type: 'd', value: 1.5 }]),
      `invalid arg 'x-max-length' for queue 'v' in vhost '/': "expected integer, got double"`,
    ],
    [
      'x-max-length bool',
      table(['x-max-length', { type: 't', value: true }]),
      `invalid arg 'x-max-length' for queue 'v' in vhost '/': "expected integer, got bool"`,
    ],
    [
      'x-max-length-bytes negative',
      table(['x-max-length-bytes', byte(-1)]),
      `invalid arg 'x-max-length-bytes' for queue 'v' in vhost '/': {value_negative,-1}`,
    ],
    ['x-message-ttl negative', table(['x-message-ttl', byte(-1)]), `invalid arg 'x-message-ttl' for queue 'v' in vhost '/': {value_negative,-1}`],
    [
      'x-message-ttl too large',
      table(['x-message-ttl', long(315360000001)]),
      `invalid arg 'x-message-ttl' for queue 'v' in vhost '/': {value_too_large,315360000001}`,
    ],
    ['x-expires zero', table(['x-expires', byte(0)]), `invalid arg 'x-expires' for queue 'v' in vhost '/': {value_zero,0}`],
    ['x-expires negative', table(['x-expires', byte(-5)]), `invalid arg 'x-expires' for queue 'v' in vhost '/': {value_negative,-5}`],
    [
      'x-expires decimal',
      table(['x-expires', { type: 'D', value: { scale: 0, value: 5 } }]),
      `invalid arg 'x-expires' for queue 'v' in vhost '/': "expected integer, got decimal"`,
    ],
    ['x-max-priority too large', table(['x-max-priority', int(300)]), `invalid arg 'x-max-priority' for queue 'v' in vhost '/': {max_value_exceeded,300}`],
    ['x-overflow bogus', table(['x-overflow', S('bogus')]), `invalid arg 'x-overflow' for queue 'v' in vhost '/': invalid_overflow`],
    ['x-overflow number', table(['x-overflow', byte(5)]), `invalid arg 'x-overflow' for queue 'v' in vhost '/': {unacceptable_type,byte}`],
    [
      'x-dead-letter-exchange number',
      table(['x-dead-letter-exchange', byte(5)]),
      `invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'v' in vhost '/'`,
    ],
    [
      'x-dead-letter-routing-key without dlx',
      table(['x-dead-letter-routing-key', S('rk')]),
      `invalid arg 'x-dead-letter-routing-key' for queue 'v' in vhost '/': routing_key_but_no_dlx_defined`,
    ],
    [
      'x-dead-letter-routing-key number',
      table(['x-dead-letter-exchange', S('d')], ['x-dead-letter-routing-key', byte(5)]),
      `invalid arg 'x-dead-letter-routing-key' for queue 'v' in vhost '/': {unacceptable_type,byte}`,
    ],
    ['x-queue-mode bogus', table(['x-queue-mode', S('bogus')]), `invalid arg 'x-queue-mode' for queue 'v' in vhost '/': "unsupported queue mode 'bogus'"`],
    ['x-queue-type bogus', table(['x-queue-type', S('bogus')]), `invalid arg 'x-queue-type' for queue 'v' in vhost '/': "unsupported queue type 'bogus'"`],
    ['x-queue-type quorum, non-durable', table(['x-queue-type', S('quorum')]), `invalid property 'non-durable' for queue 'v' in vhost '/'`],
    [
      'x-single-active-consumer string',
      table(['x-single-active-consumer', S('yes')]),
      `invalid arg 'x-single-active-consumer' for queue 'v' in vhost '/': {unacceptable_type,longstr}`,
    ],
    [
      'first failure in declare_args order',
      table(['x-max-length', byte(-1)], ['x-expires', byte(0)]),
      `invalid arg 'x-expires' for queue 'v' in vhost '/': {value_zero,0}`,
    ],
    [
      'the channel checks the DLX type first',
      table(['x-expires', byte(0)], ['x-dead-letter-exchange', byte(5)]),
      `invalid type 'byte' for arg 'x-dead-letter-exchange' in queue 'v' in vhost '/'`,
    ],
  ];
  it.each(invalid)('validates arguments: %s', (_name, args, reason) => {
    const { declare, vhost } = setup();
    expectError(() => declare('v', args), 406, `PRECONDITION_FAILED - ${reason}`);
    expect(vhost.queue('v')).toBeUndefined();
  });

  it('accepts the limits RabbitMQ accepts', () => {
    const { declare } = setup();
    declare('a', table(['x-message-ttl', long(315360000000)], ['x-expires', long(315360000000)], ['x-max-priority', int(255)], ['x-max-length', byte(0)]));
    declare(
      'b',
      table(['x-overflow', S('reject-publish-dlx')], ['x-queue-mode', S('lazy')], ['x-dead-letter-exchange', S('')], ['x-max-length', { type: 'i', value: 7 }]),
    );
    declare('c', table(['x-foo', S('anything')]));
  });

  it('refuses amq. names, reports missing queues and exclusive access from other connections', () => {
    const { vhost, declare } = setup();
    expectError(() => declare('amq.foo'), 403, "ACCESS_REFUSED - queue name 'amq.foo' contains reserved prefix 'amq.*'");
    expectError(() => vhost.declareQueue({ name: 'noq', connection: CONN, passive: true }), 404, "NOT_FOUND - no queue 'noq' in vhost '/'");
    expectError(() => vhost.purgeQueue('noq', CONN), 404, "NOT_FOUND - no queue 'noq' in vhost '/'");
    expectError(() => vhost.queueFor('noq', CONN), 404, "NOT_FOUND - no queue 'noq' in vhost '/'");
    expect(vhost.deleteQueue('noq', CONN)).toBe(0);
    declare('qx', table(), { exclusive: true });
    expect(vhost.declareQueue({ name: 'qx', connection: CONN, passive: true }).queue).toBe('qx');
    const locked =
      "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'qx' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";
    expectError(() => declare('qx', table(), { exclusive: true, connection: OTHER }), 405, locked);
    expectError(() => declare('qx', table(), { connection: OTHER }), 405, locked);
    expectError(() => declare('qx', table(), { connection: CONN }), 405, locked);
    expectError(() => vhost.declareQueue({ name: 'qx', connection: OTHER, passive: true }), 405, locked);
    expectError(() => vhost.queueFor('qx', OTHER), 405, locked);
    expectError(() => vhost.bindQueue('qx', 'amq.direct', 'k', table(), OTHER), 405, locked);
    expectError(() => vhost.purgeQueue('qx', OTHER), 405, locked);
    expectError(() => vhost.deleteQueue('qx', OTHER), 405, locked);
  });

  it('deletes queues with if-unused / if-empty and returns the message count', () => {
    const { vhost, declare } = setup();
    declare('q');
    vhost.publish('', 'q', {}, b('a'));
    expectError(() => vhost.deleteQueue('q', CONN, { ifEmpty: true }), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty");
    const c = new RecordingConsumer('c', { prefetch: 1 });
    vhost.queueFor('q', CONN).consume(c);
    vhost.publish('', 'q', {}, b('b'));
    expectError(() => vhost.deleteQueue('q', CONN, { ifUnused: true }), 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' in use");
    expect(vhost.declareQueue({ name: 'q', connection: CONN, passive: true })).toEqual({ queue: 'q', messageCount: 1, consumerCount: 1 });
    expect(vhost.deleteQueue('q', CONN)).toBe(1);
    expect(c.cancelledCount).toBe(1);
    expect(vhost.queue('q')).toBeUndefined();
  });

  it('deletes exclusive queues when their connection closes', () => {
    const { vhost, declare } = setup();
    declare('mine', table(), { exclusive: true });
    declare('theirs', table(), { exclusive: true, connection: OTHER });
    declare('shared');
    vhost.bindQueue('mine', 'amq.fanout', '');
    expect(vhost.connectionClosed(CONN)).toEqual(['mine']);
    expect([...vhost.queues()].map((q) => q.name)).toEqual(['theirs', 'shared']);
    expect(vhost.exchange('amq.fanout')!.bindingCount).toBe(0);
  });
});

describe('bindings', () => {
  it('reports the missing end, the source first', () => {
    const { vhost, declare } = setup();
    vhost.declareExchange({ name: 'x', type: 'direct' });
    declare('q');
    expectError(() => vhost.bindQueue('noq', 'x', 'k'), 404, "NOT_FOUND - no queue 'noq' in vhost '/'");
    expectError(() => vhost.bindQueue('q', 'nox', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
    expectError(() => vhost.bindQueue('noq', 'nox', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
    expectError(() => vhost.bindExchange('nox', 'x', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
    expectError(() => vhost.bindExchange('x', 'nox', 'k'), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
    expectError(() => vhost.bindExchange('nodst', 'nosrc', 'k'), 404, "NOT_FOUND - no exchange 'nosrc' in vhost '/'");
    // unbinding what doesn't exist is fine
    vhost.unbindQueue('q', 'x', 'zz');
    vhost.unbindQueue('q', 'nox', 'zz');
    vhost.unbindQueue('noq', 'amq.direct', 'k');
    vhost.unbindExchange('x', 'nox', 'k');
  });

  it('validates headers bindings when binding', () => {
    const { vhost, declare } = setup();
    declare('q');
    expectError(
      () => vhost.bindQueue('q', 'amq.headers', '', table(['x-match', S('bogus')])),
      406,
      'PRECONDITION_FAILED - Invalid x-match field value <<"bogus">>; expected all, any, all-with-x, or any-with-x',
    );
    expect(vhost.bindings()).toEqual([]);
  });

  it('removes auto-delete exchanges with their last binding, cascading', () => {
    const { vhost, declare } = setup();
    vhost.declareExchange({ name: 'ad', type: 'fanout', autoDelete: true });
    vhost.declareExchange({ name: 'ad2', type: 'fanout', autoDelete: true });
    declare('q1');
    declare('q2');
    vhost.bindQueue('q1', 'ad', '');
    vhost.bindQueue('q2', 'ad', '');
    vhost.unbindQueue('q1', 'ad', '');
    expect(vhost.exchange('ad')).toBeDefined();
    vhost.deleteQueue('q2', CONN);
    expect(vhost.exchange('ad')).toBeUndefined();
    // ad2 → ad3 (auto-delete source loses its only binding when ad3 goes)
    vhost.declareExchange({ name: 'ad3', type: 'fanout' });
    vhost.bindExchange('ad3', 'ad2', '');
    vhost.deleteExchange('ad3');
    expect(vhost.exchange('ad2')).toBeUndefined();
  });
});

describe('routing', () => {
  it('routes by queue name through the default exchange and deduplicates queues', () => {
    const { vhost, declare, routed } = setup();
    declare('q');
    expect(routed('', 'q')).toEqual(['q']);
    expect(routed('', 'missing')).toEqual([]);
    vhost.declareExchange({ name: 't', type: 'topic' });
    vhost.bindQueue('q', 't', 'a.*');
    vhost.bindQueue('q', 't', '#');
    expect(routed('t', 'a.b')).toEqual(['q']);
  });

  it('refuses publishing to a missing or internal exchange', () => {
    const { vhost } = setup();
    expectError(() => vhost.publish('nox', 'k', {}, b('')), 404, "NOT_FOUND - no exchange 'nox' in vhost '/'");
    vhost.declareExchange({ name: 'xi', type: 'direct', internal: true });
    expectError(() => vhost.publish('xi', 'k', {}, b('')), 403, "ACCESS_REFUSED - cannot publish to internal exchange 'xi' in vhost '/'");
  });

  it('follows exchange-to-exchange bindings (internal exchanges included) and terminates on cycles', () => {
    const { vhost, declare, routed } = setup();
    vhost.declareExchange({ name: 'front', type: 'topic' });
    vhost.declareExchange({ name: 'inner', type: 'fanout', internal: true });
    vhost.declareExchange({ name: 'loop', type: 'fanout' });
    declare('q1');
    declare('q2');
    vhost.bindExchange('inner', 'front', 'orders.#');
    vhost.bindQueue('q1', 'inner', '');
    vhost.bindExchange('loop', 'inner', '');
    vhost.bindExchange('front', 'loop', '');
    vhost.bindExchange('inner', 'loop', '');
    vhost.bindQueue('q1', 'loop', '');
    vhost.bindQueue('q2', 'loop', '');
    expect(routed('front', 'orders.new')).toEqual(['q1', 'q2']);
    expect(routed('front', 'other')).toEqual([]);
    vhost.unbindExchange('inner', 'front', 'orders.#');
    expect(routed('front', 'orders.new')).toEqual([]);
  });

  it('falls back to the alternate exchange only when nothing matched, and stops on AE cycles', () => {
    const { vhost, declare, routed } = setup();
    vhost.declareExchange({ name: 'ae', type: 'fanout' });
    vhost.declareExchange({ name: 'main', type: 'direct', arguments: table(['alternate-exchange', S('ae')]) });
    declare('unrouted');
    declare('routed');
    vhost.bindQueue('unrouted', 'ae', '');
    vhost.bindQueue('routed', 'main', 'k');
    expect(routed('main', 'k')).toEqual(['routed']);
    expect(routed('main', 'other')).toEqual(['unrouted']);
    // a1 ⇄ a2 alternate each other with nothing bound: unroutable, and it ends
    vhost.declareExchange({ name: 'a1', type: 'direct', arguments: table(['alternate-exchange', S('a2')]) });
    vhost.declareExchange({ name: 'a2', type: 'fanout', arguments: table(['alternate-exchange', S('a1')]) });
    expect(routed('a1', 'k')).toEqual([]);
    // an AE that doesn't exist is ignored
    vhost.declareExchange({ name: 'lost', type: 'direct', arguments: table(['alternate-exchange', S('missing')]) });
    expect(routed('lost', 'k')).toEqual([]);
  });

  it('routes headers exchanges on headers', () => {
    const { vhost, declare } = setup();
    declare('pdf');
    vhost.bindQueue('pdf', 'amq.match', '', table(['x-match', S('any')], ['format', S('pdf')]));
    expect(vhost.publish('amq.match', '', { headers: table(['format', S('pdf')]) }, b('1')).queues.map((q) => q.name)).toEqual(['pdf']);
    expect(vhost.publish('amq.match', '', { headers: table(['format', S('zip')]) }, b('2')).queues).toEqual([]);
    expect(vhost.publish('amq.match', '', {}, b('3')).queues).toEqual([]);
  });

  it('routes CC and BCC keys, hiding BCC from consumers', () => {
    const { vhost, declare } = setup();
    for (const q of ['main', 'cc', 'bcc']) declare(q);
    const res = vhost.publish('', 'main', { headers: table(['CC', { type: 'A', value: [S('cc')] }], ['BCC', { type: 'A', value: [S('bcc')] }]) }, b('m'));
    expect(res.queues.map((q) => q.name)).toEqual(['main', 'cc', 'bcc']);
    const got = vhost.queueFor('bcc', CONN).get(true, 'ch')!.delivery.message;
    // held as bytes: the entries decode from them
    expect((got.properties['headers'] as FieldTable).entries).toEqual(table(['CC', { type: 'A', value: [S('cc')] }]).entries);
    expect(got.routingKeys).toEqual(['main', 'cc']);
  });

  it('validates the expiration property with RabbitMQ texts', () => {
    const { vhost, declare } = setup();
    declare('q');
    const cases: Array<[string, string]> = [
      ['abc', "invalid expiration 'abc': no_integer"],
      ['5x', `invalid expiration '5x': {leftover_string,"x"}`],
      ['-1', "invalid expiration '-1': {value_negative,-1}"],
      [' 5', "invalid expiration ' 5': no_integer"],
      ['', "invalid expiration '': no_integer"],
      ['315360000001', "invalid expiration '315360000001': {value_too_large,315360000001}"],
    ];
    for (const [expiration, reason] of cases) expectError(() => vhost.publish('', 'q', { expiration }, b('x')), 406, `PRECONDITION_FAILED - ${reason}`);
    expect(vhost.publish('', 'q', { expiration: '+5' }, b('x')).queues).toHaveLength(1);
  });

  it('reports reject-publish refusals for confirms', () => {
    const { vhost, declare } = setup();
    declare('rp', table(['x-max-length', byte(1)], ['x-overflow', S('reject-publish')]));
    declare('other');
    vhost.bindQueue('rp', 'amq.fanout', '');
    vhost.bindQueue('other', 'amq.fanout', '');
    expect(vhost.publish('amq.fanout', '', {}, b('a')).rejected).toBe(false);
    const second = vhost.publish('amq.fanout', '', {}, b('b'));
    expect(second.rejected).toBe(true);
    expect(second.outcomes).toEqual(['rejected', 'queued']);
  });
});

describe('dead-lettering through the vhost', () => {
  function dlxSetup() {
    const s = setup();
    s.vhost.declareExchange({ name: 'dlx', type: 'fanout' });
    s.declare('dlq');
    s.vhost.bindQueue('dlq', 'dlx', '');
    return s;
  }
  const headersOf = (m: { properties: Record<string, unknown> }) => (m.properties['headers'] as FieldTable).entries;
  const A = (...value: FieldValue[]): FieldValue => ({ type: 'A', value });
  const F = (...entries: Array<[string, FieldValue]>): FieldValue => ({ type: 'F', value: { entries } });

  it('builds x-death exactly as RabbitMQ 3.10 on a first reject, and increments on a repeat', () => {
    const { vhost, declare, clock } = dlxSetup();
    declare('src', table(['x-dead-letter-exchange', S('dlx')]));
    const time: FieldValue = { type: 'T', value: BigInt(Math.floor(clock.t / 1000)) };
    vhost.publish('', 'src', { headers: table(['h', S('x')]), expiration: '60000', 'content-type': 'text/plain' }, b('m1'));
    const src = vhost.queueFor('src', CONN);
    src.settle([src.get(false, 'ch')!.delivery.deliveryId], 'reject');
    const dead = vhost.queueFor('dlq', CONN).get(true, 'ch')!.delivery.message;
    expect(dead.exchange).toBe('dlx');
    expect(dead.routingKey).toBe('src');
    expect(dead.properties['expiration']).toBeUndefined();
    expect(dead.properties['content-type']).toBe('text/plain');
    const firstEntry = F(
      ['count', long(1)],
      ['reason', S('rejected')],
      ['queue', S('src')],
      ['time', time],
      ['exchange', S('')],
      ['routing-keys', A(S('src'))],
      ['original-expiration', S('60000')],
    );
    expect(headersOf(dead)).toEqual([
      ['h', S('x')],
      ['x-death', A(firstEntry)],
      ['x-first-death-exchange', S('')],
      ['x-first-death-queue', S('src')],
      ['x-first-death-reason', S('rejected')],
    ]);
    // republish with the same headers; the repeated death increments and sorts the entry
    clock.advance(5000);
    vhost.publish('', 'src', { headers: dead.properties['headers'] as FieldTable }, b('m1'));
    src.settle([src.get(false, 'ch')!.delivery.deliveryId], 'reject');
    const again = vhost.queueFor('dlq', CONN).get(true, 'ch')!.delivery.message;
    expect(headersOf(again)).toEqual([
      ['h', S('x')],
      [
        'x-death',
        A(
          F(
            ['count', long(2)],
            ['exchange', S('')],
            ['original-expiration', S('60000')],
            ['queue', S('src')],
            ['reason', S('rejected')],
            ['routing-keys', A(S('src'))],
            ['time', time],
          ),
        ),
      ],
      ['x-first-death-exchange', S('')],
      ['x-first-death-queue', S('src')],
      ['x-first-death-reason', S('rejected')],
    ]);
    // a death in another queue with a dead-letter routing key goes first, and CC goes away
    declare('src2', table(['x-dead-letter-exchange', S('dlx')], ['x-dead-letter-routing-key', S('newrk')]));
    clock.advance(1000);
    const time2: FieldValue = { type: 'T', value: BigInt(Math.floor(clock.t / 1000)) };
    vhost.publish('', 'src2', { headers: again.properties['headers'] as FieldTable }, b('m1'));
    const src2 = vhost.queueFor('src2', CONN);
    src2.settle([src2.get(false, 'ch')!.delivery.deliveryId], 'reject');
    const third = vhost.queueFor('dlq', CONN).get(true, 'ch')!.delivery.message;
    expect(third.routingKey).toBe('newrk');
    const deaths = headersOf(third).find(([k]) => k === 'x-death')![1];
    expect(deaths).toEqual(
      A(
        F(['count', long(1)], ['exchange', S('')], ['queue', S('src2')], ['reason', S('rejected')], ['routing-keys', A(S('src2'))], ['time', time2]),
        F(
          ['count', long(2)],
          ['exchange', S('')],
          ['original-expiration', S('60000')],
          ['queue', S('src')],
          ['reason', S('rejected')],
          ['routing-keys', A(S('src'))],
          ['time', time],
        ),
      ),
    );
  });

  it('records CC keys and original-expiration on expiry, and maxlen drops', () => {
    const { vhost, declare, clock } = dlxSetup();
    declare('src', table(['x-dead-letter-exchange', S('dlx')]));
    vhost.publish('', 'src', { expiration: '10', headers: table(['CC', A(S('other1'))]) }, b('m2'));
    const time: FieldValue = { type: 'T', value: BigInt(Math.floor(clock.t / 1000)) };
    clock.advance(10);
    vhost.expire();
    const dead = vhost.queueFor('dlq', CONN).get(true, 'ch')!.delivery.message;
    expect(headersOf(dead)).toEqual([
      ['CC', A(S('other1'))],
      [
        'x-death',
        A(
          F(
            ['count', long(1)],
            ['reason', S('expired')],
            ['queue', S('src')],
            ['time', time],
            ['exchange', S('')],
            ['routing-keys', A(S('src'), S('other1'))],
            ['original-expiration', S('10')],
          ),
        ),
      ],
      ['x-first-death-exchange', S('')],
      ['x-first-death-queue', S('src')],
      ['x-first-death-reason', S('expired')],
    ]);
    declare('mlq', table(['x-dead-letter-exchange', S('dlx')], ['x-max-length', byte(1)]));
    vhost.publish('', 'mlq', {}, b('m4'));
    vhost.publish('', 'mlq', {}, b('m5'));
    const dropped = vhost.queueFor('dlq', CONN).get(true, 'ch')!.delivery.message;
    expect(text(dropped.body)).toBe('m4');
    expect(headersOf(dropped).at(-1)).toEqual(['x-first-death-reason', S('maxlen')]);
  });

  it('drops automatic dead-letter cycles but lets rejects cycle', () => {
    const { vhost, declare, clock, drain } = setup();
    // a queue dead-lettering to itself on expiry: the message is dropped
    declare('self', table(['x-dead-letter-exchange', S('')], ['x-message-ttl', int(10)]));
    vhost.publish('', 'self', {}, b('loop'));
    clock.advance(10);
    vhost.expire();
    expect(vhost.queue('self')!.messageCount).toBe(0);
    // a → b → a by expiry: dropped when it would re-enter a
    declare('a', table(['x-dead-letter-exchange', S('')], ['x-dead-letter-routing-key', S('b')], ['x-message-ttl', int(10)]));
    declare('b', table(['x-dead-letter-exchange', S('')], ['x-dead-letter-routing-key', S('a')], ['x-message-ttl', int(20)]));
    vhost.publish('', 'a', {}, b('ab'));
    clock.advance(10);
    vhost.expire();
    expect(vhost.queue('b')!.messageCount).toBe(1);
    clock.advance(20);
    vhost.expire();
    expect(vhost.queue('a')!.messageCount + vhost.queue('b')!.messageCount).toBe(0);
    // rejected back into itself: allowed, every time
    declare('r', table(['x-dead-letter-exchange', S('')]));
    vhost.publish('', 'r', {}, b('again'));
    const r = vhost.queueFor('r', CONN);
    r.settle([r.get(false, 'ch')!.delivery.deliveryId], 'reject');
    r.settle([r.get(false, 'ch')!.delivery.deliveryId], 'reject');
    const final = r.get(true, 'ch')!.delivery.message;
    const deaths = (final.properties['headers'] as FieldTable).entries.find(([k]) => k === 'x-death')![1];
    expect(deaths).toMatchObject({ type: 'A', value: [{ type: 'F', value: { entries: expect.arrayContaining([['count', long(2)]]) } }] });
    expect(drain('r')).toEqual([]);
  });

  it('drops dead letters when the dead-letter exchange does not exist', () => {
    const { vhost, declare } = setup();
    declare('src', table(['x-dead-letter-exchange', S('nowhere')]));
    vhost.publish('', 'src', {}, b('x'));
    const src = vhost.queueFor('src', CONN);
    src.settle([src.get(false, 'ch')!.delivery.deliveryId], 'reject');
    expect(src.messageCount + src.unackedCount).toBe(0);
  });
});

describe('queue lifetime through the vhost', () => {
  it('deletes auto-delete queues after their last consumer, and x-expires queues when unused', () => {
    const { vhost, declare, clock } = setup();
    declare('ad', table(), { autoDelete: true });
    vhost.bindQueue('ad', 'amq.direct', 'ad');
    const c = new RecordingConsumer('c');
    const q = vhost.queueFor('ad', CONN);
    q.consume(c);
    q.cancel(c);
    expect(vhost.queue('ad')).toBeUndefined();
    expect(vhost.exchange('amq.direct')!.bindingCount).toBe(0);

    declare('exp', table(['x-expires', int(1000)]));
    expect(vhost.nextExpiry()).toBe(clock.t + 1000);
    clock.advance(999);
    vhost.expire();
    expect(vhost.queue('exp')).toBeDefined();
    declare('exp', table(['x-expires', int(1000)])); // redeclaring counts as use
    clock.advance(999);
    vhost.expire();
    expect(vhost.queue('exp')).toBeDefined();
    clock.advance(1);
    vhost.expire();
    expect(vhost.queue('exp')).toBeUndefined();
    expect(vhost.nextExpiry()).toBe(Infinity);
  });
});
