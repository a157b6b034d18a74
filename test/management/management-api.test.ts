// The management HTTP API on the built-in broker, driven as a client would: basic auth,
// RabbitMQ's status codes and error bodies, declare/list/delete, publish and "Get messages",
// bindings, definitions, and what real amqplib clients hold (connections, channels, consumers).

import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { startManagement, type RunningManagement } from '../../src/management/management-server.js';

let broker: RunningBroker;
let management: RunningManagement;
const notices: string[] = [];

beforeAll(async () => {
  broker = await startBroker({
    listen: { host: '127.0.0.1', port: 0 },
    definitions: {
      users: [
        { name: 'guest', password: 'guest', tags: ['administrator'] },
        { name: 'plain', password: 'pw', tags: [] },
        { name: 'watcher', password: 'pw', tags: ['management'] },
      ],
      vhosts: [{ name: '/' }, { name: 'other' }],
      permissions: [
        { user: 'guest', vhost: '/', configure: '.*', write: '.*', read: '.*' },
        { user: 'guest', vhost: 'other', configure: '.*', write: '.*', read: '.*' },
        { user: 'watcher', vhost: 'other', configure: '.*', write: '.*', read: '.*' },
      ],
    },
  });
  management = await startManagement({ listen: { host: '127.0.0.1', port: 0 }, broker, maxBodyBytes: 64 * 1024, notice: (l) => notices.push(l) });
});
afterAll(async () => {
  await management.close();
  await broker.close();
});

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

