// Runs the same declare/bind/delete/publish scenarios against a real RabbitMQ (when one
// listens on 127.0.0.1:5672 with guest/guest) and against the model, and compares every
// outcome: reply codes and texts must be identical. Runs when AMQP_SPY_RABBITMQ_URL is set
// (skipped visibly otherwise); set but unreachable, it fails.

import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { AmqpError } from '../../src/broker/amqp-error.js';
import type { Delivery } from '../../src/broker/queue.js';
import { VirtualHost } from '../../src/broker/vhost.js';
import type { FieldTable, FieldValue } from '../../src/decoder/types.js';

const URL = process.env['AMQP_SPY_RABBITMQ_URL'];

type Conn = 'A' | 'B';
type Args = Array<[string, FieldValue]>;
type Op =
  | { op: 'exchange'; name: string; type?: string; durable?: boolean; autoDelete?: boolean; internal?: boolean; passive?: boolean; args?: Args }
  | { op: 'queue'; name: string; durable?: boolean; exclusive?: boolean; autoDelete?: boolean; passive?: boolean; args?: Args; conn?: Conn }
  | { op: 'bind'; queue: string; exchange: string; key: string; args?: Args; conn?: Conn }
  | { op: 'unbind'; queue: string; exchange: string; key: string }
  | { op: 'bindExchange'; destination: string; source: string; key: string }
  | { op: 'deleteExchange'; name: string; ifUnused?: boolean }
  | { op: 'deleteQueue'; name: string; ifUnused?: boolean; ifEmpty?: boolean; conn?: Conn }
  | { op: 'purge'; name: string; conn?: Conn }
  | { op: 'publish'; exchange: string; key: string; body?: string; expiration?: string; headers?: Args; priority?: number }
  /** basic.get with ack: the message stays unacked until a `settle` names it */
  | { op: 'get'; name: string }
  /** settles the index-th message got so far */
  | { op: 'settle'; index: number; how: 'ack' | 'requeue' | 'reject' };

const S = (value: string): FieldValue => ({ type: 'S', value });
const byte = (value: number): FieldValue => ({ type: 'b', value });
const long = (value: number): FieldValue => ({ type: 'l', value: BigInt(value) });

function toAmqplib(v: FieldValue): unknown {
  switch (v.type) {
    case 'S':
      return typeof v.value === 'string' ? v.value : Buffer.from(v.value);
    case 't':
      return v.value;
    case 'b':
      return { '!': 'byte', value: v.value };
    case 's':
      return { '!': 'short', value: v.value };
    case 'I':
      return { '!': 'int', value: v.value };
    case 'l':
      return { '!': 'long', value: Number(v.value) };
    case 'd':
      return { '!': 'double', value: v.value };
    case 'T':
      return { '!': 'timestamp', value: Number(v.value) };
    case 'V':
      return null;
    case 'A':
      return v.value.map(toAmqplib);
    default:
      throw new Error(`no amqplib encoding for ${v.type} in this test`);
  }
}
const amqplibTable = (args: Args | undefined): Record<string, unknown> => Object.fromEntries((args ?? []).map(([k, v]) => [k, toAmqplib(v)]));
const table = (args: Args | undefined): FieldTable => ({ entries: args ?? [] });

/** `__dlx__` / `__ae__` in a string argument stand for the scenario's (prefixed) exchanges; default-exchange keys are queue names. */
function withNames(ops: readonly Op[], n: (s: string) => string): Op[] {
  const fix = (args: Args | undefined): Args | undefined =>
    args?.map(([k, v]): [string, FieldValue] => [k, v.type === 'S' && (v.value === '__dlx__' || v.value === '__ae__') ? S(n(v.value.slice(2, -2))) : v]);
  return ops.map((o) => {
    if ((o.op === 'queue' || o.op === 'exchange') && o.args !== undefined) return { ...o, args: fix(o.args)! };
    // the default exchange routes by queue name: the key is a (prefixed) queue name
    if (o.op === 'publish' && o.exchange === '') return { ...o, key: n(o.key) };
    return o;
  });
}

