// The package API's broker: real clients against startBroker(), the events they cause, waitFor
// over past and future events, and close() freeing the port.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiOptionError,
  WaitForError,
  openRecording,
  startBroker,
  type BrokerSession,
  type MessageEvent,
  type SpyEvent,
  type SpySession,
} from '../../src/index.js';
import { FilterSyntaxError } from '../../src/view/filter.js';

const sessions: SpySession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});
async function broker(options: Parameters<typeof startBroker>[0] = {}): Promise<BrokerSession> {
  const session = await startBroker({ onNotice: () => {}, ...options });
  sessions.push(session);
  return session;
}

const isPublish = (event: SpyEvent): event is MessageEvent => event.kind === 'message' && event.method.name === 'basic.publish';

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const free = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (free) await new Promise((resolve) => server.close(resolve));
  return free;
}

describe('startBroker', () => {
  it('listens on a free port of 127.0.0.1 and gives a URL amqplib connects with', async () => {
    const a = await broker();
    const b = await broker();
    expect(a.host).toBe('127.0.0.1');
    expect(a.port).toBeGreaterThan(0);
    expect(b.port).not.toBe(a.port);
    expect(a.url).toBe(`amqp://guest:guest@127.0.0.1:${a.port}`);
    const connection = await amqp.connect(a.url);
    const channel = await connection.createChannel();
    await channel.assertQueue('jobs');
    await connection.close();
  });

  it('waitFor resolves with a past event (history) and with a future one', async () => {
    const session = await broker();
    const connection = await amqp.connect(session.url);
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange('orders', 'topic');
    channel.publish('orders', 'order.created', Buffer.from(JSON.stringify({ id: 42 })), { contentType: 'application/json' });
    await channel.waitForConfirms();
    // the publish happened before waitFor was called: it is found in the history
    const past = await session.waitFor('method:basic.publish exchange:orders rk:order.*');
    expect(past.kind).toBe('message');
    const published = await session.waitFor(isPublish);
    expect(JSON.parse(Buffer.from(published.body).toString())).toEqual({ id: 42 });
    expect(published.properties['content-type']).toBe('application/json');
    // a future event: waitFor is called first, the event comes after
    const future = session.waitFor((e) => e.kind === 'message' && e.method.name === 'basic.publish' && e.method.args['routing-key'] === 'order.paid');
    channel.publish('orders', 'order.paid', Buffer.from('{}'));
    expect((await future).seq).toBeGreaterThan(published.seq);
    await connection.close();
  });

  it('waitFor rejects on timeout with a WaitForError naming the nearest events and the terms they fail', async () => {
    const session = await broker();
    const connection = await amqp.connect(session.url);
    const channel = await connection.createChannel();
    channel.publish('amq.topic', 'order.created', Buffer.from('x'));
    await session.waitFor('method:basic.publish');
    const started = Date.now();
    const error = await session.waitFor('method:basic.publish rk:order.deleted', { timeout: 150 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(error).toBeInstanceOf(WaitForError);
    const miss = error as WaitForError;
    expect(miss.reason).toBe('timeout');
    expect(miss.nearest.map((e) => e.kind)).toEqual(['message']);
    expect(miss.message).toMatch(/^waitFor\("method:basic\.publish rk:order\.deleted"\) timed out after 150 ms; \d+ events seen/);
    expect(miss.message).toContain('basic.publish exchange=amq.topic routing-key=order.created');
    expect(miss.message).toContain('[fails rk:order.deleted]');
    await connection.close();
  });

  it('a bad filter rejects with FilterSyntaxError; a bad timeout with a typed error', async () => {
    const session = await broker();
    await expect(session.waitFor('color:red')).rejects.toBeInstanceOf(FilterSyntaxError);
    await expect(session.waitFor('error', { timeout: -1 })).rejects.toThrow(/waitFor: timeout/);
  });

  it('on() and async iteration see the same events in order, and iteration ends at close', async () => {
    const session = await broker();
    const heard: number[] = [];
    const off = session.events.on((e) => heard.push(e.seq));
    const iterated: number[] = [];
    const iteration = (async () => {
      for await (const event of session.events) iterated.push(event.seq);
    })();
    const connection = await amqp.connect(session.url);
    await connection.close();
    await session.waitFor('method:connection.close-ok');
    off();
    await session.close();
    await iteration;
    expect(heard.length).toBeGreaterThan(5);
    expect(iterated).toEqual(session.events.history().map((e) => e.seq));
    expect(heard).toEqual(iterated.slice(0, heard.length));
  });

  it('history keeps the last `history` events: older ones are out of waitFor reach', async () => {
    const session = await broker({ history: 3 });
    const connection = await amqp.connect(session.url);
    await connection.createChannel();
    await connection.close();
    await session.waitFor('method:connection.close-ok');
    expect(session.events.history()).toHaveLength(3);
    await expect(session.waitFor('method:connection.start', { timeout: 50 })).rejects.toThrow(/the last 3 are kept/);
  });

  it('close() ends client connections (320 CONNECTION_FORCED), rejects pending waitFor, and frees the port', async () => {
    const session = await startBroker({ onNotice: () => {} });
    const connection = await amqp.connect(session.url);
    const closed = new Promise<unknown>((resolve) => connection.on('close', resolve));
    connection.on('error', () => {});
    const pending = session.waitFor('queue:never', { timeout: 10_000 });
    await session.close();
    expect(String(await closed)).toMatch(/CONNECTION_FORCED/);
    await expect(pending).rejects.toMatchObject({ name: 'WaitForError', reason: 'closed' });
    expect(await portIsFree(session.port)).toBe(true);
    // close twice: the same promise
    await session.close();
  });

  it('users and vhosts: the URL carries the first user and its vhost; @cloudamqp/amqp-client logs in with it', async () => {
    const session = await broker({ users: [{ name: 'ann', password: 'p@ss:word', vhosts: ['shop'] }], vhosts: ['/', 'shop'] });
    expect(session.url).toBe(`amqp://ann:p%40ss%3Aword@127.0.0.1:${session.port}/shop`);
    const client = new AMQPClient(session.url);
    const connection = await client.connect();
    const channel = await connection.channel();
    await channel.queueDeclare('q');
    await channel.basicPublish('', 'q', 'hello');
    const event = await session.waitFor('method:basic.publish rk:q');
    expect(event.kind === 'message' && Buffer.from(event.body).toString()).toBe('hello');
    await connection.close();
  });

  it('bad options: one typed error naming the option', async () => {
    const cases: [unknown, RegExp][] = [
      [{ port: -1 }, /^port: expected an integer from 0 to 65535, got -1$/],
      [{ port: '5672' }, /^port: .*got "5672"/],
      [{ prot: 5672 }, /^prot: unknown option of startBroker/],
      [{ users: [] }, /^users: expected a non-empty array/],
      [{ users: [{ name: 'a', password: 'b', vhosts: ['x'] }] }, /^users\[0\]\.vhosts: "x" is not one of the broker's vhosts/],
      [{ maxMessageSize: 0 }, /^maxMessageSize: /],
      [{ recordSecrets: true }, /^recordSecrets: applies with record only/],
      [{ history: 1.5 }, /^history: /],
    ];
    for (const [options, message] of cases) {
      const error = await startBroker(options as Parameters<typeof startBroker>[0]).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(ApiOptionError);
      expect((error as Error).message).toMatch(message);
      expect((error as ApiOptionError).exitCode).toBe(2);
    }
  });

  it('a port in use: ListenError', async () => {
    const session = await broker();
    await expect(startBroker({ port: session.port })).rejects.toMatchObject({ name: 'ListenError', code: 'EADDRINUSE' });
  });

  it('record: the file replays through openRecording as the same messages', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-api-'));
    const file = path.join(dir, 'session.jsonl');
    const session = await startBroker({ record: file, onNotice: () => {} });
    const connection = await amqp.connect(session.url);
    const channel = await connection.createChannel();
    channel.publish('amq.topic', 'order.created', Buffer.from('{"id":7}'));
    await session.waitFor('method:basic.publish');
    await connection.close();
    await session.close();
    const recording = await openRecording(file);
    expect(recording.header).toMatchObject({ format: 'amqp-spy', mode: 'standalone', listen: `127.0.0.1:${session.port}` });
    const live = session.events.history();
    const replayed = await recording.toArray();
    // messages are derived, so replay gives them the live session's numbers too
    expect(replayed.map((e) => [e.seq, e.kind])).toEqual(live.map((e) => [e.seq, e.kind]));
    const publishes: MessageEvent[] = [];
    for await (const event of await openRecording(file, { filter: 'method:basic.publish' })) publishes.push(event as MessageEvent);
    expect(publishes.map((e) => Buffer.from(e.body).toString())).toEqual(['{"id":7}']);
    fs.rmSync(dir, { recursive: true });
  });

  it('recorded sessions one after another leave no exit listener behind (no MaxListeners warning)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-api-'));
    const before = process.listenerCount('exit');
    for (let i = 0; i < 12; i++) {
      const session = await startBroker({ record: path.join(dir, `s${i}.jsonl`), onNotice: () => {} });
      expect(process.listenerCount('exit')).toBe(before + 1);
      await session.close();
    }
    expect(process.listenerCount('exit')).toBe(before);
    fs.rmSync(dir, { recursive: true });
  });

  it('definitions: the topology is there for clients, definitions() exports it, the URL keeps a login that works', async () => {
    const topology = {
      exchanges: [{ name: 'orders', vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} }],
      queues: [{ name: 'order-jobs', vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }],
      bindings: [{ source: 'orders', vhost: '/', destination: 'order-jobs', destination_type: 'queue', routing_key: 'order.*', arguments: {} }],
    };
    const session = await broker({ definitions: topology });
    expect(session.url).toBe(`amqp://guest:guest@127.0.0.1:${session.port}`);
    const connection = await amqp.connect(session.url);
    const channel = await connection.createChannel();
    channel.publish('orders', 'order.created', Buffer.from('routed by the loaded binding'));
    await session.waitFor('method:basic.publish');
    const message = await channel.get('order-jobs', { noAck: true });
    expect(message ? message.content.toString() : message).toBe('routed by the loaded binding');
    await connection.close();
    const exported = session.definitions('/');
    expect(exported['queues']).toEqual([expect.objectContaining({ name: 'order-jobs', arguments: { 'x-max-length': 10 } })]);
    expect(exported['bindings']).toEqual([expect.objectContaining({ source: 'orders', destination: 'order-jobs', routing_key: 'order.*' })]);

    // users known by their hash only replace guest: the URL carries no login it cannot know
    const hashed = await broker({ definitions: { vhosts: [{ name: 'shop' }], users: [{ name: 'ann', password_hash: '', tags: [] }] } });
    expect(hashed.url).toBe(`amqp://127.0.0.1:${hashed.port}/shop`);
  });

  it('definitions that are wrong: DefinitionsError (exit 2) from an object or a file, ApiOptionError for another type', async () => {
    await expect(startBroker({ definitions: { queues: 'no' } })).rejects.toMatchObject({ name: 'DefinitionsError', exitCode: 2 });
    await expect(startBroker({ definitions: '/nonexistent/defs.json' })).rejects.toMatchObject({ name: 'DefinitionsError', exitCode: 2 });
    await expect(startBroker({ definitions: 42 as never })).rejects.toBeInstanceOf(ApiOptionError);
  });

  it('openRecording of a file that is not a recording: RecordingError', async () => {
    await expect(openRecording('/nonexistent/x.jsonl')).rejects.toMatchObject({ name: 'RecordingError', exitCode: 2 });
  });
});

