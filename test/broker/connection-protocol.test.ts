// The built-in broker's connection layer over real sockets: handshake contents, SASL PLAIN and
// AMQPLAIN, users and vhosts, tune negotiation and limits, heartbeats, close both ways,
// update-secret, the memory alarm, the observer and the listener's safety warning.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeFieldTableEntries, fieldTable, tableGet } from '../../src/decoder/field-table.js';
import { encodeContentFrames, encodeFrame, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import type { FieldTable } from '../../src/decoder/types.js';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { BrokerOptionError, parseUserOption, type BrokerOptions } from '../../src/broker/broker.js';
import type { ProxyConnectionInfo, SocketEnd } from '../../src/proxy/proxy-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { RawClient } from './raw-client.js';

const AMQP_0_9_1 = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
const running: RunningBroker[] = [];
const clients: RawClient[] = [];

async function broker(options: Partial<BrokerOptions> = {}): Promise<RunningBroker> {
  const b = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, ...options });
  running.push(b);
  return b;
}

async function client(b: RunningBroker): Promise<RawClient> {
  const c = await RawClient.connect(b.address.port);
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const b of running.splice(0)) await b.close();
});

function capability(table: FieldTable, key: string): unknown {
  const caps = tableGet(table, 'capabilities');
  if (caps === undefined || caps.type !== 'F') return undefined;
  return tableGet(caps.value, key)?.value;
}