/** Names the scenario uses get a per-run prefix; built-ins and the default exchange don't. */
function namer(prefix: string) {
  return (name: string) => (name === '' || name.startsWith('amq.') ? name : prefix + name);
}

function errorOutcome(code: number, text: string): string {
  return `${code} ${text}`;
}

async function runOnRabbit(conns: Record<Conn, amqp.ChannelModel>, ops: readonly Op[], n: (s: string) => string, used: Set<string>): Promise<string[]> {
  const channels = new Map<Conn, amqp.Channel>();
  const channel = async (c: Conn = 'A') => {
    let ch = channels.get(c);
    if (ch === undefined) {
      ch = await conns[c].createChannel();
      ch.on('error', () => {});
      channels.set(c, ch);
    }
    return ch;
  };
  const out: string[] = [];
  const got: amqp.GetMessage[] = [];
  try {
    for (const o of ops) {
      try {
        switch (o.op) {
          case 'exchange': {
            const ch = await channel();
            used.add(`x:${n(o.name)}`);
            if (o.passive === true) await ch.checkExchange(n(o.name));
            else
              await ch.assertExchange(n(o.name), o.type ?? 'direct', {
                durable: o.durable ?? false,
                autoDelete: o.autoDelete ?? false,
                internal: o.internal ?? false,
                arguments: amqplibTable(o.args),
              });
            out.push('ok');
            break;
          }
          case 'queue': {
            const ch = await channel(o.conn);
            used.add(`q:${n(o.name)}`);
            const r =
              o.passive === true
                ? await ch.checkQueue(n(o.name))
                : await ch.assertQueue(n(o.name), {
                    durable: o.durable ?? false,
                    exclusive: o.exclusive ?? false,
                    autoDelete: o.autoDelete ?? false,
                    arguments: amqplibTable(o.args),
                  });
            out.push(`ok ${r.messageCount}/${r.consumerCount}`);
            break;
          }
          case 'bind':
            await (await channel(o.conn)).bindQueue(n(o.queue), n(o.exchange), o.key, amqplibTable(o.args));
            out.push('ok');
            break;
          case 'unbind':
            await (await channel()).unbindQueue(n(o.queue), n(o.exchange), o.key);
            out.push('ok');
            break;
          case 'bindExchange':
            await (await channel()).bindExchange(n(o.destination), n(o.source), o.key);
            out.push('ok');
            break;
          case 'deleteExchange':
            await (await channel()).deleteExchange(n(o.name), { ifUnused: o.ifUnused ?? false });
            out.push('ok');
            break;
          case 'deleteQueue': {
            const r = await (await channel(o.conn)).deleteQueue(n(o.name), { ifUnused: o.ifUnused ?? false, ifEmpty: o.ifEmpty ?? false });
            out.push(`ok ${r.messageCount}`);
            break;
          }
          case 'purge': {
            const r = await (await channel(o.conn)).purgeQueue(n(o.name));
            out.push(`ok ${r.messageCount}`);
            break;
          }
          case 'publish': {
            const ch = await channel();
            const options: amqp.Options.Publish = {};
            if (o.expiration !== undefined) options.expiration = o.expiration;
            if (o.headers !== undefined) options.headers = amqplibTable(o.headers);
            if (o.priority !== undefined) options.priority = o.priority;
            ch.publish(n(o.exchange), o.key, Buffer.from(o.body ?? ''), options);
            await ch.checkExchange('amq.direct'); // a round trip: a channel error shows up here
            out.push('ok');
            break;
          }
          case 'get': {
            const m = await (await channel()).get(n(o.name), { noAck: false });
            if (m === false) out.push('ok empty');
            else {
              got.push(m);
              out.push(`ok ${m.content.toString()}${m.fields.redelivered ? '*' : ''} ${m.fields.messageCount}`);
            }
            break;
          }
          case 'settle': {
            const ch = await channel();
            const m = got[o.index]!;
            if (o.how === 'ack') ch.ack(m);
            else ch.nack(m, false, o.how === 'requeue');
            out.push('ok');
            break;
          }
        }
      } catch (e) {
        const m = /(\d{3}) \([^)]*\) with message "(.*)"$/s.exec((e as Error).message);
        out.push(m === null ? `client error ${(e as Error).message}` : errorOutcome(Number(m[1]), m[2]!));
        break;
      }
    }
  } finally {
    for (const ch of channels.values()) await ch.close().catch(() => {});
  }
  return out;
}

