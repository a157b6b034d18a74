// `amqp-spy --standalone --fault ...` through the real CLI: every action acted out by the
// built-in broker on real clients (amqplib, @cloudamqp/amqp-client), its frames printed and
// marked, each rule's count told at exit; bad rules are refused as for the proxy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const RULES = [
  'drop-heartbeats when dir:s2c conn:1',
  'close-channel=404 when method:queue.declare queue:missing times=1',
  'close-connection=320 when method:basic.consume queue:forced',
  'nack when method:basic.publish rk:nacked',
  'delay=300ms when method:basic.publish rk:slow',
  'rate=50KB/s when method:basic.publish rk:big',
  'block when method:queue.declare queue:blockme',
  'unblock when dir:s2c method:heartbeat',
  'cancel-consumer when method:basic.consume queue:cancelme',
  'cut=mid-frame when method:basic.deliver rk:cutme',
  'reset when method:basic.publish rk:resetme',
  'cut when method:queue.declare queue:cutdeclare times=1',
];
const recording = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-fault-standalone-')), 'session.jsonl');

describe('amqp-spy --standalone --fault', () => {
  let cli: ReturnType<typeof startCli>;
  let url = '';
  const opened: { close(): Promise<unknown> }[] = [];

  beforeAll(async () => {
    const port = await freePort();
    cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--frames', '--record', recording, ...RULES.flatMap((rule) => ['--fault', rule])]);
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    url = `amqp://guest:guest@127.0.0.1:${port}`;
  });
  afterAll(async () => {
    for (const c of opened) await c.close().catch(() => {});
    cli.child.kill('SIGKILL');
  });

  const amqplib = async (query = ''): Promise<amqp.ChannelModel> => {
    const connection = await amqp.connect(url + query);
    connection.on('error', () => {});
    opened.push(connection);
    return connection;
  };
  const cloud = async (): Promise<Awaited<ReturnType<AMQPClient['connect']>>> => {
    const connection = await new AMQPClient(url).connect();
    opened.push(connection);
    return connection;
  };
  const confirmed = (channel: amqp.ConfirmChannel, queue: string, body: Buffer): Promise<string> =>
    new Promise((resolve) => channel.sendToQueue(queue, body, {}, (error) => resolve(error ? 'nack' : 'ack')));
  const count = async (queue: string): Promise<number> => {
    const connection = await amqplib();
    const n = (await (await connection.createChannel()).checkQueue(queue)).messageCount;
    await connection.close();
    return n;
  };

  it('drop-heartbeats (connection 1): amqplib’s heartbeat timeout fires', async () => {
    const connection = await amqplib('?heartbeat=1');
    const error = await new Promise<Error>((resolve) => connection.on('error', resolve));
    expect(error.message).toMatch(/Heartbeat timeout/);
  }, 15_000);

  it('close-channel=404: amqplib’s declare fails with RabbitMQ’s words; a new channel declares it', async () => {
    const connection = await amqplib();
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await expect(channel.assertQueue('missing')).rejects.toThrow(`NOT_FOUND - no queue 'missing' in vhost '/'`);
    await (await connection.createChannel()).assertQueue('missing', { exclusive: true });
  });

  it('close-connection=320: amqplib hears CONNECTION_FORCED; the queue keeps its message', async () => {
    const connection = await amqplib();
    const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await channel.assertQueue('forced', { durable: false, autoDelete: false });
    channel.sendToQueue('forced', Buffer.from('kept'));
    channel.consume('forced', () => {}).catch(() => {});
    expect((await closed)?.message).toBe('Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - Closed via management plugin"');
    expect(await count('forced')).toBe(1);
  });

  it('nack: amqplib’s confirm callback gets an error; the message is not enqueued', async () => {
    const channel = await (await amqplib()).createConfirmChannel();
    await channel.assertQueue('nacked', { durable: false, autoDelete: false });
    expect(await confirmed(channel, 'nacked', Buffer.from('x'))).toBe('nack');
    expect(await count('nacked')).toBe(0);
  });

  it('delay=300ms and rate=50KB/s: @cloudamqp/amqp-client’s confirms come that much later', async () => {
    const connection = await cloud();
    const channel = await connection.channel();
    await channel.queueDeclare('slow', { exclusive: true });
    await channel.queueDeclare('big', { exclusive: true });
    await channel.confirmSelect();
    let start = performance.now();
    await channel.basicPublish('', 'slow', 'x');
    expect(performance.now() - start).toBeGreaterThanOrEqual(290);
    start = performance.now();
    await channel.basicPublish('', 'big', new Uint8Array(50_000));
    expect(performance.now() - start).toBeGreaterThanOrEqual(900);
  });

  it('block, then unblock at the broker’s next heartbeat: amqplib hears both, its publish waits', async () => {
    const connection = await amqplib('?heartbeat=1');
    const heard: string[] = [];
    connection.on('blocked', (reason: string) => heard.push(`blocked: ${reason}`));
    connection.on('unblocked', () => heard.push('unblocked'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('blockme', { exclusive: true });
    expect(await confirmed(channel, 'blockme', Buffer.from('x'))).toBe('ack');
    expect(heard).toEqual(['blocked: low on memory', 'unblocked']);
  }, 10_000);

  it('cancel-consumer: @cloudamqp/amqp-client’s consumer is told the server cancelled it', async () => {
    const channel = await (await cloud()).channel();
    await channel.queueDeclare('cancelme', { exclusive: true });
    const consumer = await channel.basicConsume('cancelme', { noAck: true }, () => {});
    await expect(consumer.wait(5000)).rejects.toThrow('Consumer cancelled by the server');
  });

  it('cut=mid-frame at a delivery: amqplib’s connection ends mid-message; the message goes back to its queue', async () => {
    const setup = await (await amqplib()).createChannel();
    await setup.assertQueue('cutme', { durable: false, autoDelete: false });
    setup.sendToQueue('cutme', Buffer.alloc(5000, 1));
    await setup.checkQueue('cutme');
    const connection = await amqplib();
    const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    let delivered = 0;
    await channel.consume('cutme', () => delivered++);
    expect((await closed)?.message).toMatch(/Unexpected close/);
    expect(delivered).toBe(0);
    await waitFor(() => /connection closed/.test(cli.stdout()), 'the close');
    expect((await setup.checkQueue('cutme')).messageCount).toBe(1);
  });

  it('reset at a publish: @cloudamqp/amqp-client’s connection fails; the publish never arrives', async () => {
    const connection = await cloud();
    const channel = await connection.channel();
    await channel.queueDeclare('resetme', { durable: false, autoDelete: false });
    await channel.basicPublish('', 'resetme', 'never').catch(() => {});
    await waitFor(() => connection.closed, 'the connection to fail');
    expect(await count('resetme')).toBe(0);
  });

  it('cut (FIN) at a client method: amqplib’s connection ends, the declare is never handled', async () => {
    const connection = await amqplib();
    const closed = new Promise<Error | undefined>((resolve) => connection.once('close', resolve));
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    channel.assertQueue('cutdeclare').catch(() => {});
    expect((await closed)?.message).toMatch(/Unexpected close/);
    await waitFor(() => /fault rule cut the connection/.test(cli.stdout()), 'the close to be printed');
    const other = await (await amqplib()).createChannel();
    other.on('error', () => {});
    await expect(other.checkQueue('cutdeclare')).rejects.toThrow(/NOT_FOUND/);
  });

  it('prints what the broker made, marked, and how often each rule fired; exits 0', async () => {
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const out = cli.stdout();
    expect(out).toMatch(/S→C ch1 channel\.close reply-code=404 reply-text="NOT_FOUND - no queue 'missing' in vhost '\/'" .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch0 connection\.close reply-code=320 .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch1 basic\.nack .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch0 connection\.blocked .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch0 connection\.unblocked .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch1 basic\.cancel .* {2}\[injected\]/);
    expect(out).toMatch(/S→C ch0 heartbeat.* {2}\[suppressed\]/);
    const stderr = cli.stderr();
    for (const rule of RULES) expect(stderr).toContain(`fault rule armed: ${rule}`);
    expect(stderr).toContain(`fault rule '${RULES[1]}': fired 1 time (1 match)`);
    // the recording keeps the marks; replay shows them as live did
    const replay = runCli(['replay', recording, '--no-tui', '--frames']);
    expect(replay.status).toBe(0);
    const marked = (text: string) =>
      text
        .split('\n')
        .filter((l) => / {2}\[(injected|suppressed)\]$/.test(l))
        .map((l) => l.slice(l.indexOf('#')));
    expect(marked(replay.stdout)).toEqual(marked(out));
    expect(marked(out).length).toBeGreaterThan(7);
    for (const rule of RULES) expect(stderr).toMatch(new RegExp(`fault rule '${rule.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': fired [1-9]\\d* times?`));
  });
});

describe('amqp-spy --standalone: bad rules', () => {
  it.each([
    [
      ['--fault', 'explode when method:basic.publish'],
      'amqp-spy: --fault \'explode when method:basic.publish\': unknown action "explode" (actions: close-channel, close-connection, nack, delay, rate, drop-heartbeats, block, unblock, cancel-consumer, cut, reset)',
    ],
    [
      ['--fault', 'nack', '--fault', 'close-channel=200'],
      'amqp-spy: --fault \'close-channel=200\': close-channel: needs a reply code: 403, 404, 405, 406 (got "200")',
    ],
    [['--faults', '/nonexistent/rules.yaml'], 'amqp-spy: --faults /nonexistent/rules.yaml: no such file'],
  ])('%j: the same line as for the proxy, exit 2, nothing started', (args, line) => {
    const out = runCli(['--standalone', '--listen', '0', '--no-tui', ...args]);
    expect(out.status).toBe(2);
    expect(out.stderr.trim()).toBe(line);
    expect(out.stdout).toBe('');
  });
});