describe('handshake', () => {
  it('sends connection.start with what real clients check, then tune with 2047 / 131072 / 60', async () => {
    const b = await broker();
    const c = await client(b);
    c.write(AMQP_0_9_1);
    const start = await c.expectMethod('connection.start');
    expect(start.args['version-major']).toBe(0);
    expect(start.args['version-minor']).toBe(9);
    expect(String(start.args['mechanisms']).split(' ')).toEqual(expect.arrayContaining(['PLAIN', 'AMQPLAIN']));
    expect(start.args['locales']).toBe('en_US');
    const props = start.args['server-properties'] as FieldTable;
    expect(tableGet(props, 'product')?.value).toBe('amqp-spy');
    expect(typeof tableGet(props, 'version')?.value).toBe('string');
    for (const cap of [
      'publisher_confirms',
      'exchange_exchange_bindings',
      'basic.nack',
      'consumer_cancel_notify',
      'connection.blocked',
      'authentication_failure_close',
      'per_consumer_qos',
      'direct_reply_to',
    ]) {
      expect(capability(props, cap)).toBe(true);
    }
    c.send(0, 'connection.start-ok', { 'client-properties': fieldTable({}), mechanism: 'PLAIN', response: '\u0000guest\u0000guest' });
    const tune = await c.expectMethod('connection.tune');
    expect(tune.args).toEqual({ 'channel-max': 2047, 'frame-max': 131072, heartbeat: 60 });
  });

  it('logs in with AMQPLAIN', async () => {
    const b = await broker({ users: [{ name: 'ann', password: 's3cret' }] });
    const c = await client(b);
    c.write(AMQP_0_9_1);
    await c.expectMethod('connection.start');
    const response = encodeFieldTableEntries(fieldTable({ LOGIN: 'ann', PASSWORD: 's3cret' }));
    c.send(0, 'connection.start-ok', { 'client-properties': fieldTable({}), mechanism: 'AMQPLAIN', response });
    expect((await c.expectMethod('connection.tune')).name).toBe('connection.tune');
  });

  it('refuses a wrong password with 403 when the client has authentication_failure_close, silently otherwise', async () => {
    const notices: string[] = [];
    const b = await broker({ users: [{ name: 'ann', password: 's3cret' }], onNotice: (m) => notices.push(m) });
    const c = await client(b);
    // RabbitMQ's code and opening words; then the reason, where RabbitMQ points to its log file
    await expect(c.open({ user: 'ann', password: 'nope' })).rejects.toThrow(
      "got connection.close 403 ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. Wrong password for user 'ann'.",
    );
    await c.waitForEnd();
    // guest is gone once users are given
    const d = await client(b);
    await expect(d.open({ capabilities: {} })).rejects.toThrow(/socket closed/);
    expect(d.frames.map((f) => (f.type === 'method' ? f.method.name : f.type))).toEqual(['connection.start']);
    expect(d.ended).toBe(true);
    // the client without the capability hears nothing: the person running the broker is told
    expect(notices).toEqual([
      "connection #1: refused login of user 'ann': wrong password for user 'ann' (users: ann)",
      "connection #2: refused login of user 'guest': no user 'guest' on this broker (users: ann)",
    ]);
    const e = await client(b);
    await expect(e.open({ user: 'bob', password: 'x' })).rejects.toThrow(
      "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. No user 'bob' on this broker.",
    );
  });

  it('refuses an unknown vhost with 530 and accepts the configured ones', async () => {
    const notices: string[] = [];
    const b = await broker({ vhosts: ['/', 'dev'], onNotice: (m) => notices.push(m) });
    const c = await client(b);
    await expect(c.open({ vhost: 'nope' })).rejects.toThrow('got connection.close 530 NOT_ALLOWED - vhost nope not found');
    expect(notices).toEqual(["connection #1 (user 'guest'): refused vhost 'nope': no such vhost (vhosts: /, dev)"]);
    const d = await client(b);
    await d.open({ vhost: 'dev' });
    await d.openChannel(1);
    d.send(1, 'queue.declare', { queue: 'q-dev', passive: true });
    expect(await d.expectChannelClose()).toEqual([404, "NOT_FOUND - no queue 'q-dev' in vhost 'dev'", 50, 10]);
  });

  // RabbitMQ 4.x answers these with connection.close (rabbit_reader.erl); 3.10 drops the socket silently
  it('checks tune-ok as newer RabbitMQ does', async () => {
    const b = await broker();
    const cases: Array<[{ frameMax?: number; channelMax?: number }, string]> = [
      [{ frameMax: 100 }, 'NOT_ALLOWED - negotiated frame_max = 100 is lower than the minimum allowed value (4096)'],
      [{ frameMax: 0 }, 'NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)'],
      [{ channelMax: 0 }, 'NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)'],
      [{ channelMax: 5000 }, 'NOT_ALLOWED - negotiated channel_max = 5000 is higher than the maximum allowed value (2047)'],
    ];
    for (const [tune, text] of cases) {
      const c = await client(b);
      await expect(c.open(tune)).rejects.toThrow(`got connection.close 530 ${text}`);
    }
  });

  it('applies tune-ok frame-max to the frames written with it (a pipelining client)', async () => {
    const b = await broker();
    const c = await client(b);
    c.write(AMQP_0_9_1);
    await c.expectMethod('connection.start');
    c.send(0, 'connection.start-ok', {
      'client-properties': fieldTable({ product: 'raw-test' }),
      mechanism: 'PLAIN',
      response: '\0guest\0guest',
      locale: 'en_US',
    });
    await c.expectMethod('connection.tune');
    // one write: tune-ok, open, a channel, a queue, a publish whose body frame is 10008 bytes
    // (over the handshake's 4096 + 8), and a get
    const body = Buffer.alloc(10_000, 7);
    c.frameMax = 131072;
    const m = encodeMethodFrame;
    c.write(
      Buffer.concat([
        m(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 0 }),
        m(0, 'connection.open', { 'virtual-host': '/' }),
        m(1, 'channel.open', {}),
        m(1, 'queue.declare', { queue: 'pipelined', exclusive: true }),
        m(1, 'basic.publish', { exchange: '', 'routing-key': 'pipelined' }),
        ...encodeContentFrames(1, 60, {}, body, 131072),
        m(1, 'basic.get', { queue: 'pipelined', 'no-ack': true }),
      ]),
    );
    await c.expectMethod('connection.open-ok');
    await c.expectMethod('basic.get-ok');
    await c.next('the content header');
    const bodyFrame = await c.next('the body frame');
    expect(bodyFrame.type === 'body' && bodyFrame.body.length).toBe(10_000);
  });
});

describe('heartbeats, close and update-secret', () => {
  it('sends heartbeats and drops a client that misses them', async () => {
    const reasons: SocketEnd[] = [];
    const b = await broker({ heartbeat: 1, observer: { onClose: (_id, end) => reasons.push(end) } });
    const c = await client(b);
    await c.open({ heartbeat: 1 });
    // the client stays silent: the broker keeps sending heartbeats, then gives up on it
    await c.waitForEnd();
    expect(c.frames.filter((f) => f.type === 'heartbeat').length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(reasons).toEqual([{ by: 'server', how: 'closed', detail: 'missed heartbeats from client, timeout: 1s' }]);
  });

  it('keeps a client that sends heartbeats', async () => {
    const b = await broker({ heartbeat: 1 });
    const c = await client(b);
    await c.open({ heartbeat: 1 });
    const timer = setInterval(() => c.write(encodeFrame(8, 0, new Uint8Array(0))), 200);
    try {
      // wait for four server heartbeats: longer than the 2 s a silent client gets
      for (let seen = 0; seen < 4; ) if ((await c.next('a heartbeat')).type === 'heartbeat') seen++;
      expect(c.ended).toBe(false);
    } finally {
      clearInterval(timer);
    }
  });

  it('answers connection.close with close-ok and deletes the exclusive queues', async () => {
    const b = await broker();
    const c = await client(b);
    await c.open();
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: 'mine', exclusive: true });
    await c.expectMethod('queue.declare-ok');
    c.send(0, 'connection.update-secret', { 'new-secret': 'token', reason: 'refresh' });
    await c.expectMethod('connection.update-secret-ok');
    c.send(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'bye' });
    await c.expectMethod('connection.close-ok');
    await c.waitForEnd();
    expect(b.broker.vhost('/')!.queue('mine')).toBeUndefined();
  });

  it('closes clients with 320 CONNECTION_FORCED when the broker stops', async () => {
    const b = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    const c = await client(b);
    await c.open();
    await b.close();
    expect(await c.expectConnectionClose()).toEqual([320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"]);
  });
});