function runOnModel(ops: readonly Op[], n: (s: string) => string): string[] {
  const vhost = new VirtualHost();
  const out: string[] = [];
  const got: Delivery[] = [];
  for (const o of ops) {
    try {
      switch (o.op) {
        case 'exchange':
          vhost.declareExchange({
            name: n(o.name),
            type: o.type ?? 'direct',
            passive: o.passive ?? false,
            durable: o.durable ?? false,
            autoDelete: o.autoDelete ?? false,
            internal: o.internal ?? false,
            arguments: table(o.args),
          });
          out.push('ok');
          break;
        case 'queue': {
          const r = vhost.declareQueue({
            name: n(o.name),
            connection: o.conn ?? 'A',
            passive: o.passive ?? false,
            durable: o.durable ?? false,
            exclusive: o.exclusive ?? false,
            autoDelete: o.autoDelete ?? false,
            arguments: table(o.args),
          });
          out.push(`ok ${r.messageCount}/${r.consumerCount}`);
          break;
        }
        case 'bind':
          vhost.bindQueue(n(o.queue), n(o.exchange), o.key, table(o.args), o.conn ?? 'A');
          out.push('ok');
          break;
        case 'unbind':
          vhost.unbindQueue(n(o.queue), n(o.exchange), o.key, table(undefined), 'A');
          out.push('ok');
          break;
        case 'bindExchange':
          vhost.bindExchange(n(o.destination), n(o.source), o.key);
          out.push('ok');
          break;
        case 'deleteExchange':
          vhost.deleteExchange(n(o.name), o.ifUnused ?? false);
          out.push('ok');
          break;
        case 'deleteQueue':
          out.push(`ok ${vhost.deleteQueue(n(o.name), o.conn ?? 'A', { ifUnused: o.ifUnused ?? false, ifEmpty: o.ifEmpty ?? false })}`);
          break;
        case 'purge':
          out.push(`ok ${vhost.purgeQueue(n(o.name), o.conn ?? 'A')}`);
          break;
        case 'publish': {
          const props: Record<string, string | number | FieldTable> = {};
          if (o.expiration !== undefined) props['expiration'] = o.expiration;
          if (o.headers !== undefined) props['headers'] = table(o.headers);
          if (o.priority !== undefined) props['priority'] = o.priority;
          vhost.publish(n(o.exchange), o.key, props, new TextEncoder().encode(o.body ?? ''));
          out.push('ok');
          break;
        }
        case 'get': {
          const r = vhost.queueFor(n(o.name), 'A').get(false, 'A');
          if (r === undefined) out.push('ok empty');
          else {
            got.push(r.delivery);
            out.push(`ok ${new TextDecoder().decode(r.delivery.message.body)}${r.delivery.redelivered ? '*' : ''} ${r.messageCount}`);
          }
          break;
        }
        case 'settle': {
          const d = got[o.index]!;
          d.queue.settle([d.deliveryId], o.how);
          out.push('ok');
          break;
        }
      }
    } catch (e) {
      if (!(e instanceof AmqpError)) throw e;
      out.push(errorOutcome(e.replyCode, e.replyText));
      break;
    }
  }
  return out;
}

