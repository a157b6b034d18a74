// The same scenario against RabbitMQ's management plugin and the built-in broker's
// management API: every field ours answers must exist in RabbitMQ's answer with the same
// JSON type (objects and arrays compared inside), and error answers must be identical.
// Runs when AMQP_SPY_RABBITMQ_URL is set (its management API on port 15672, or
// AMQP_SPY_RABBITMQ_MANAGEMENT_URL); skipped visibly otherwise.

import amqplib from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { startManagement, type RunningManagement } from '../../src/management/management-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';

const VHOST = 'amqp-spy-mgmt-shapes';
const V = encodeURIComponent(VHOST);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Fields whose keys are node names (rabbit@host there, amqp-spy@localhost here). */
const NODE_KEYED = new Set(['cluster_state']);

/** Where a field of ours is missing from RabbitMQ's answer or has another JSON type there. */
function shapeDiff(ours: Json, theirs: Json | undefined, path: string, allowExtra: ReadonlySet<string> = new Set()): string[] {
  const kind = (v: Json | undefined): string => (v === undefined ? 'missing' : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (kind(ours) !== kind(theirs)) return [`${path}: ours ${kind(ours)}, RabbitMQ ${kind(theirs)}`];
  if (Array.isArray(ours)) {
    const t = theirs as Json[];
    if (ours.length === 0 || t.length === 0) return [];
    // lists of named things: compare an entry with its namesake
    const first = ours[0]!;
    const name = typeof first === 'object' && first !== null && !Array.isArray(first) ? first['name'] : undefined;
    const same = typeof name === 'string' ? t.find((x) => typeof x === 'object' && x !== null && !Array.isArray(x) && x['name'] === name) : undefined;
    return shapeDiff(first, same ?? t[0], `${path}[0]`, allowExtra);
  }
  if (typeof ours === 'object' && ours !== null) {
    const key = path.split('.').pop() ?? '';
    if (NODE_KEYED.has(key)) return [];
    const t = theirs as { [key: string]: Json };
    return Object.keys(ours).flatMap((k) => (allowExtra.has(k) ? [] : shapeDiff(ours[k]!, t[k], `${path}.${k}`, allowExtra)));
  }
  return [];
}

interface Target {
  readonly name: string;
  readonly http: string;
  readonly amqp: string;
}

async function api(t: Target, method: string, path: string, body?: unknown, auth = 'guest:guest'): Promise<{ status: number; body: Json | undefined }> {
  const res = await fetch(`${t.http}${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Json) };
}

const get = async (t: Target, path: string): Promise<Json> => {
  const r = await api(t, 'GET', path);
  if (r.status !== 200) throw new Error(`${t.name} GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body!;
};

const find = (list: Json, key: string, value: string): Json | undefined => (list as Array<{ [key: string]: Json }>).find((o) => o[key] === value);

/** The scenario, by a real client then by HTTP: a topology, messages ready and unacked, a consumer. */
async function scenario(t: Target): Promise<amqplib.ChannelModel> {
  const conn = await amqplib.connect(t.amqp, { clientProperties: { connection_name: 'shapes' } });
  const ch = await conn.createChannel();
  await ch.assertExchange('shape-ae', 'fanout', { durable: true });
  await ch.assertExchange('shape-x', 'topic', { durable: true, arguments: { 'alternate-exchange': 'shape-ae' } });
  await ch.assertQueue('shape-q', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-max-length': 10 } });
  await ch.assertQueue('shape-idle', { durable: true });
  await ch.bindQueue('shape-q', 'shape-x', 'a.*');
  await ch.bindQueue('shape-q', 'amq.headers', '', { 'x-match': 'all', k: 'v' });
  for (let i = 0; i < 3; i++) ch.publish('shape-x', 'a.b', Buffer.from(`m${i}`), { contentType: 'text/plain', headers: { n: i } });
  ch.sendToQueue('shape-idle', Buffer.from('idle'), { contentType: 'text/plain', headers: { h: 'x' }, priority: 1 });
  await ch.prefetch(2);
  await ch.consume('shape-q', () => {}, { arguments: { 'x-priority': 1 } });
  return conn;
}

describeWithRabbitMQ('management API shapes vs RabbitMQ', () => {
  let broker: RunningBroker;
  let management: RunningManagement;
  let ours: Target;
  let theirs: Target;
  const conns: amqplib.ChannelModel[] = [];

  beforeAll(async () => {
    const a = rabbitAddress();
    theirs = {
      name: 'RabbitMQ',
      http: process.env['AMQP_SPY_RABBITMQ_MANAGEMENT_URL'] ?? `http://${a.host}:15672/api`,
      amqp: `amqp://${a.username}:${a.password}@${a.host}:${a.port}/${V}`,
    };
    theirs = { ...theirs, http: theirs.http.replace(/\/api\/?$/, '') };
    await api(theirs, 'DELETE', `/api/vhosts/${V}`);
    const created = await api(theirs, 'PUT', `/api/vhosts/${V}`, {});
    if (created.status !== 201) throw new Error(`RabbitMQ's management API at ${theirs.http} (enable rabbitmq_management): ${created.status}`);
    await api(theirs, 'PUT', `/api/permissions/${V}/guest`, { configure: '.*', write: '.*', read: '.*' });
    broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, vhosts: ['/', VHOST] });
    management = await startManagement({ listen: { host: '127.0.0.1', port: 0 }, broker });
    ours = { name: 'amqp-spy', http: `http://127.0.0.1:${management.address.port}`, amqp: `amqp://guest:guest@127.0.0.1:${broker.address.port}/${V}` };
    for (const t of [theirs, ours]) conns.push(await scenario(t));
    // RabbitMQ's statistics arrive every 5 s: wait until its queue and channel show the scenario
    const deadline = Date.now() + 30_000;
    for (;;) {
      const q = (await get(theirs, `/api/queues/${V}/shape-q`)) as { [key: string]: Json };
      const channels = (await get(theirs, `/api/vhosts/${V}/channels`)) as Json[];
      // each count comes with its own statistics event: the queue's consumers may come later
      if (
        q['messages_unacknowledged'] === 2 &&
        q['messages_ready'] === 1 &&
        typeof q['consumers'] === 'number' &&
        channels.length > 0 &&
        channels.every((c) => typeof (c as { [key: string]: Json })['consumer_count'] === 'number') &&
        ((await get(theirs, '/api/overview')) as { [key: string]: Json })['queue_totals'] !== undefined
      )
        break;
      if (Date.now() > deadline) throw new Error(`RabbitMQ's statistics did not show the scenario: ${JSON.stringify(q)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of conns) await c.close().catch(() => {});
    await management?.close();
    await broker?.close();
    if (theirs !== undefined) await api(theirs, 'DELETE', `/api/vhosts/${V}`);
  });

  const both = async (path: string): Promise<[Json, Json]> => [await get(ours, path), await get(theirs, path)];

  it('overview, vhosts, users, permissions, whoami', async () => {
    const diffs: string[] = [];
    const [o, t] = await both('/api/overview');
    diffs.push(...shapeDiff(o, t, 'overview'));
    const [vo, vt] = await both('/api/vhosts');
    diffs.push(...shapeDiff(find(vo, 'name', VHOST)!, find(vt, 'name', VHOST), 'vhosts[]'));
    const [v1o, v1t] = await both(`/api/vhosts/${V}`);
    diffs.push(...shapeDiff(v1o, v1t, 'vhost'));
    const [uo, ut] = await both('/api/users');
    diffs.push(...shapeDiff(find(uo, 'name', 'guest')!, find(ut, 'name', 'guest'), 'users[]'));
    const [po, pt] = await both('/api/permissions');
    diffs.push(...shapeDiff(po, pt, 'permissions'));
    const [wo, wt] = await both('/api/whoami');
    diffs.push(...shapeDiff(wo, wt, 'whoami'));
    expect(diffs).toEqual([]);
    expect((o as { [key: string]: Json })['object_totals']).toMatchObject({ queues: 2 });
  });

  it('queues, exchanges, bindings', async () => {
    const diffs: string[] = [];
    const [qo, qt] = await both(`/api/queues/${V}`);
    diffs.push(...shapeDiff(find(qo, 'name', 'shape-q')!, find(qt, 'name', 'shape-q'), 'queues[]'));
    const [q1o, q1t] = await both(`/api/queues/${V}/shape-q`);
    diffs.push(...shapeDiff(q1o, q1t, 'queue'));
    const pick = (q: Json) => {
      const o = q as { [key: string]: Json };
      return [o['messages'], o['messages_ready'], o['messages_unacknowledged'], o['consumers'], o['arguments']];
    };
    expect(pick(q1o)).toEqual(pick(q1t));
    const [xo, xt] = await both(`/api/exchanges/${V}`);
    diffs.push(...shapeDiff(find(xo, 'name', 'shape-x')!, find(xt, 'name', 'shape-x'), 'exchanges[]'));
    expect((xo as Json[]).map((x) => (x as { name: string }).name).sort()).toEqual((xt as Json[]).map((x) => (x as { name: string }).name).sort());
    const [x1o, x1t] = await both(`/api/exchanges/${V}/shape-x`);
    diffs.push(...shapeDiff(x1o, x1t, 'exchange'));
    const [bo, bt] = await both(`/api/bindings/${V}`);
    const withArgs = (list: Json) => (list as Array<{ [key: string]: Json }>).find((b) => b['source'] === 'amq.headers')!;
    diffs.push(...shapeDiff(withArgs(bo), withArgs(bt), 'bindings[] with arguments'));
    diffs.push(...shapeDiff(find(bo, 'source', 'shape-x')!, find(bt, 'source', 'shape-x'), 'bindings[]'));
    const strip = (list: Json) =>
      (list as Array<{ [key: string]: Json }>)
        .map((b) => JSON.stringify([b['source'], b['destination'], b['destination_type'], b['routing_key'], b['arguments']]))
        .sort();
    expect(strip(bo)).toEqual(strip(bt));
    // a properties key without arguments is the routing key as RabbitMQ quotes it
    expect((find(bo, 'source', 'shape-x') as { [key: string]: Json })['properties_key']).toBe(
      (find(bt, 'source', 'shape-x') as { [key: string]: Json })['properties_key'],
    );
    expect(diffs).toEqual([]);
  });

  it('connections, channels, consumers', async () => {
    const diffs: string[] = [];
    const [co, ct] = await both(`/api/vhosts/${V}/connections`);
    diffs.push(...shapeDiff(co, ct, 'connections'));
    const [cho, cht] = await both(`/api/vhosts/${V}/channels`);
    diffs.push(...shapeDiff(cho, cht, 'channels'));
    const [cso, cst] = await both(`/api/consumers/${V}`);
    diffs.push(...shapeDiff(cso, cst, 'consumers'));
    expect(diffs).toEqual([]);
    const counts = (list: Json) =>
      (list as Array<{ [key: string]: Json }>).map((c) => [c['prefetch_count'], c['consumer_count'], c['messages_unacknowledged']]);
    expect(counts(cho)).toEqual(counts(cht));
  });

  it('publish, get, definitions', async () => {
    const diffs: string[] = [];
    const published = await Promise.all(
      [ours, theirs].map((t) =>
        api(t, 'POST', `/api/exchanges/${V}/shape-x/publish`, {
          properties: { delivery_mode: 2 },
          routing_key: 'a.c',
          payload: 'p',
          payload_encoding: 'string',
        }),
      ),
    );
    expect(published[0]).toEqual(published[1]);
    const got = await Promise.all(
      [ours, theirs].map((t) =>
        api(t, 'POST', `/api/queues/${V}/shape-idle/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 50000 }),
      ),
    );
    diffs.push(...shapeDiff(got[0]!.body!, got[1]!.body, 'get'));
    expect(got[0]!.body).toEqual(got[1]!.body);
    const [d1o, d1t] = await both(`/api/definitions/${V}`);
    // `type` as rabbitmqctl export_definitions writes it (the management export leaves it out)
    diffs.push(...shapeDiff(d1o, d1t, 'definitions/vhost', new Set(['type'])));
    const [do_, dt] = await both('/api/definitions');
    expect(Object.keys(do_ as object).sort()).toEqual(Object.keys(dt as object).sort());
    diffs.push(...shapeDiff(do_, dt, 'definitions', new Set(['type', 'limits', 'metadata'])));
    expect(diffs).toEqual([]);
  });

  it('errors: the same status and body', async () => {
    const cases: Array<[string, string, unknown?, string?]> = [
      ['GET', '/api/nothing'],
      ['GET', `/api/queues/${V}/missing`],
      ['GET', '/api/queues/no-such-vhost'],
      ['GET', '/api/overview', undefined, 'guest:wrong'],
      ['PUT', `/api/queues/${V}/bad`, 'not json'],
      ['PUT', `/api/queues/${V}/bad`, { durable: 'x' }],
      ['PUT', `/api/queues/${V}/bad`, { arguments: { 'x-max-length': -1 } }],
      ['PUT', '/api/queues/no-such-vhost/q', {}],
      ['PUT', `/api/exchanges/${V}/bad`, { type: 'bogus' }],
      ['PUT', `/api/exchanges/${V}/amq.direct`, { type: 'topic' }],
      ['DELETE', `/api/exchanges/${V}/amq.direct`],
      ['DELETE', `/api/queues/${V}/missing`],
      ['POST', `/api/exchanges/${V}/missing/publish`, { properties: {}, routing_key: 'a', payload: 'x', payload_encoding: 'string' }],
      ['POST', `/api/exchanges/${V}/amq.default/publish`, { properties: {}, routing_key: 'a', payload: 'x' }],
      ['POST', `/api/queues/${V}/missing/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' }],
      ['POST', `/api/queues/${V}/shape-idle/get`, { count: 1 }],
      ['POST', `/api/bindings/${V}/e/amq.topic/q/missing`, { routing_key: 'k' }],
    ];
    for (const [method, path, body, auth] of cases) {
      const [o, t] = await Promise.all([ours, theirs].map((target) => api(target, method, path, body, auth)));
      expect(o, `${method} ${path} ${JSON.stringify(body)}`).toEqual(t);
    }
  });
});