async function api(method: string, path: string, body?: unknown, auth: string | null = 'guest:guest'): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (auth !== null) headers['authorization'] = `Basic ${Buffer.from(auth).toString('base64')}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${management.address.port}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

describe('management API: refusals as RabbitMQ answers them', () => {
  it('401 without credentials (empty body, a Basic challenge), with wrong ones, and for users without a management tag', async () => {
    const none = await api('GET', '/api/overview', undefined, null);
    expect([none.status, none.body, none.headers.get('www-authenticate')]).toEqual([401, undefined, 'Basic realm="RabbitMQ Management"']);
    expect(await api('GET', '/api/overview', undefined, 'guest:nope')).toMatchObject({
      status: 401,
      body: { error: 'not_authorized', reason: 'Login failed' },
    });
    expect(await api('GET', '/api/overview', undefined, 'nobody:x')).toMatchObject({ status: 401, body: { error: 'not_authorized', reason: 'Login failed' } });
    expect(await api('GET', '/api/overview', undefined, 'plain:pw')).toMatchObject({
      status: 401,
      body: { error: 'not_authorised', reason: 'Not management user' },
    });
    expect(await api('GET', '/api/users', undefined, 'watcher:pw')).toMatchObject({
      status: 401,
      body: { error: 'not_authorised', reason: 'Not administrator user' },
    });
    expect(await api('GET', '/api/queues/%2F', undefined, 'watcher:pw')).toMatchObject({
      status: 401,
      body: { error: 'not_authorised', reason: 'Access refused.' },
    });
    // a management user sees its own vhosts only
    expect(((await api('GET', '/api/vhosts', undefined, 'watcher:pw')).body as Array<{ name: string }>).map((v) => v.name)).toEqual(['other']);
  });

  it('404, 405, 400 and 413 with their bodies', async () => {
    expect(await api('GET', '/api/nothing')).toMatchObject({ status: 404, body: { error: 'Object Not Found', reason: 'Not Found' } });
    expect(await api('GET', '/api/queues/%2F/missing')).toMatchObject({ status: 404, body: { error: 'Object Not Found', reason: 'Not Found' } });
    expect(await api('GET', '/api/queues/nope')).toMatchObject({ status: 404, body: { error: 'Object Not Found', reason: 'Not Found' } });
    expect(await api('PATCH', '/api/queues')).toMatchObject({ status: 405, body: undefined });
    expect(await api('PUT', '/api/queues/%2F/q', 'not json')).toMatchObject({ status: 400, body: { error: 'bad_request', reason: 'not_json' } });
    expect(await api('PUT', '/api/queues/%2F/q', { durable: 'x' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: ['not_boolean', 'x'] },
    });
    expect(await api('PUT', '/api/queues/nov/q', {})).toMatchObject({ status: 404, body: { error: 'not_found', reason: 'vhost_not_found' } });
    expect(await api('PUT', '/api/queues/%2F/q', { arguments: { 'x-max-length': -1 } })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: "invalid arg 'x-max-length' for queue 'q' in vhost '/': {value_negative,-1}" },
    });
    expect(await api('PUT', '/api/exchanges/%2F/x', { type: 'bogus' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: "unknown exchange type 'bogus'" },
    });
    expect(await api('PUT', '/api/exchanges/%2F/amq.direct', { type: 'topic' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: "inequivalent arg 'type' for exchange 'amq.direct' in vhost '/': received 'topic' but current is 'direct'" },
    });
    expect(await api('DELETE', '/api/exchanges/%2F/amq.direct')).toMatchObject({ status: 401, body: { error: 'not_authorised', reason: 'Access refused.' } });
    expect(await api('POST', '/api/exchanges/%2F/nope/publish', { properties: {}, routing_key: 'a', payload: 'x', payload_encoding: 'string' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: "404 NOT_FOUND - no exchange 'nope' in vhost '/'" },
    });
    expect(await api('POST', '/api/exchanges/%2F/amq.default/publish', { properties: {}, routing_key: 'a', payload: 'x' })).toMatchObject({
      status: 400,
      body: { error: 'bad_request', reason: '[{key_missing,payload_encoding}]' },
    });
    expect(await api('POST', '/api/bindings/%2F/e/amq.topic/q/nope', { routing_key: 'k' })).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: "no queue 'nope' in vhost '/'" },
    });
    const big = await api('PUT', '/api/queues/%2F/q', { arguments: { pad: 'x'.repeat(100 * 1024) } });
    expect([big.status, (big.body as { error: string }).error]).toEqual([413, 'bad_request']);
    expect((await api('GET', '/api/overview')).status).toBe(200);
  });
});

describe('management API: declare, publish, get, delete', () => {
  it('PUT creates (201) and redeclares (204); GET shows the fields; DELETE removes (204)', async () => {
    expect((await api('PUT', '/api/queues/%2F/jobs', { durable: 'true', arguments: { 'x-message-ttl': 60000 } })).status).toBe(201);
    expect((await api('PUT', '/api/queues/%2F/jobs', { durable: true, arguments: { 'x-message-ttl': 60000 } })).status).toBe(204);
    expect((await api('PUT', '/api/exchanges/%2F/work', { type: 'topic', durable: true })).status).toBe(201);
    const bound = await api('POST', '/api/bindings/%2F/e/work/q/jobs', { routing_key: 'job.*', arguments: {} });
    expect([bound.status, bound.headers.get('location')]).toEqual([201, 'jobs/job.%2A']);
    const q = (await api('GET', '/api/queues/%2F/jobs')).body;
    expect(q).toMatchObject({
      name: 'jobs',
      vhost: '/',
      durable: true,
      auto_delete: false,
      exclusive: false,
      arguments: { 'x-message-ttl': 60000 },
      messages: 0,
      state: 'running',
    });
    expect((await api('GET', '/api/exchanges/%2F/work')).body).toMatchObject({
      name: 'work',
      type: 'topic',
      durable: true,
      internal: false,
      auto_delete: false,
    });
    expect((await api('GET', '/api/bindings/%2F/e/work/q/jobs')).body).toEqual([
      { source: 'work', vhost: '/', destination: 'jobs', destination_type: 'queue', routing_key: 'job.*', arguments: {}, properties_key: 'job.%2A' },
    ]);

    const publish = (key: string, payload: string, extra: object = {}) =>
      api('POST', '/api/exchanges/%2F/work/publish', { properties: {}, routing_key: key, payload, payload_encoding: 'string', ...extra });
    expect((await publish('job.a', 'one')).body).toEqual({ routed: true });
    expect((await publish('nothing', 'lost')).body).toEqual({ routed: false });
    expect(
      (
        await publish('job.b', Buffer.from([0xff, 0x00, 0x01]).toString('base64'), {
          payload_encoding: 'base64',
          properties: { content_type: 'x/bin', headers: { n: 1 } },
        })
      ).body,
    ).toEqual({ routed: true });
    expect((await api('GET', '/api/queues/%2F/jobs?columns=messages,messages_ready,messages_unacknowledged')).body).toEqual({
      messages: 2,
      messages_ready: 2,
      messages_unacknowledged: 0,
    });

    // peek: ack_requeue_true leaves them (redelivered), message_count counts what is left behind each
    const peek = await api('POST', '/api/queues/%2F/jobs/get', { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 2 });
    expect(peek.body).toEqual([
      {
        payload_bytes: 3,
        redelivered: false,
        exchange: 'work',
        routing_key: 'job.a',
        message_count: 1,
        properties: [],
        payload: 'on',
        payload_encoding: 'string',
      },
      {
        payload_bytes: 3,
        redelivered: false,
        exchange: 'work',
        routing_key: 'job.b',
        message_count: 0,
        properties: { content_type: 'x/bin', headers: { n: 1 } },
        payload: Buffer.from([0xff, 0x00]).toString('base64'),
        payload_encoding: 'base64',
      },
    ]);
    const again = await api('POST', '/api/queues/%2F/jobs/get', { count: '1', ackmode: 'ack_requeue_false', encoding: 'base64' });
    expect(again.body).toMatchObject([{ redelivered: true, payload: Buffer.from('one').toString('base64'), payload_encoding: 'base64', message_count: 1 }]);
    expect((await api('GET', '/api/queues/%2F/jobs?columns=messages')).body).toEqual({ messages: 1 });
    expect((await api('DELETE', '/api/queues/%2F/jobs/contents')).status).toBe(204);
    expect((await api('GET', '/api/queues/%2F/jobs?columns=messages')).body).toEqual({ messages: 0 });

    expect((await api('DELETE', '/api/bindings/%2F/e/work/q/jobs/job.%2A')).status).toBe(204);
    expect((await api('GET', '/api/bindings/%2F/e/work/q/jobs')).body).toEqual([]);
    expect((await api('DELETE', '/api/queues/%2F/jobs')).status).toBe(204);
    expect((await api('DELETE', '/api/exchanges/%2F/work')).status).toBe(204);
    expect((await api('GET', '/api/queues/%2F/jobs')).status).toBe(404);
  });

  it('reject_requeue_false dead-letters, as a client reject would', async () => {
    await api('PUT', '/api/queues/%2F/dead', {});
    await api('PUT', '/api/queues/%2F/live', { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'dead' } });
    await api('POST', '/api/exchanges/%2F/amq.default/publish', { properties: {}, routing_key: 'live', payload: 'm', payload_encoding: 'string' });
    await api('POST', '/api/queues/%2F/live/get', { count: 1, ackmode: 'reject_requeue_false', encoding: 'auto' });
    const dead = (await api('POST', '/api/queues/%2F/dead/get', { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).body as Array<
      Record<string, unknown>
    >;
    expect(dead[0]).toMatchObject({ payload: 'm', routing_key: 'dead' });
    expect((dead[0]!['properties'] as { headers: Record<string, unknown> }).headers['x-death']).toBeDefined();
    await api('DELETE', '/api/queues/%2F/dead');
    await api('DELETE', '/api/queues/%2F/live');
  });
});

describe('management API: what clients hold', () => {
  it('lists connections, channels and consumers of real amqplib clients', async () => {
    const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${broker.address.port}/other`);
    try {
      const ch = await conn.createChannel();
      await ch.prefetch(7);
      await ch.assertQueue('held', { durable: false });
      ch.sendToQueue('held', Buffer.from('a'));
      ch.sendToQueue('held', Buffer.from('b'));
      const { consumerTag } = await ch.consume('held', () => {}, { arguments: { 'x-priority': 3 } });
      await new Promise((r) => setTimeout(r, 50));
      const [c] = (await api('GET', '/api/connections')).body as Array<Record<string, unknown>>;
      expect(c).toMatchObject({
        user: 'guest',
        vhost: 'other',
        protocol: 'AMQP 0-9-1',
        channels: 1,
        auth_mechanism: 'PLAIN',
        state: 'running',
        type: 'network',
      });
      expect((c!['client_properties'] as Record<string, unknown>)['product']).toBe('amqplib');
      const [channel] = (await api('GET', '/api/channels')).body as Array<Record<string, unknown>>;
      expect(channel).toMatchObject({ number: 1, prefetch_count: 7, consumer_count: 1, messages_unacknowledged: 2, vhost: 'other', name: `${c!['name']} (1)` });
      expect((await api('GET', '/api/consumers/other')).body).toMatchObject([
        {
          consumer_tag: consumerTag,
          ack_required: true,
          exclusive: false,
          prefetch_count: 7,
          arguments: { 'x-priority': 3 },
          queue: { name: 'held', vhost: 'other' },
        },
      ]);
      expect((await api('GET', '/api/queues/other/held')).body).toMatchObject({ messages: 2, messages_ready: 0, messages_unacknowledged: 2, consumers: 1 });
      expect((await api('GET', '/api/overview?columns=object_totals,queue_totals')).body).toEqual({
        object_totals: { channels: 1, connections: 1, consumers: 1, exchanges: 14, queues: 1 },
        queue_totals: { messages: 2, messages_ready: 0, messages_unacknowledged: 2 },
      });
      // the management user sees its vhost's connections only when they are its own
      expect((await api('GET', '/api/connections', undefined, 'watcher:pw')).body).toEqual([]);
    } finally {
      await conn.close();
    }
  });
});