const scenarios: Record<string, Op[]> = {
  'exchange durable mismatch': [
    { op: 'exchange', name: 'x' },
    { op: 'exchange', name: 'x', durable: true },
  ],
  'exchange type mismatch': [
    { op: 'exchange', name: 'x' },
    { op: 'exchange', name: 'x', type: 'fanout' },
  ],
  'exchange auto-delete mismatch': [
    { op: 'exchange', name: 'x' },
    { op: 'exchange', name: 'x', autoDelete: true },
  ],
  'exchange internal mismatch': [
    { op: 'exchange', name: 'x' },
    { op: 'exchange', name: 'x', internal: true },
  ],
  'alternate-exchange added': [
    { op: 'exchange', name: 'x' },
    { op: 'exchange', name: 'x', args: [['alternate-exchange', S('ae')]] },
  ],
  'alternate-exchange removed': [
    { op: 'exchange', name: 'x', args: [['alternate-exchange', S('ae')]] },
    { op: 'exchange', name: 'x' },
  ],
  'alternate-exchange changed': [
    { op: 'exchange', name: 'x', args: [['alternate-exchange', S('ae')]] },
    { op: 'exchange', name: 'x', args: [['alternate-exchange', S('ae2')]] },
  ],
  'alternate-exchange of the wrong type': [{ op: 'exchange', name: 'x', args: [['alternate-exchange', byte(5)]] }],
  'reserved exchange name': [{ op: 'exchange', name: 'amq.spy-test' }],
  'amq.direct redeclared': [
    { op: 'exchange', name: 'amq.direct', durable: true },
    { op: 'exchange', name: 'amq.direct' },
  ],
  'default exchange declared': [{ op: 'exchange', name: '', durable: true }],
  'default exchange passive': [{ op: 'exchange', name: '', passive: true }],
  'missing exchange passive': [{ op: 'exchange', name: 'nope', passive: true }],
  'delete missing exchange, then default': [
    { op: 'deleteExchange', name: 'nope' },
    { op: 'deleteExchange', name: '' },
  ],
  'delete system exchange': [{ op: 'deleteExchange', name: 'amq.fanout', ifUnused: true }],
  'delete bound exchange if unused': [
    { op: 'exchange', name: 'x' },
    { op: 'queue', name: 'q' },
    { op: 'bind', queue: 'q', exchange: 'x', key: 'k' },
    { op: 'deleteExchange', name: 'x', ifUnused: true },
  ],
  'bind to a missing queue': [
    { op: 'exchange', name: 'x' },
    { op: 'bind', queue: 'noq', exchange: 'x', key: 'k' },
  ],
  'bind with both ends missing': [{ op: 'bind', queue: 'noq', exchange: 'nox', key: 'k' }],
  'bind to the default exchange': [
    { op: 'queue', name: 'q' },
    { op: 'bind', queue: 'q', exchange: '', key: 'k' },
  ],
  'unbind nothing, then from the default exchange': [
    { op: 'queue', name: 'q' },
    { op: 'unbind', queue: 'q', exchange: 'amq.direct', key: 'zz' },
    { op: 'unbind', queue: 'q', exchange: 'nox', key: 'zz' },
    { op: 'unbind', queue: 'q', exchange: '', key: 'q' },
  ],
  'exchange-to-exchange with missing ends': [
    { op: 'exchange', name: 'x' },
    { op: 'bindExchange', destination: 'x', source: 'nosrc', key: 'k' },
  ],
  'exchange-to-exchange to a missing destination': [
    { op: 'exchange', name: 'x' },
    { op: 'bindExchange', destination: 'nodst', source: 'x', key: 'k' },
  ],
  'headers binding with a bad x-match': [
    { op: 'queue', name: 'q' },
    { op: 'bind', queue: 'q', exchange: 'amq.headers', key: '', args: [['x-match', S('bogus')]] },
  ],
  'headers binding with a numeric x-match': [
    { op: 'queue', name: 'q' },
    { op: 'bind', queue: 'q', exchange: 'amq.headers', key: '', args: [['x-match', byte(5)]] },
  ],
  'queue durable mismatch': [
    { op: 'queue', name: 'q' },
    { op: 'queue', name: 'q', durable: true },
  ],
  'queue auto-delete mismatch': [
    { op: 'queue', name: 'q' },
    { op: 'queue', name: 'q', autoDelete: true },
  ],
  'queue exclusive mismatch': [
    { op: 'queue', name: 'q' },
    { op: 'queue', name: 'q', exclusive: true },
  ],
  'queue x-max-length changed': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(10)]] },
    { op: 'queue', name: 'q', args: [['x-max-length', byte(20)]] },
  ],
  'queue x-max-length removed': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(10)]] },
    { op: 'queue', name: 'q' },
  ],
  'queue x-max-length as long and string': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(10)]] },
    {
      op: 'queue',
      name: 'q',
      args: [
        ['x-max-length', long(10)],
        ['foo', S('bar')],
      ],
    },
    { op: 'queue', name: 'q', args: [['x-max-length', S('10')]] },
  ],
  'queue x-max-length as double': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(10)]] },
    { op: 'queue', name: 'q', args: [['x-max-length', { type: 'd', value: 10 }]] },
  ],
  'queue x-message-ttl changed': [
    { op: 'queue', name: 'q', args: [['x-message-ttl', byte(10)]] },
    { op: 'queue', name: 'q', args: [['x-message-ttl', byte(20)]] },
  ],
  'queue x-queue-type classic is the default': [
    { op: 'queue', name: 'q' },
    { op: 'queue', name: 'q', args: [['x-queue-type', S('classic')]] },
  ],
  'x-max-length string': [{ op: 'queue', name: 'q', args: [['x-max-length', S('abc')]] }],
  'x-max-length negative': [{ op: 'queue', name: 'q', args: [['x-max-length', byte(-1)]] }],
  'x-message-ttl too large': [{ op: 'queue', name: 'q', args: [['x-message-ttl', long(315360000001)]] }],
  'x-message-ttl at the limit': [{ op: 'queue', name: 'q', args: [['x-message-ttl', long(315360000000)]] }],
  'x-expires zero': [{ op: 'queue', name: 'q', args: [['x-expires', byte(0)]] }],
  'x-max-priority too large': [{ op: 'queue', name: 'q', args: [['x-max-priority', { type: 's', value: 256 }]] }],
  'x-overflow bogus': [{ op: 'queue', name: 'q', args: [['x-overflow', S('bogus')]] }],
  'x-dead-letter-exchange numeric': [{ op: 'queue', name: 'q', args: [['x-dead-letter-exchange', byte(5)]] }],
  'x-dead-letter-routing-key alone': [{ op: 'queue', name: 'q', args: [['x-dead-letter-routing-key', S('rk')]] }],
  'x-queue-mode bogus': [{ op: 'queue', name: 'q', args: [['x-queue-mode', S('bogus')]] }],
  'x-single-active-consumer string': [{ op: 'queue', name: 'q', args: [['x-single-active-consumer', S('yes')]] }],
  'validation order': [
    {
      op: 'queue',
      name: 'q',
      args: [
        ['x-max-length', byte(-1)],
        ['x-expires', byte(0)],
      ],
    },
  ],
  'reserved queue name': [{ op: 'queue', name: 'amq.spy-test' }],
  'missing queue passive': [{ op: 'queue', name: 'noq', passive: true }],
  'purge a missing queue': [{ op: 'purge', name: 'noq' }],
  'delete a missing queue': [{ op: 'deleteQueue', name: 'noq' }],
  'delete a non-empty queue if empty': [
    { op: 'queue', name: 'q' },
    { op: 'publish', exchange: '', key: 'q', body: 'a' },
    { op: 'publish', exchange: '', key: 'q', body: 'b' },
    { op: 'queue', name: 'q', passive: true },
    { op: 'purge', name: 'q' },
    { op: 'publish', exchange: '', key: 'q' },
    { op: 'queue', name: 'q', passive: true },
    { op: 'deleteQueue', name: 'q', ifEmpty: true },
  ],
  'delete returns the count': [
    { op: 'queue', name: 'q' },
    { op: 'publish', exchange: '', key: 'q' },
    { op: 'queue', name: 'q', passive: true },
    { op: 'deleteQueue', name: 'q' },
  ],
  'exclusive queue from another connection': [
    { op: 'queue', name: 'q', exclusive: true },
    { op: 'queue', name: 'q', passive: true },
    { op: 'queue', name: 'q', conn: 'B' },
  ],
  'exclusive queue passive from another connection': [
    { op: 'queue', name: 'q', exclusive: true },
    { op: 'queue', name: 'q', passive: true, conn: 'B' },
  ],
  'exclusive queue bound from another connection': [
    { op: 'queue', name: 'q', exclusive: true },
    { op: 'bind', queue: 'q', exchange: 'amq.direct', key: 'k', conn: 'B' },
  ],
  'exclusive queue purged from another connection': [
    { op: 'queue', name: 'q', exclusive: true },
    { op: 'purge', name: 'q', conn: 'B' },
  ],
  'exclusive queue deleted from another connection': [
    { op: 'queue', name: 'q', exclusive: true },
    { op: 'deleteQueue', name: 'q', conn: 'B' },
  ],
  'publish to a missing exchange': [{ op: 'publish', exchange: 'nox', key: 'k' }],
  'publish to an internal exchange': [
    { op: 'exchange', name: 'xi', internal: true },
    { op: 'publish', exchange: 'xi', key: 'k' },
  ],
  'publish with bad expirations': [
    { op: 'queue', name: 'q' },
    { op: 'publish', exchange: '', key: 'q', expiration: '+5' },
    { op: 'publish', exchange: '', key: 'q', expiration: '5x' },
  ],
  'publish with a negative expiration': [{ op: 'publish', exchange: '', key: 'q', expiration: '-1' }],
  'publish with a non-numeric expiration': [{ op: 'publish', exchange: '', key: 'q', expiration: 'abc' }],
  'max-length drop-head count': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(2)]] },
    ...['a', 'b', 'c'].map((body): Op => ({ op: 'publish', exchange: '', key: 'q', body })),
    { op: 'queue', name: 'q', passive: true },
  ],
  'max-length-bytes count': [
    { op: 'queue', name: 'q', args: [['x-max-length-bytes', byte(5)]] },
    ...['aa', 'bb', 'cc'].map((body): Op => ({ op: 'publish', exchange: '', key: 'q', body })),
    { op: 'queue', name: 'q', passive: true },
  ],
  'routing through topic, e2e, fanout and CC/BCC': [
    { op: 'exchange', name: 't', type: 'topic' },
    { op: 'exchange', name: 'f', type: 'fanout', internal: true },
    { op: 'queue', name: 'q1' },
    { op: 'queue', name: 'q2' },
    { op: 'queue', name: 'q3' },
    { op: 'bindExchange', destination: 'f', source: 't', key: '*.orange.*' },
    { op: 'bind', queue: 'q1', exchange: 't', key: 'lazy.#' },
    { op: 'bind', queue: 'q2', exchange: 'f', key: '' },
    { op: 'publish', exchange: 't', key: 'lazy.orange.rabbit' },
    { op: 'publish', exchange: 't', key: 'quick.orange.fox' },
    {
      op: 'publish',
      exchange: 't',
      key: 'x',
      headers: [
        ['CC', { type: 'A', value: [S('lazy.y')] }],
        ['BCC', { type: 'A', value: [S('a.orange.b')] }],
      ],
    },
    { op: 'queue', name: 'q1', passive: true },
    { op: 'queue', name: 'q2', passive: true },
    { op: 'queue', name: 'q3', passive: true },
  ],
  'requeue puts messages back at their original position': [
    { op: 'queue', name: 'q' },
    ...['1', '2', '3', '4', '5'].map((body): Op => ({ op: 'publish', exchange: '', key: 'q', body })),
    { op: 'get', name: 'q' },
    { op: 'get', name: 'q' },
    { op: 'get', name: 'q' },
    { op: 'settle', index: 1, how: 'requeue' },
    { op: 'settle', index: 0, how: 'requeue' },
    { op: 'publish', exchange: '', key: 'q', body: '6' },
    ...Array.from({ length: 6 }, (): Op => ({ op: 'get', name: 'q' })),
  ],
  'priorities, capped at x-max-priority, FIFO within one': [
    { op: 'queue', name: 'q', args: [['x-max-priority', byte(5)]] },
    { op: 'publish', exchange: '', key: 'q', body: 'p0' },
    { op: 'publish', exchange: '', key: 'q', body: 'p9', priority: 9 },
    { op: 'publish', exchange: '', key: 'q', body: 'p5', priority: 5 },
    { op: 'publish', exchange: '', key: 'q', body: 'p3', priority: 3 },
    { op: 'publish', exchange: '', key: 'q', body: 'p0b' },
    ...Array.from({ length: 6 }, (): Op => ({ op: 'get', name: 'q' })),
  ],
  'max-length counts ready messages, and a requeue can push the head out': [
    { op: 'queue', name: 'q', args: [['x-max-length', byte(2)]] },
    { op: 'publish', exchange: '', key: 'q', body: 'a' },
    { op: 'publish', exchange: '', key: 'q', body: 'b' },
    { op: 'get', name: 'q' },
    { op: 'publish', exchange: '', key: 'q', body: 'c' },
    { op: 'queue', name: 'q', passive: true },
    { op: 'publish', exchange: '', key: 'q', body: 'd' },
    { op: 'settle', index: 0, how: 'requeue' },
    ...Array.from({ length: 3 }, (): Op => ({ op: 'get', name: 'q' })),
  ],
  'reject-publish keeps the queue as it is': [
    {
      op: 'queue',
      name: 'q',
      args: [
        ['x-max-length', byte(1)],
        ['x-overflow', S('reject-publish')],
      ],
    },
    { op: 'publish', exchange: '', key: 'q', body: 'a' },
    { op: 'publish', exchange: '', key: 'q', body: 'b' },
    { op: 'get', name: 'q' },
    { op: 'get', name: 'q' },
  ],
  'dead-lettering on reject, maxlen and reject-publish-dlx': [
    { op: 'exchange', name: 'dlx', type: 'fanout' },
    { op: 'queue', name: 'dlq' },
    { op: 'bind', queue: 'dlq', exchange: 'dlx', key: '' },
    { op: 'queue', name: 'src', args: [['x-dead-letter-exchange', S('__dlx__')]] },
    { op: 'publish', exchange: '', key: 'src', body: 'rejected' },
    { op: 'get', name: 'src' },
    { op: 'settle', index: 0, how: 'reject' },
    {
      op: 'queue',
      name: 'ml',
      args: [
        ['x-dead-letter-exchange', S('__dlx__')],
        ['x-max-length', byte(1)],
      ],
    },
    { op: 'publish', exchange: '', key: 'ml', body: 'dropped' },
    { op: 'publish', exchange: '', key: 'ml', body: 'kept' },
    {
      op: 'queue',
      name: 'rp',
      args: [
        ['x-dead-letter-exchange', S('__dlx__')],
        ['x-max-length', byte(1)],
        ['x-overflow', S('reject-publish-dlx')],
      ],
    },
    { op: 'publish', exchange: '', key: 'rp', body: 'in' },
    { op: 'publish', exchange: '', key: 'rp', body: 'refused' },
    ...Array.from({ length: 4 }, (): Op => ({ op: 'get', name: 'dlq' })),
  ],
  'headers exchange matching': [
    { op: 'exchange', name: 'h', type: 'headers' },
    ...['all', 'any', 'void', 'withx', 'empty-any'].map((name): Op => ({ op: 'queue', name })),
    {
      op: 'bind',
      queue: 'all',
      exchange: 'h',
      key: '',
      args: [
        ['x-match', S('all')],
        ['a', byte(1)],
        ['b', S('x')],
      ],
    },
    {
      op: 'bind',
      queue: 'any',
      exchange: 'h',
      key: '',
      args: [
        ['x-match', S('any')],
        ['a', byte(1)],
        ['x-ignored', S('y')],
      ],
    },
    { op: 'bind', queue: 'void', exchange: 'h', key: '', args: [['c', { type: 'V', value: null }]] },
    {
      op: 'bind',
      queue: 'withx',
      exchange: 'h',
      key: '',
      args: [
        ['x-match', S('any-with-x')],
        ['x-tag', S('t')],
      ],
    },
    { op: 'bind', queue: 'empty-any', exchange: 'h', key: '', args: [['x-match', S('any')]] },
    {
      op: 'publish',
      exchange: 'h',
      key: '',
      headers: [
        ['a', long(1)],
        ['b', S('x')],
      ],
    },
    { op: 'publish', exchange: 'h', key: '', headers: [['a', { type: 'd', value: 1 }]] },
    {
      op: 'publish',
      exchange: 'h',
      key: '',
      headers: [
        ['a', S('1')],
        ['c', S('anything')],
      ],
    },
    {
      op: 'publish',
      exchange: 'h',
      key: '',
      headers: [
        ['x-ignored', S('y')],
        ['x-tag', S('t')],
      ],
    },
    { op: 'publish', exchange: 'h', key: '' },
    ...['all', 'any', 'void', 'withx', 'empty-any'].map((name): Op => ({ op: 'queue', name, passive: true })),
  ],
  'alternate exchanges and exchange-to-exchange cycles': [
    { op: 'exchange', name: 'ae', type: 'fanout' },
    { op: 'exchange', name: 'main', type: 'direct', args: [['alternate-exchange', S('__ae__')]] },
    { op: 'exchange', name: 'loop', type: 'fanout' },
    { op: 'queue', name: 'routed' },
    { op: 'queue', name: 'unrouted' },
    { op: 'bind', queue: 'routed', exchange: 'main', key: 'k' },
    { op: 'bind', queue: 'unrouted', exchange: 'ae', key: '' },
    { op: 'bindExchange', destination: 'loop', source: 'ae', key: '' },
    { op: 'bindExchange', destination: 'ae', source: 'loop', key: '' },
    { op: 'bindExchange', destination: 'main', source: 'loop', key: '' },
    { op: 'publish', exchange: 'main', key: 'k' },
    { op: 'publish', exchange: 'main', key: 'other' },
    { op: 'publish', exchange: 'loop', key: 'k' },
    { op: 'queue', name: 'routed', passive: true },
    { op: 'queue', name: 'unrouted', passive: true },
  ],
  'auto-delete exchange goes with its last binding': [
    { op: 'exchange', name: 'ad', type: 'fanout', autoDelete: true },
    { op: 'queue', name: 'q' },
    { op: 'bind', queue: 'q', exchange: 'ad', key: '' },
    { op: 'unbind', queue: 'q', exchange: 'ad', key: '' },
    { op: 'exchange', name: 'ad', passive: true },
  ],
};

