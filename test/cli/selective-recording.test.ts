// Live `--filter`, `--record-filter` and `--record-bodies` as a user runs them: the real CLI
// (--standalone) with real amqplib clients, and the recordings replayed by the real CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import amqplib from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-selective-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `--standalone --no-tui` with more options, listening. */
async function standalone(args: string[]): Promise<{ port: number; cli: ReturnType<typeof startCli> }> {
  const port = await freePort();
  const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', ...args]);
  cleanups.push(() => {
    cli.child.kill('SIGKILL');
  });
  await waitFor(() => cli.stderr().includes('built-in broker listening') || cli.child.exitCode !== null, 'the broker to listen');
  expect(cli.stderr()).toContain('built-in broker listening');
  return { port, cli };
}

/**
 * Two connections: an order service publishing on two channels (orders with confirms, audit
 * logs), and a worker consuming the orders and acking them.
 */
async function traffic(port: number, prefix = ''): Promise<void> {
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const orderQueue = `${prefix}orders`;
  const logQueue = `${prefix}logs`;
  const publisher = await amqplib.connect(url);
  const orders = await publisher.createConfirmChannel();
  await orders.assertQueue(orderQueue, { durable: false });
  const logs = await publisher.createChannel();
  await logs.assertQueue(logQueue, { durable: false });
  for (let i = 1; i <= 3; i++) {
    orders.sendToQueue(orderQueue, Buffer.from(JSON.stringify({ order: { id: 40 + i, customer: 'ada' } })), {
      contentType: 'application/json',
      correlationId: `c-${i}`,
    });
    logs.sendToQueue(logQueue, Buffer.from(`log line ${i} `.repeat(100)), { contentType: 'text/plain' });
  }
  orders.sendToQueue(orderQueue, zlib.gzipSync(Buffer.from(JSON.stringify({ order: { id: 99 }, note: 'zipped order' }))), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
  });
  await orders.waitForConfirms();
  const worker = await amqplib.connect(url);
  const ch = await worker.createChannel();
  let got = 0;
  const done = new Promise<void>((resolve) => {
    void ch.consume(orderQueue, (msg) => {
      if (!msg) return;
      ch.ack(msg);
      if (++got === 4) resolve();
    });
  });
  await done;
  await new Promise((r) => setTimeout(r, 100));
  await worker.close();
  // a shared broker keeps queues: leave none behind
  if (prefix !== '') {
    await orders.deleteQueue(orderQueue);
    await logs.deleteQueue(logQueue);
  }
  await publisher.close();
}

async function stop(cli: ReturnType<typeof startCli>, closes = 2): Promise<void> {
  await waitFor(() => (cli.stdout().match(/connection closed/g) ?? []).length >= closes || cli.stderr().includes('connection closed'), 'the closes', 15_000);
  cli.child.kill('SIGINT');
  expect(await cli.exited).toBe(0);
}

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter((l) => l !== '');

