// `amqp-spy --standalone`: the built-in broker behind the same views, recorded, and a
// recording of it re-sent to another built-in broker with no differences.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import { RawClient } from '../broker/raw-client.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-standalone-'));

async function clientSession(port: number, user = 'guest', password = 'guest'): Promise<string[]> {
  const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: user, password });
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('orders', 'topic', { durable: false });
    await ch.assertQueue('order-jobs', { durable: false });
    await ch.bindQueue('order-jobs', 'orders', 'order.*');
    ch.publish('orders', 'order.created', Buffer.from('{"id":7}'), { contentType: 'application/json', headers: { n: 1 } });
    ch.publish('orders', 'invoice.paid', Buffer.from('unrouted'));
    await ch.waitForConfirms();
    const got: string[] = [];
    for (let i = 0; i < 100 && got.length === 0; i++) {
      const m = await ch.get('order-jobs');
      if (m) {
        got.push(m.content.toString());
        ch.ack(m);
      } else await new Promise((r) => setTimeout(r, 10));
    }
    await ch.deleteQueue('order-jobs');
    await ch.deleteExchange('orders');
    return got;
  } finally {
    await conn.close();
  }
}

describe('amqp-spy --standalone', () => {
  it('serves real clients, prints their traffic, records it, and exits 0 with a summary', async () => {
    const port = await freePort();
    const recording = path.join(tmp, 'standalone.jsonl');
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording, '--user', 'alice:wonder']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    // who may log in where, by name: never a password
    expect(cli.stderr()).toContain(`built-in broker listening on 127.0.0.1:${port}; users alice · vhosts / (Ctrl-C to stop)`);
    expect(await clientSession(port, 'alice', 'wonder')).toEqual(['{"id":7}']);
    await waitFor(() => cli.stdout().includes('connection closed'), 'the close to be printed');
    const out = cli.stdout();
    expect(out).toMatch(/C→S ch1 basic\.publish exchange=orders routing-key=order\.created 8 B application\/json {2}\[publish-seq 1\]/);
    expect(out).toMatch(/S→C ch1 basic\.get-ok .*routing-key=order\.created/);
    expect(out).toMatch(/S→C ch1 queue\.bind-ok 12 B {2}\[← queue\.bind /);
    expect(out).not.toContain('wonder');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toMatch(/summary: 1 connection; C→S \d+ frames, 2 messages; S→C \d+ frames, 1 message; 0 errors/);

    // the recording replays, and re-sent to another built-in broker it gets the same answers
    const replayed = runCli(['replay', recording, '--no-tui']);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toContain('basic.publish exchange=orders routing-key=order.created');
    const other = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, users: [{ name: 'alice', password: 'wonder' }] });
    cleanups.push(() => other.close());
    // started asynchronously: the broker runs in this process and must answer meanwhile
    const resent = startCli(['replay', recording, '--to', `amqp://alice:wonder@127.0.0.1:${other.address.port}`]);
    expect(await resent.exited).toBe(0);
    expect(resent.stderr()).toMatch(/\d+ frames sent, \d+ server frames compared, 2 publisher confirms compared: no differences/);
    expect(resent.stderr()).not.toContain('note: recorded against'); // the same server product and version
  });

  it('refuses unknown users with 403, and the port in use with one line', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    // RabbitMQ's code and words, then what was wrong (not "see the broker logfile": there is none)
    await expect(amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'wrong' })).rejects.toThrow(
      /403 \(ACCESS-REFUSED\) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN\. Wrong password for user 'guest'\."/,
    );
    await waitFor(() => cli.stdout().includes('403'), 'the refusal to be printed');
    // and amqp-spy's side says who was refused
    await waitFor(
      () => cli.stderr().includes("amqp-spy: connection #1: refused login of user 'guest': wrong password for user 'guest' (users: guest)"),
      'the refusal notice',
    );
    const second = runCli(['--standalone', '--listen', String(port), '--no-tui']);
    expect(second.status).toBe(1);
    expect(second.stderr.trim()).toBe(`amqp-spy: cannot listen on 127.0.0.1:${port}: address already in use`);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('closes with reply code 0 (py-amqp, Bunny) print as normal closes: no error marker, 0 errors', async () => {
    const port = await freePort();
    const recording = path.join(tmp, 'normal-close.jsonl');
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording]);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    const client = await RawClient.connect(port);
    cleanups.push(() => client.destroy());
    await client.open();
    await client.openChannel(1);
    client.send(1, 'channel.close', { 'reply-code': 0, 'reply-text': '', 'class-id': 0, 'method-id': 0 });
    await client.expectMethod('channel.close-ok');
    client.send(0, 'connection.close', { 'reply-code': 0, 'reply-text': 'Normal shutdown', 'class-id': 0, 'method-id': 0 });
    await client.expectMethod('connection.close-ok');
    await waitFor(() => cli.stdout().includes('connection closed'), 'the close to be printed');
    const out = cli.stdout();
    expect(out).toMatch(/C→S ch1 channel\.close reply-code=0 .*\n.*S→C ch1 channel\.close-ok/);
    expect(out).toMatch(/C→S ch0 connection\.close reply-code=0 reply-text="?Normal shutdown/);
    expect(out).not.toContain('UNKNOWN');
    expect(
      out
        .split('\n')
        .filter((l) => /\.close reply-code/.test(l))
        .every((l) => !l.includes('[')),
    ).toBe(true);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toMatch(/summary: 1 connection; .*; 0 errors/);
    // replayed, the error filter finds nothing
    const errors = runCli(['replay', recording, '--no-tui', '--filter', 'error']);
    expect(errors.status).toBe(0);
    expect(errors.stdout).toBe('');
  });

  it('headless: an RPC reply says which request it answers and after how long (classic reply queue, two connections)', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    const server = await amqplib.connect({ hostname: '127.0.0.1', port });
    const client = await amqplib.connect({ hostname: '127.0.0.1', port });
    cleanups.push(async () => {
      await client.close();
      await server.close();
    });
    const serverCh = await server.createChannel();
    await serverCh.assertQueue('rpc-calc', { durable: false });
    await serverCh.consume(
      'rpc-calc',
      (m) => {
        if (m) serverCh.sendToQueue(m.properties.replyTo as string, Buffer.from('42'), { correlationId: m.properties.correlationId as string });
      },
      { noAck: true },
    );
    const ch = await client.createChannel();
    const { queue: replies } = await ch.assertQueue('', { exclusive: true });
    const answers: string[] = [];
    await ch.consume(
      replies,
      (m) => {
        if (m) answers.push(m.content.toString());
      },
      { noAck: true },
    );
    ch.sendToQueue('rpc-calc', Buffer.from('6*7'), { replyTo: replies, correlationId: 'calc-1' });
    await waitFor(() => answers.length === 1, 'the reply');
    await waitFor(() => /RPC reply/.test(cli.stdout()), 'the reply line');
    const replyLine = cli
      .stdout()
      .split('\n')
      .find((l) => l.includes('RPC reply'))!;
    expect(replyLine).toMatch(
      new RegExp(
        `#1 C→S ch1 basic\\.publish routing-key=${replies.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*\\[RPC reply to correlation-id calc-1, [\\d.]+ (ms|µs) after its request\\]$`,
      ),
    );
    // the server (#1, connected first) replies; only the reply says it
    expect(
      cli
        .stdout()
        .split('\n')
        .filter((l) => l.includes('RPC reply')),
    ).toHaveLength(1);
  });

  it('--max-message-size: the publish it refuses is printed before the 406, incomplete', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--max-message-size', '100000']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
    cleanups.push(() => conn.close().catch(() => {}));
    const ch = await conn.createChannel();
    let closed = false;
    ch.on('error', () => {});
    ch.on('close', () => {
      closed = true;
    });
    // 1 MiB: the broker refuses it at its header, while most of its body is still to come
    ch.publish('', 'nowhere', Buffer.alloc(1024 * 1024, 1));
    await waitFor(() => closed, 'the channel to be closed');
    const ok = await conn.createChannel();
    await ok.checkQueue((await ok.assertQueue('', { exclusive: true })).queue);
    await waitFor(() => cli.stdout().includes('queue.declare-ok'), 'the traffic after it');
    const lines = cli.stdout().split('\n');
    const publish = lines.findIndex((l) => / C→S ch1 basic\.publish /.test(l));
    const close = lines.findIndex((l) => / S→C ch1 channel\.close reply-code=406/.test(l));
    expect(lines[publish]).toMatch(/basic\.publish routing-key=nowhere [\d.]+ K?B \(incomplete: [\d.]+ K?B of 1\.0 MB, cut by channel\.close\)$/);
    expect(close).toBeGreaterThan(publish);
    expect(lines[close]).toContain('caused by basic.publish');
    // the rest of its body was frames only: no second publish line, no decode error
    expect(lines.filter((l) => / basic\.publish /.test(l))).toHaveLength(1);
    expect(cli.stdout()).not.toContain('decode error');
  });

  it('--upstream and --standalone exclude each other; broker options need --standalone', () => {
    expect(runCli(['--standalone', '--upstream', '127.0.0.1:5672']).stderr).toMatch(/exclude each other/);
    const r = runCli(['--upstream', '127.0.0.1:5672', '--user', 'a:b']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--user applies with --standalone only/);
    expect(runCli(['--standalone', '--user', 'nocolon']).stderr).toMatch(/--user: expected name:password/);
    expect(runCli(['--upstream', '127.0.0.1:5672', '--max-memory', '1']).stderr).toMatch(/--max-memory applies with --standalone only/);
  });

  it('--handshake-timeout closes a client that never opens; --max-connections refuses the one too many', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--handshake-timeout', '300', '--max-connections', '1']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    const idle = await RawClient.connect(port);
    cleanups.push(() => idle.destroy());
    await idle.waitForEnd();
    await waitFor(() => cli.stdout().includes('handshake timeout'), 'the timeout to be printed');
    expect(cli.stdout()).toContain('handshake timeout: no connection.open within 300 ms (nothing received)');
    const first = await amqplib.connect({ hostname: '127.0.0.1', port });
    first.on('error', () => undefined);
    cleanups.push(() => first.close().catch(() => undefined));
    const second = await RawClient.connect(port);
    cleanups.push(() => second.destroy());
    await expect(second.open()).rejects.toThrow('got connection.close 530 NOT_ALLOWED - connection refused: node connection limit (1) is reached');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('refuses bad --handshake-timeout, --max-connections, --max-memory and --user values, and broker options without --standalone', () => {
    for (const [args, message] of [
      [['--standalone', '--handshake-timeout', 'soon'], '--handshake-timeout takes milliseconds (0: never) from 0 to 2147483647, got "soon"'],
      [['--standalone', '--max-connections', '0'], '--max-connections takes a number of connections from 1 to 4294967295, got "0"'],
      [['--upstream', '127.0.0.1:5672', '--max-connections', '5'], '--max-connections applies with --standalone only'],
      [['--upstream', '127.0.0.1:5672', '--allow-remote-guest'], '--allow-remote-guest applies with --standalone only'],
      [['--upstream', '127.0.0.1:5672', '--max-memory', '1000000'], '--max-memory applies with --standalone only'],
      [['--standalone', '--max-memory', '64MiB'], '--max-memory takes a number of bytes from 1 to 9007199254740991, got "64MiB"'],
      [['--standalone', '--user', 'ann:pw@orders'], "--user: user 'ann' is given vhost 'orders', which the broker does not have (add --vhost orders)"],
    ] as const) {
      const r = runCli([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim()).toBe(`amqp-spy: ${message}`);
    }
  });
});