// A set URL whose broker is unreachable fails the test run here, loudly.
const conns =
  URL === undefined
    ? undefined
    : await (async () => {
        const a = await amqp.connect(URL, { timeout: 5000 });
        const b = await amqp.connect(URL, { timeout: 5000 });
        a.on('error', () => {});
        b.on('error', () => {});
        return { A: a, B: b };
      })();

describe.skipIf(conns === undefined)(
  `model vs RabbitMQ (live broker)${URL === undefined ? ' (skipped: set AMQP_SPY_RABBITMQ_URL to run against RabbitMQ)' : ''}`,
  () => {
    const used = new Set<string>();
    const run = `spy-conf-${process.pid}-${Date.now() % 100000}-`;
    let counter = 0;

    afterAll(async () => {
      if (conns === undefined) return;
      const ch = await conns.A.createChannel();
      ch.on('error', () => {});
      for (const u of used) {
        const name = u.slice(2);
        if (name === '' || name.startsWith('amq.')) continue;
        try {
          if (u.startsWith('q:')) await ch.deleteQueue(name);
          else await ch.deleteExchange(name);
        } catch {
          // exclusive queues of B or already gone; the connection close removes the rest
        }
      }
      await ch.close().catch(() => {});
      await conns.A.close().catch(() => {});
      await conns.B.close().catch(() => {});
    });

    it.each(Object.entries(scenarios))('%s', async (_name, ops) => {
      const n = namer(`${run}${counter++}-`);
      const named = withNames(ops, n);
      const rabbit = await runOnRabbit(conns!, named, n, used);
      const model = runOnModel(named, n);
      expect(model).toEqual(rabbit);
    });
  },
);
