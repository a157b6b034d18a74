// Every recipe of docs/recipes.md, run: its commands as written (the real CLI, `amqp-spy` being
// dist/cli.js, ports 5672/5673/5674/5679 and file names swapped for free ones), an amqplib
// application doing what the recipe describes, and a check that the output shows what the
// recipe tells the reader to look for. The recipe's text must hold the same commands and the
// same words, so the doc and this test cannot part ways.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startCli, waitFor } from '../support/cli.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { freePort } from '../support/net.js';

const recipes = fs.readFileSync(path.join(REPO_ROOT, 'docs/recipes.md'), 'utf8');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-recipes-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The text of the recipe under `## title`. */
function recipe(title: string): string {
  const section = recipes.split(/^## /m).find((s) => s.startsWith(`${title}\n`));
  if (!section) throw new Error(`docs/recipes.md has no "## ${title}"`);
  return section;
}

/** Words a recipe shows: each must be in its text, so the test checks what the reader is told. */
function says(section: string, ...texts: string[]): void {
  for (const text of texts) expect(section, `the recipe should say ${JSON.stringify(text)}`).toContain(text);
}

/** `amqp-spy …` as the recipe writes it → argv for dist/cli.js, with its ports and files swapped. */
function argv(section: string, command: string, swap: Record<string, string>): string[] {
  expect(section, 'the recipe should show this command').toContain(command);
  const words = [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  expect(words[0]).toBe('amqp-spy');
  return words.slice(1).map((w) => Object.entries(swap).reduce((s, [from, to]) => s.split(from).join(to), w));
}

type Cli = ReturnType<typeof startCli>;

// what a failed test left running, ended after it
const running = new Set<Cli>();
afterEach(() => {
  for (const cli of running) cli.child.kill('SIGKILL');
  running.clear();
});

/** Starts a long-running command and waits until it listens (its stderr says so: a probe connection would be a connection in its output); stop() ends it as Ctrl-C does. */
async function live(args: string[], port: number): Promise<Cli & { stop(): Promise<number | null> }> {
  const cli = startCli(args);
  running.add(cli);
  void cli.exited.then(() => running.delete(cli));
  await waitFor(() => cli.stderr().includes(`127.0.0.1:${port}`) && cli.stderr().includes('(Ctrl-C to stop)'), `${args.join(' ')} listening\n${cli.stderr()}`);
  return {
    ...cli,
    stop: async () => {
      cli.child.kill('SIGINT');
      return cli.exited;
    },
  };
}

/** The broker the recipes assume on 5672: the built-in one, headless. */
async function broker(extra: string[] = []): Promise<{ port: number; stop(): Promise<number | null> }> {
  const port = await freePort();
  const b = await live(['--standalone', '--no-tui', '--listen', String(port), ...extra], port);
  return { port, stop: b.stop };
}

/** Runs a command to its end. */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

async function swaps(): Promise<Record<string, string> & { '5673': string }> {
  return { '5673': String(await freePort()), 'session.jsonl': path.join(tmp, `s-${Math.random().toString(36).slice(2)}.jsonl`) };
}

const url = (port: string | number): string => `amqp://guest:guest@127.0.0.1:${port}?heartbeat=0`;

describe('docs/recipes.md, run', () => {
  it('my consumer stopped receiving: prefetch full, deliveries left unacked', async () => {
    const section = recipe('My consumer stopped receiving');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port) };
    try {
      const proxy = await live(argv(section, 'amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --no-tui', swap), Number(swap['5673']));
      const conn = await amqplib.connect(url(swap['5673']!));
      const ch = await conn.createChannel();
      await ch.assertQueue('jobs', { durable: false });
      for (let i = 0; i < 4; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i}`));
      await ch.prefetch(2);
      let got = 0;
      await ch.consume('jobs', () => {
        got++; // and never acks
      });
      await waitFor(() => got === 2, 'two deliveries');
      await waitFor(() => proxy.stdout().includes('[unacked=2; FULL 2/2]'), `the full channel\n${proxy.stdout()}`);
      await conn.close();
      await waitFor(() => proxy.stdout().includes('connection closed'), 'the close');
      says(
        section,
        '[unacked=2; FULL 2/2]',
        'connection closed (client closed the connection; left 2 deliveries unacked)',
        'PREFETCH',
        'UNACKED',
        '2 FULL 2/2',
      );
      expect(proxy.stdout()).toContain('connection closed (client closed the connection; left 2 deliveries unacked)');
      expect(await proxy.stop()).toBe(0);
      // the TUI half of the recipe: the connections view shows it (docs/images/connections.svg, checked against the TUI by screenshots.test.ts)
      const picture = fs.readFileSync(path.join(REPO_ROOT, 'docs/images/connections.svg'), 'utf8');
      expect(picture).toContain('PREFETCH UNACKED');
      expect(picture).toContain('2 FULL 2/2');
    } finally {
      await upstream.stop();
    }
  });

  it('who closed my channel with 406: the error names its cause; the declarations side by side', async () => {
    const section = recipe('Who closed my channel with 406?');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port) };
    try {
      const proxy = await live(argv(section, 'amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --record session.jsonl', swap), Number(swap['5673']));
      const first = await amqplib.connect(url(swap['5673']!));
      await (await first.createChannel()).assertQueue('jobs', { durable: true });
      const second = await amqplib.connect(url(swap['5673']!));
      const ch = await second.createChannel();
      ch.on('error', () => {});
      await expect(ch.assertQueue('jobs', { durable: false })).rejects.toThrow(/PRECONDITION_FAILED/);
      await second.close();
      await first.close();
      expect(await proxy.stop()).toBe(0);

      const errors = await run(argv(section, 'amqp-spy replay session.jsonl --no-tui --filter error', swap));
      const cause =
        "[406 PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'jobs' in vhost '/': received 'false' but current is 'true'; caused by queue.declare]";
      expect(errors.stdout).toContain('channel.close reply-code=406');
      expect(errors.stdout).toContain(cause);
      says(section.replace(/\n/g, ' '), 'channel.close reply-code=406', cause);
      const declares = await run(argv(section, "amqp-spy replay session.jsonl --no-tui --filter 'method:queue.declare queue:jobs'", swap));
      const lines = declares.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/ #1 C→S ch1 queue\.declare queue=jobs durable /);
      expect(lines[1]).toMatch(/ #2 C→S ch1 queue\.declare queue=jobs \d+ B/);
      says(section, '`queue.declare queue=jobs durable` came first', 'a later `queue.declare queue=jobs`');
    } finally {
      await upstream.stop();
    }
  });

  it('did my publish get confirmed: publish-seq, ack, nack', async () => {
    const section = recipe('Did my publish get confirmed?');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port) };
    try {
      const proxy = await live(argv(section, 'amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --no-tui', swap), Number(swap['5673']));
      const conn = await amqplib.connect(url(swap['5673']!));
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('small', { durable: false, arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
      ch.sendToQueue('small', Buffer.from('kept'));
      await ch.waitForConfirms();
      ch.sendToQueue('small', Buffer.from('refused'));
      await expect(ch.waitForConfirms()).rejects.toThrow(/nack/);
      await conn.close();
      await waitFor(() => proxy.stdout().includes('connection closed'), 'the close');
      const out = proxy.stdout();
      expect(out).toMatch(/basic\.publish routing-key=small [^\n]*\[publish-seq 1\]/);
      expect(out).toMatch(/basic\.ack delivery-tag=1 [^\n]*\[confirms 1 publish\]/);
      expect(out).toMatch(/basic\.nack delivery-tag=2 [^\n]*\[confirms 1 publish NEGATIVELY\]/);
      says(
        section,
        '[publish-seq N]',
        '[confirms 1 publish]',
        '[confirms 1 publish NEGATIVELY]',
        'x-overflow=reject-publish',
        '→ confirmed',
        '→ awaiting confirm',
      );
      expect(await proxy.stop()).toBe(0);
    } finally {
      await upstream.stop();
    }
  });

  it('what does my service publish on startup: record, then replay with --filter and --json', async () => {
    const section = recipe('What does my service publish on startup?');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port), 'startup.jsonl': path.join(tmp, 'startup.jsonl') };
    try {
      const proxy = await live(argv(section, 'amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --record startup.jsonl --no-tui', swap), Number(swap['5673']));
      const conn = await amqplib.connect(url(swap['5673']!));
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange('orders', 'topic', { durable: false });
      ch.publish('orders', 'order.created', Buffer.from('{"id":1}'), { contentType: 'application/json', headers: { source: 'startup' } });
      ch.publish('orders', 'stock.checked', Buffer.from('{"sku":"A"}'), { contentType: 'application/json' });
      await ch.waitForConfirms();
      await conn.close();
      expect(await proxy.stop()).toBe(0);

      const all = await run(argv(section, 'amqp-spy replay startup.jsonl --no-tui --filter method:basic.publish', swap));
      const lines = all.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/basic\.publish exchange=orders routing-key=order\.created \d+ B application\/json/);
      expect(all.stderr).toMatch(/amqp-spy: summary: .* \d+ of \d+ events matched the filter, 2 lines printed/);
      says(section, '`exchange=`', '`routing-key=`', 'amqp-spy: summary: ... N of M events matched the filter, K lines printed');
      const orders = await run(argv(section, "amqp-spy replay startup.jsonl --no-tui --filter 'method:basic.publish rk:order.*'", swap));
      expect(orders.stdout.trim().split('\n')).toEqual([expect.stringContaining('routing-key=order.created')]);
      const json = await run(argv(section, 'amqp-spy replay startup.jsonl --json --filter method:basic.publish', swap));
      const first = JSON.parse(json.stdout.split('\n')[0]!) as { properties: { headers: Record<string, unknown> }; body: string };
      expect(first.properties.headers).toEqual({ source: 'startup' });
      expect(Buffer.from(first.body, 'base64').toString()).toBe('{"id":1}');
      says(section, '`properties`', '`body` in base64');
    } finally {
      await upstream.stop();
    }
  });

  it('does my app behave the same on another broker: replay --to, no differences or one line each', async () => {
    const section = recipe('Does my app behave the same on another broker?');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port) };
    try {
      const proxy = await live(argv(section, 'amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --record session.jsonl --no-tui', swap), Number(swap['5673']));
      const conn = await amqplib.connect(url(swap['5673']!));
      const ch = await conn.createConfirmChannel();
      await ch.assertQueue('jobs', { durable: true });
      ch.sendToQueue('jobs', Buffer.from('job'));
      await ch.waitForConfirms();
      await conn.close();
      expect(await proxy.stop()).toBe(0);
    } finally {
      await upstream.stop();
    }
    const same = await broker();
    try {
      const result = await run(argv(section, 'amqp-spy replay session.jsonl --to 127.0.0.1:5674', { ...swap, '5674': String(same.port) }));
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`amqp-spy: replayed 1 connection to 127\\.0\\.0\\.1:${same.port}: .* no differences`));
      says(section, 'amqp-spy: replayed 1 connection to 127.0.0.1:5674: ... no differences', '(exit 0)', '(exit 1)');
    } finally {
      await same.stop();
    }
    // the other broker already has the queue, not durable
    const defs = path.join(tmp, 'defs.json');
    fs.writeFileSync(defs, JSON.stringify({ queues: [{ name: 'jobs', vhost: '/', durable: false, auto_delete: false, arguments: {} }] }));
    const other = await broker(['--definitions', defs]);
    try {
      const result = await run(argv(section, 'amqp-spy replay session.jsonl --to 127.0.0.1:5674', { ...swap, '5674': String(other.port) }));
      expect(result.code).toBe(1);
      const expected =
        "difference #1 ch1 (line 15): recorded queue.declare-ok queue=jobs message-count=0 consumer-count=0, now channel.close reply-code=406 reply-text=\"PRECONDITION_FAILED - inequivalent arg 'durable'";
      expect(result.stdout).toContain(expected);
      says(section, expected);
    } finally {
      await other.stop();
    }
  });

  it('run a broker in my tests: --standalone --no-tui, the stderr line, frames on stdout, SIGTERM exits 0', async () => {
    const section = recipe('Run a broker in my tests');
    const port = await freePort();
    const args = argv(section, 'amqp-spy --standalone --listen 5679 --no-tui', { '5679': String(port) });
    const cli = startCli(args);
    running.add(cli);
    const ready = `amqp-spy: built-in broker listening on 127.0.0.1:${port}`;
    await waitFor(() => cli.stderr().includes(ready), `the ready line\n${cli.stderr()}`);
    says(section, 'amqp-spy: built-in broker listening on 127.0.0.1:5679', 'amqp://guest:guest@127.0.0.1:5679', '[broker.md](broker.md)', '[api.md](api.md)');
    const conn = await amqplib.connect(url(port));
    const ch = await conn.createChannel();
    await ch.assertQueue('in-a-test', { durable: false });
    ch.sendToQueue('in-a-test', Buffer.from('hello'));
    await waitFor(() => cli.stdout().includes('basic.publish routing-key=in-a-test'), 'the publish in the frame log');
    await conn.close();
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toContain('amqp-spy: summary:');
  });

  it('make the broker fail on purpose: a fault rule closes the channel once, the retry goes through', async () => {
    const section = recipe('Make the broker fail on purpose');
    const upstream = await broker();
    const swap = { ...(await swaps()), '5672': String(upstream.port) };
    try {
      const proxy = await live(
        argv(
          section,
          "amqp-spy --upstream 127.0.0.1:5672 --listen 5673 --no-tui --fault 'close-channel=404 when method:basic.publish exchange:orders times=1'",
          swap,
        ),
        Number(swap['5673']),
      );
      const conn = await amqplib.connect(url(swap['5673']!));
      let ch = await conn.createConfirmChannel();
      ch.on('error', () => {});
      await ch.assertExchange('orders', 'topic', { durable: false });
      ch.publish('orders', 'order.created', Buffer.from('{}'));
      await expect(ch.waitForConfirms()).rejects.toThrow();
      // the client's retry, on a new channel, is confirmed
      ch = await conn.createConfirmChannel();
      ch.publish('orders', 'order.created', Buffer.from('{}'));
      await ch.waitForConfirms();
      await conn.close();
      await waitFor(() => proxy.stdout().includes('connection closed'), 'the close');
      expect(await proxy.stop()).toBe(0);
      const cause = "[404 NOT_FOUND - no exchange 'orders' in vhost '/'; caused by basic.publish]  [injected]";
      expect(proxy.stdout()).toMatch(/basic\.publish exchange=orders [^\n]*\[suppressed\]/);
      expect(proxy.stdout()).toContain(cause);
      expect(proxy.stdout()).toMatch(/basic\.ack delivery-tag=1 [^\n]*\[confirms 1 publish\]/);
      expect(proxy.stderr()).toContain('amqp-spy: fault rule armed: close-channel=404 ');
      expect(proxy.stderr()).toMatch(/fault rule '[^']+': fired 1 time \(1 match\)/);
      says(
        section,
        '`amqp-spy: fault rule armed: close-channel=404 ...`',
        "`fault rule '...': fired 1 time (1 match)`",
        '`[suppressed]`',
        '`[injected]`',
        cause,
      );
    } finally {
      await upstream.stop();
    }
  });
});