describe('startBroker: fault rules', () => {
  it('faults: the broker nacks the first publish itself, marked injected, and does not enqueue it; a bad rule arms none', async () => {
    const session = await broker({ faults: ['nack when method:basic.publish times=1'] });
    const connection = await amqp.connect(session.url);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const outcome = (body: string) =>
      new Promise<string>((resolve) => channel.sendToQueue(queue, Buffer.from(body), {}, (error) => resolve(error ? 'nacked' : 'acked')));
    expect(await outcome('first')).toBe('nacked');
    expect(await outcome('second')).toBe('acked');
    expect((await channel.checkQueue(queue)).messageCount).toBe(1);
    const nack = await session.waitFor((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.nack');
    expect(nack.kind === 'frame' && nack.fault).toBe('injected');
    expect(session.faults.list()).toEqual([{ id: 1, rule: 'nack when method:basic.publish times=1', state: 'spent', matches: 1, fired: 1, timesLeft: 0 }]);
    await connection.close();
    await expect(startBroker({ faults: ['explode when method:basic.publish'] })).rejects.toMatchObject({
      name: 'FaultRuleError',
      message: expect.stringContaining("faults[0] 'explode when method:basic.publish': unknown action"),
    });
  });

  it('session.faults.add / remove / list while a client runs: a rule armed later applies from its next frame', async () => {
    const session = await broker();
    const client = await new AMQPClient(session.url).connect();
    const channel = await client.channel();
    const { name } = await channel.queueDeclare('', { exclusive: true });
    await channel.basicPublish('', name, 'before');
    expect(() => session.faults.add(['nack', 'close-channel=200 when method:basic.get'])).toThrow(
      'rule 2 \'close-channel=200 when method:basic.get\': close-channel: needs a reply code: 403, 404, 405, 406 (got "200")',
    );
    expect(session.faults.list()).toEqual([]);
    const [rule] = session.faults.add(`close-channel=404 when method:basic.get queue:${name}`);
    const id = rule!.id;
    await expect(channel.basicGet(name)).rejects.toThrow(`NOT_FOUND - no queue '${name}' in vhost '/'`);
    expect(session.faults.remove(id)).toBe(true);
    const again = await client.channel();
    const got = await again.basicGet(name, { noAck: true });
    expect(got?.bodyToString()).toBe('before');
    expect(session.faults.list()).toEqual([]);
    await client.close();
  });
});