describe('live --filter', () => {
  it('prints only matching events, json terms included, and records only them', async () => {
    const file = path.join(dir, 'filtered.jsonl');
    const { port, cli } = await standalone(['--filter', 'json.order.id>41 or body:"zipped order"', '--record', file]);
    await traffic(port);
    await waitFor(() => (cli.stdout().match(/basic\./g) ?? []).length >= 6, 'the matches to be printed', 15_000);
    // the output shows no closes (they do not match): the recording does, once both are in
    await waitFor(() => (fs.readFileSync(file, 'utf8').match(/"kind":"conn.close"/g) ?? []).length === 2, 'both closes recorded', 15_000);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const printed = lines(cli.stdout());
    // ids 42, 43 and the gzip'd 99, each published and delivered
    expect(printed).toHaveLength(6);
    for (const line of printed) expect(line).toMatch(/basic\.(publish|deliver) .*routing-key=orders/);
    const replayed = runCli(['replay', file, '--no-tui']);
    expect(replayed.status).toBe(0);
    expect(replayed.stderr).not.toContain('warning');
    const messages = lines(replayed.stdout).filter((l) => /basic\.(publish|deliver)/.test(l));
    expect(messages).toHaveLength(6);
    expect(replayed.stdout).not.toContain('routing-key=logs');
    const header = JSON.parse(fs.readFileSync(file, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    expect(header['recordFilter']).toBe('json.order.id>41 or body:"zipped order"');
  });

  it('a bad filter: one line with the column, exit 2, before anything listens', async () => {
    const port = await freePort();
    const result = runCli(['--standalone', '--listen', String(port), '--no-tui', '--filter', 'rk:orders (size>1KB']);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('amqp-spy: filter "rk:orders (size>1KB": a "(" without its ")" at column 11\n');
    expect(runCli(['--standalone', '--no-tui', '--record-filter', 'error']).stderr).toBe('amqp-spy: --record-filter applies with --record <file> only\n');
    expect(runCli(['--standalone', '--no-tui', '--record', path.join(dir, 'x.jsonl'), '--record-bodies', 'some']).stderr).toMatch(
      /^amqp-spy: --record-bodies takes none, head:N/,
    );
    expect(fs.existsSync(path.join(dir, 'x.jsonl'))).toBe(false);
    expect(runCli(['--sniff', 'lo:5672', '--record', path.join(dir, 'x.jsonl'), '--record-filter', 'error']).stderr).toBe(
      'amqp-spy: --record-filter applies to live --upstream and --standalone sessions, not to --sniff\n',
    );
  });
});

describe('--record-filter', () => {
  it('records matching messages with their connection and channel setup; replay of the file works; replay --to refuses it', async () => {
    const file = path.join(dir, 'record-filter.jsonl');
    const { port, cli } = await standalone(['--record', file, '--record-filter', 'method:basic.deliver']);
    await traffic(port);
    await stop(cli);
    // everything was printed: the record filter is for the recording only
    expect(cli.stdout()).toContain('routing-key=logs');
    const recorded = lines(fs.readFileSync(file, 'utf8')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const methods = recorded.flatMap((e) => {
      const frame = e['frame'] as { type: string; method?: { name: string } } | undefined;
      return frame?.type === 'method' ? [`${String(e['conn'])} ${frame.method!.name}`] : [];
    });
    // the publisher's connection carries no delivery: it is not in the file at all
    expect(recorded.filter((e) => e['kind'] === 'conn.open')).toHaveLength(1);
    expect(methods.filter((m) => m.endsWith('basic.deliver'))).toHaveLength(4);
    expect(methods.some((m) => m.endsWith('basic.publish') || m.endsWith('basic.ack') || m.endsWith('queue.declare'))).toBe(false);
    for (const needed of ['connection.start', 'connection.open-ok', 'channel.open', 'channel.open-ok', 'connection.close', 'connection.close-ok'])
      expect(
        methods.some((m) => m.endsWith(` ${needed}`)),
        needed,
      ).toBe(true);
    const replayed = runCli(['replay', file, '--no-tui']);
    expect(replayed.status).toBe(0);
    expect(replayed.stderr).not.toMatch(/warning|decode error/);
    const deliveries = lines(replayed.stdout).filter((l) => l.includes('basic.deliver'));
    expect(deliveries).toHaveLength(4);
    expect(replayed.stdout).toContain('client closed the connection');
    const to = runCli(['replay', file, '--to', `127.0.0.1:${port}`]);
    expect(to.status).toBe(2);
    expect(to.stderr).toBe(
      `amqp-spy: ${file} was recorded with --record-filter 'method:basic.deliver': it does not hold everything the clients sent, so replay --to cannot re-send it (replay it without --to to see it)\n`,
    );
  });
});

describe('--record-bodies', () => {
  it('none: headers-only; every body line says what it left out, and replay says "body not recorded"', async () => {
    const file = path.join(dir, 'bodies-none.jsonl');
    const { port, cli } = await standalone(['--record', file, '--record-bodies', 'none']);
    await traffic(port);
    await stop(cli);
    const text = fs.readFileSync(file, 'utf8');
    const recorded = lines(text).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(recorded[0]!['bodies']).toBe('none');
    const bodies = recorded.filter((e) => (e['frame'] as { type?: string } | undefined)?.type === 'body');
    expect(bodies).toHaveLength(11);
    for (const b of bodies) {
      expect((b['frame'] as { size: number }).size).toBe(0);
      expect(b['bodyOmitted']).toBeGreaterThan(0);
    }
    // no payload made it to the file
    expect(text).not.toContain(Buffer.from('log line').toString('base64').slice(0, 8));
    const replayed = runCli(['replay', file, '--no-tui']);
    expect(replayed.status).toBe(0);
    expect(replayed.stderr).not.toMatch(/warning|decode error/);
    const logs = lines(replayed.stdout).filter((l) => l.includes('routing-key=logs'));
    expect(logs).toHaveLength(3);
    for (const line of logs) expect(line).toContain('(body not recorded (1,100 bytes))');
    const json = lines(runCli(['replay', file, '--json']).stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
    const message = json.find((e) => e['kind'] === 'message')!;
    expect(message['bodySize']).toBe(0);
    expect(message['bodyOmitted']).toBeGreaterThan(0);
  });

  it('head:N keeps the first N bytes of each body, across its frames', async () => {
    const file = path.join(dir, 'bodies-head.jsonl');
    const { port, cli } = await standalone(['--record', file, '--record-bodies', 'head:16']);
    await traffic(port);
    await stop(cli);
    const replayed = runCli(['replay', file, '--json']);
    expect(replayed.status).toBe(0);
    const messages = lines(replayed.stdout)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['kind'] === 'message' && (e['method'] as { args: Record<string, unknown> }).args['routing-key'] === 'logs');
    expect(messages).toHaveLength(3);
    for (const m of messages) {
      expect(Buffer.from(String(m['body']), 'base64').toString()).toBe('log line 1 log l'.replace('1', String(messages.indexOf(m) + 1)));
      expect(m['bodyOmitted']).toBe(1100 - 16);
    }
    expect(runCli(['replay', file, '--no-tui']).stdout).toContain('(body not recorded after 16 B (1,084 bytes))');
  });
});

describe('replay --export-bodies', () => {
  it('one file per message named by connection, channel and event, a .meta.json beside it; refuses a non-empty directory unless --force', async () => {
    const file = path.join(dir, 'for-export.jsonl');
    const { port, cli } = await standalone(['--record', file]);
    await traffic(port);
    await stop(cli);
    const out = path.join(dir, 'bodies');
    const result = runCli(['replay', file, '--export-bodies', out]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`exported 11 message bodies from ${file} to ${out}`);
    const files = fs.readdirSync(out).sort();
    expect(files).toHaveLength(22);
    for (const name of files) expect(name).toMatch(/^c[12]-ch[12]-\d{6}\.(json|json\.gz|txt|meta\.json)$/);
    expect(fs.statSync(path.join(out, files[0]!)).mode & 0o777).toBe(0o600);
    const metas = files.filter((f) => f.endsWith('.meta.json')).map((f) => JSON.parse(fs.readFileSync(path.join(out, f), 'utf8')) as Record<string, unknown>);
    const first = metas.find((m) => (m['properties'] as Record<string, unknown>)['correlation-id'] === 'c-1' && m['method'] === 'basic.publish')!;
    expect(first).toMatchObject({ conn: 1, channel: 1, dir: 'c2s', exchange: '', routingKey: 'orders', bodySize: 36 });
    expect((first['properties'] as Record<string, unknown>)['content-type']).toBe('application/json');
    expect(JSON.parse(fs.readFileSync(path.join(out, String(first['bodyFile'])), 'utf8'))).toEqual({ order: { id: 41, customer: 'ada' } });
    const zipped = metas.find((m) => String(m['bodyFile']).endsWith('.json.gz') && m['method'] === 'basic.deliver')!;
    expect(zipped['routingKey']).toBe('orders');
    expect(JSON.parse(zlib.gunzipSync(fs.readFileSync(path.join(out, String(zipped['bodyFile'])))).toString())).toEqual({
      order: { id: 99 },
      note: 'zipped order',
    });
    expect(metas.filter((m) => String(m['bodyFile']).endsWith('.txt'))).toHaveLength(3);

    const again = runCli(['replay', file, '--export-bodies', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(`amqp-spy: ${out} is not empty: give an empty or new directory, or --force to write into it\n`);
    const forced = runCli(['replay', file, '--export-bodies', out, '--force', '--filter', 'rk:logs']);
    expect(forced.status).toBe(0);
    expect(forced.stderr).toContain('exported 3 message bodies');
    expect(fs.readdirSync(out)).toHaveLength(22);
    expect(runCli(['replay', file, '--force']).stderr).toBe('amqp-spy: --force applies with --export-bodies <dir> only\n');
  });
});

describeWithRabbitMQ('--record-filter and --record-bodies through the proxy', () => {
  it('records matching messages of a real broker cut to their head; replay of the file works', async () => {
    const file = path.join(dir, 'proxy-selective.jsonl');
    const { host, port: upstreamPort } = rabbitAddress();
    const port = await freePort();
    const prefix = `sel-${process.pid}-`;
    const cli = startCli([
      '--upstream',
      `${host}:${upstreamPort}`,
      '--listen',
      String(port),
      '--no-tui',
      '--record',
      file,
      '--record-filter',
      `rk:${prefix}sel-orders`,
      '--record-bodies',
      'head:8',
    ]);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('proxying') || cli.child.exitCode !== null, 'the proxy to listen');
    await traffic(port, `${prefix}sel-`);
    await stop(cli);
    const replayed = runCli(['replay', file, '--json']);
    expect(replayed.status).toBe(0);
    expect(replayed.stderr).not.toContain('warning');
    const messages = lines(replayed.stdout)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e['kind'] === 'message');
    // 4 publishes and 4 deliveries of the orders queue; no log message
    expect(messages).toHaveLength(8);
    for (const m of messages) {
      expect((m['method'] as { args: Record<string, unknown> }).args['routing-key']).toBe(`${prefix}sel-orders`);
      expect(Buffer.from(String(m['body']), 'base64').length).toBe(8);
      expect(m['bodyOmitted']).toBeGreaterThan(0);
    }
  });
});