describe('limits', () => {
  it('refuses a message over --max-message-size (406) and keeps the connection', async () => {
    const b = await broker({ maxMessageSize: 100 });
    const c = await client(b);
    await c.open();
    await c.openChannel(1);
    c.publish(1, '', 'q', Buffer.alloc(101));
    expect(await c.expectChannelClose()).toEqual([406, 'PRECONDITION_FAILED - message size 101 is larger than configured max size 100', 60, 40]);
    c.send(1, 'channel.close-ok');
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
    c.publish(1, '', q, Buffer.alloc(100));
    c.send(1, 'queue.declare', { queue: q, passive: true });
    expect((await c.expectMethod('queue.declare-ok')).args['message-count']).toBe(1);
  });

  it('blocks publishers above the memory high watermark and unblocks them below it', async () => {
    const b = await broker({ maxMemory: 1 });
    const c = await client(b);
    await c.open();
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
    c.publish(1, '', q, 'first');
    const blocked = await c.expectMethod('connection.blocked');
    expect(blocked.args['reason']).toBe('low on memory');
    // a consumer-only connection is not blocked
    const other = await client(b);
    await other.open();
    await other.openChannel(1);
    c.publish(1, '', q, 'second, sent while blocked');
    b.broker.setMaxMemory(Number.MAX_SAFE_INTEGER);
    await c.expectMethod('connection.unblocked');
    c.send(1, 'queue.declare', { queue: q, passive: true });
    expect((await c.expectMethod('queue.declare-ok')).args['message-count']).toBe(2);
    expect(other.frames.some((f) => f.type === 'method' && f.method.name === 'connection.blocked')).toBe(false);
  });
});