describe('management API: definitions', () => {
  it('GET exports, POST imports (reporting what it did not apply), invalid is 400', async () => {
    const posted = await api('POST', '/api/definitions', {
      queues: [{ name: 'from-post', vhost: 'other', durable: true, auto_delete: false, arguments: {} }],
      policies: [{ vhost: 'other', name: 'p', pattern: '.*', definition: {} }],
    });
    expect(posted.status).toBe(204);
    expect(notices).toEqual([
      "POST /api/definitions: not applied: policies[0] 'p' in vhost 'other': policies are not supported by the built-in broker: give queues their settings as x-arguments",
    ]);
    const all = (await api('GET', '/api/definitions')).body as Record<string, unknown>;
    expect(all['queues']).toContainEqual({ name: 'from-post', vhost: 'other', durable: true, auto_delete: false, arguments: {}, type: 'classic' });
    const perVhost = (await api('GET', '/api/definitions/other')).body as Record<string, unknown>;
    expect(perVhost['queues']).toContainEqual({ name: 'from-post', durable: true, auto_delete: false, arguments: {}, type: 'classic' });
    expect((await api('POST', '/api/definitions/other', { queues: [{ name: 'q2', arguments: { 'x-max-priority': 1000 } }] })).body).toEqual({
      error: 'bad_request',
      reason: "queues[0] 'q2': PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q2' in vhost 'other': {max_value_exceeded,1000}",
    });
    expect((await api('POST', '/api/definitions', '{')).body).toEqual({ error: 'bad_request', reason: 'not_json' });
    expect((await api('GET', '/api/definitions', undefined, 'watcher:pw')).status).toBe(401);
    await api('DELETE', '/api/queues/other/from-post');
  });
});