describe('observer and listener', () => {
  it('reports every byte in and out, in order, like the proxy does', async () => {
    const opened: ProxyConnectionInfo[] = [];
    const data = new Map<string, Buffer[]>();
    const closed: number[] = [];
    const b = await broker({
      observer: {
        onOpen: (info) => opened.push(info),
        onData: (id, dir, chunk) => {
          const list = data.get(`${id}:${dir}`) ?? [];
          list.push(Buffer.from(chunk));
          data.set(`${id}:${dir}`, list);
        },
        onClose: (id) => closed.push(id),
      },
    });
    const c = await client(b);
    await c.open();
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
    c.publish(1, '', q, 'observed');
    c.send(1, 'basic.get', { queue: q, 'no-ack': true });
    await c.expectMethod('basic.get-ok');
    await c.next();
    await c.next();
    c.send(0, 'connection.close', { 'reply-code': 200 });
    await c.expectMethod('connection.close-ok');
    await c.waitForEnd();
    await new Promise((r) => setTimeout(r, 20));
    expect(opened).toHaveLength(1);
    expect(opened[0]!.server.port).toBe(b.address.port);
    expect(closed).toEqual([opened[0]!.id]);
    // what the broker says it sent is what the client received, byte for byte
    expect(Buffer.concat(data.get(`${opened[0]!.id}:s2c`)!)).toEqual(Buffer.concat(c.raw));
    // and what it received parses as the client's frames, after the protocol header
    const c2s = Buffer.concat(data.get(`${opened[0]!.id}:c2s`)!);
    expect(c2s.subarray(0, 8)).toEqual(AMQP_0_9_1);
    const parsed = new FrameParser().push(c2s);
    expect(parsed.filter((i) => i.kind === 'error')).toEqual([]);
    expect(parsed.filter((i) => i.kind === 'frame').length).toBeGreaterThan(8);
  });

  it('warns when listening beyond loopback with guest/guest still enabled', async () => {
    const warnings: string[] = [];
    await broker({ listen: { host: '0.0.0.0', port: 0 }, onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('guest/guest');
    await broker({ listen: { host: '0.0.0.0', port: 0 }, users: [{ name: 'ann', password: 'x' }], onWarning: (m) => warnings.push(m) });
    await broker({ onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });
});

describe('options', () => {
  it('parses --user name:password[@vhost,...] and refuses bad values', async () => {
    expect(parseUserOption('ann:pa:ss')).toEqual({ name: 'ann', password: 'pa:ss' });
    expect(parseUserOption('bob:')).toEqual({ name: 'bob', password: '' });
    expect(parseUserOption('ann:pw@/,orders')).toEqual({ name: 'ann', password: 'pw', vhosts: ['/', 'orders'] });
    // the vhosts follow the last '@': a password with '@' in it is followed by a list, `*` for all
    expect(parseUserOption('ann:p@ss@*')).toEqual({ name: 'ann', password: 'p@ss' });
    expect(parseUserOption('ann:p@ss@/')).toEqual({ name: 'ann', password: 'p@ss', vhosts: ['/'] });
    expect(() => parseUserOption('ann:pw@a,,b')).toThrow(`--user: an empty vhost name in "ann:pw@a,,b"`);
    expect(() => parseUserOption('ann:pw@')).toThrow(BrokerOptionError);
    expect(() => parseUserOption('nocolon')).toThrow(BrokerOptionError);
    expect(() => parseUserOption(':pw')).toThrow('--user: expected name:password[@vhost,...], got ":pw"');
    await expect(startBroker({ listen: { host: '127.0.0.1', port: 0 }, users: [parseUserOption('ann:pw@orders')] })).rejects.toThrow(
      "--user: user 'ann' is given vhost 'orders', which the broker does not have (add --vhost orders)",
    );
    await expect(startBroker({ listen: { host: '127.0.0.1', port: 0 }, maxMessageSize: 0 })).rejects.toThrow(
      '--max-message-size: expected an integer from 1 to 536870912, got 0',
    );
  });
});

/** Handshake details answered the same way by RabbitMQ (checked against it when available). */
function sharedCases(port: () => number): void {
  const connect = async (): Promise<RawClient> => {
    const c = await RawClient.connect(port());
    clients.push(c);
    return c;
  };

  it('logs in with AMQPLAIN and refuses a wrong PLAIN password with 403', async () => {
    const c = await connect();
    c.write(AMQP_0_9_1);
    await c.expectMethod('connection.start');
    const response = encodeFieldTableEntries(fieldTable({ LOGIN: 'guest', PASSWORD: 'guest' }));
    c.send(0, 'connection.start-ok', { 'client-properties': fieldTable({}), mechanism: 'AMQPLAIN', response });
    expect((await c.expectMethod('connection.tune')).args).toMatchObject({ 'channel-max': 2047, 'frame-max': 131072 });
    const d = await connect();
    // the same code and opening words (RabbitMQ goes on "For details see the broker logfile.",
    // the built-in broker with the reason)
    await expect(d.open({ password: 'not-the-password' })).rejects.toThrow(
      'got connection.close 403 ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. ',
    );
  });

  it('splits deliveries at the client frame-max (8192) and enforces channel-max (256)', async () => {
    const c = await connect();
    await c.open({ frameMax: 8192, channelMax: 256 });
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
    const body = Buffer.alloc(20_000, 7);
    c.publish(1, '', q, body);
    c.send(1, 'basic.get', { queue: q, 'no-ack': true });
    await c.expectMethod('basic.get-ok');
    expect((await c.next()).type).toBe('header');
    const parts: Uint8Array[] = [];
    while (parts.reduce((n, p) => n + p.length, 0) < body.length) {
      const f = await c.next();
      if (f.type !== 'body') throw new Error(`expected a body frame, got ${f.type}`);
      expect(f.body.length).toBeLessThanOrEqual(8192 - 8);
      parts.push(f.body);
    }
    expect(parts).toHaveLength(3);
    expect(Buffer.concat(parts)).toEqual(body);
    for (let ch = 2; ch <= 256; ch++) c.send(ch, 'channel.open');
    for (let ch = 2; ch <= 256; ch++) await c.expectMethod('channel.open-ok');
    c.send(257, 'channel.open');
    expect(await c.expectConnectionClose()).toEqual([530, 'NOT_ALLOWED - number of channels opened (256) has reached the negotiated channel_max (256)']);
  });
}

describe('handshake details shared with RabbitMQ, on the built-in broker', () => {
  let b: RunningBroker;
  beforeAll(async () => {
    b = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
  });
  afterAll(async () => {
    await b.close();
  });
  sharedCases(() => b.address.port);
});

describeWithRabbitMQ('handshake details', () => {
  sharedCases(() => rabbitAddress().port);
});
