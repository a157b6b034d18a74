// `--ready` / `--ready-file`: a harness in any language starts amqp-spy on a free port and
// learns where to connect from one JSON line, on stdout's first line or in a file.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/index.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-ready-'));

function started(args: string[]) {
  const cli = startCli(args);
  cleanups.push(() => {
    cli.child.kill('SIGKILL');
  });
  return cli;
}

const firstLine = (text: string): string => text.slice(0, text.indexOf('\n'));

describe('--ready', () => {
  it('--standalone --listen 127.0.0.1:0 --ready: the first stdout line is the JSON a client connects with', async () => {
    const cli = started(['--standalone', '--listen', '127.0.0.1:0', '--ready']);
    await waitFor(() => cli.stdout().includes('\n'), 'the ready line');
    const ready = JSON.parse(firstLine(cli.stdout()));
    expect(ready).toEqual({
      url: `amqp://guest:guest@127.0.0.1:${ready.port}`,
      host: '127.0.0.1',
      port: expect.any(Number),
      mode: 'standalone',
      pid: cli.child.pid,
    });
    expect(ready.port).toBeGreaterThan(0);
    const connection = await amqplib.connect(ready.url);
    const channel = await connection.createChannel();
    await channel.assertQueue('jobs');
    await connection.close();
    // the headless output follows the ready line
    await waitFor(() => cli.stdout().includes('connection closed'), 'the traffic to be printed');
    expect(cli.stdout().split('\n')[1]).toMatch(/connection opened/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('--ready --json: the ready line, then the events as NDJSON', async () => {
    const cli = started(['--standalone', '--listen', '0', '--ready', '--json', '--user', 'ann:s3cret@v1', '--vhost', 'v1']);
    await waitFor(() => cli.stdout().includes('\n'), 'the ready line');
    const ready = JSON.parse(firstLine(cli.stdout()));
    // the first user, into its first vhost
    expect(ready.url).toBe(`amqp://ann:s3cret@127.0.0.1:${ready.port}/v1`);
    const connection = await amqplib.connect(ready.url);
    await connection.close();
    await waitFor(() => cli.stdout().includes('"conn.close"'), 'the close event');
    const events = cli
      .stdout()
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => JSON.parse(line));
    expect(events[0]).toMatchObject({ kind: 'conn.open', conn: 1 });
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('--ready-file: written atomically once listening (a stale one removed first), removed at the end; stdout untouched', async () => {
    const file = path.join(tmp, 'ready.json');
    fs.writeFileSync(file, '{"url":"amqp://stale"}\n');
    const cli = started(['--standalone', '--listen', '127.0.0.1:0', '--ready-file', file, '--no-tui']);
    await waitFor(() => fs.existsSync(file) && !fs.readFileSync(file, 'utf8').includes('stale'), 'the ready file');
    const text = fs.readFileSync(file, 'utf8');
    expect(text.endsWith('}\n')).toBe(true);
    const ready = JSON.parse(text);
    expect(ready).toMatchObject({ mode: 'standalone', url: `amqp://guest:guest@127.0.0.1:${ready.port}` });
    const connection = await amqplib.connect(ready.url);
    await connection.close();
    await waitFor(() => cli.stdout().includes('connection closed'), 'the traffic');
    expect(cli.stdout()).not.toContain('"url"');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('the proxy: the ready line names its port, the upstream, and the login an upstream URL gives', async () => {
    const broker = await startBroker({ onNotice: () => {} });
    cleanups.push(() => broker.close());
    const cli = started(['--upstream', `amqp://guest:guest@127.0.0.1:${broker.port}`, '--listen', '0', '--ready']);
    await waitFor(() => cli.stdout().includes('\n'), 'the ready line');
    const ready = JSON.parse(firstLine(cli.stdout()));
    expect(ready).toMatchObject({ mode: 'proxy', upstream: `127.0.0.1:${broker.port}`, url: `amqp://guest:guest@127.0.0.1:${ready.port}` });
    const connection = await amqplib.connect(ready.url);
    await connection.close();
    await broker.waitFor('method:connection.close-ok');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('--definitions that replace guest with users known by hash: the ready URL has no login, and their vhost', async () => {
    const file = path.join(tmp, 'defs.json');
    fs.writeFileSync(file, JSON.stringify({ vhosts: [{ name: 'shop' }], users: [{ name: 'ann', password_hash: '', tags: [] }] }));
    const cli = started(['--standalone', '--listen', '0', '--ready', '--definitions', file]);
    await waitFor(() => cli.stdout().includes('\n'), 'the ready line');
    const ready = JSON.parse(firstLine(cli.stdout()));
    expect(ready.url).toBe(`amqp://127.0.0.1:${ready.port}/shop`);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
  });

  it('bad combinations and places: one line, exit 2', () => {
    const toStdout = runCli(['--standalone', '--listen', '0', '--ready', '--record', '-']);
    expect(toStdout.status).toBe(2);
    expect(toStdout.stderr).toBe('amqp-spy: --ready prints on stdout, where --record - puts the recording: use --ready-file <file> instead\n');
    const nowhere = runCli(['--standalone', '--listen', '0', '--ready-file', '/nonexistent-dir/ready.json']);
    expect(nowhere.status).toBe(2);
    expect(nowhere.stderr).toMatch(/^amqp-spy: --ready-file \/nonexistent-dir\/ready\.json: .*\n$/);
  });

  it.skipIf(!HAVE_TMUX)('on a terminal, --ready does not open the terminal UI: the JSON line is the first thing on screen', async () => {
    const screen = new TmuxScreen();
    cleanups.push(() => screen.stop());
    screen.start(['--standalone', '--ready']);
    const shown = await screen.waitFor('"url":"amqp://guest:guest@127.0.0.1:');
    expect(shown.split('\n')[0]).toMatch(/^\{"url":"amqp:\/\/guest:guest@127\.0\.0\.1:\d+","host":"127\.0\.0\.1","port":\d+,"mode":"standalone","pid":\d+\}$/);
    // headless: the listening notice on stderr, not the TUI's header (`standalone broker 127.0.0.1:...`)
    await screen.waitFor('built-in broker listening');
    expect(screen.capture()).not.toContain('standalone broker 127.0.0.1');
  });

  it.skipIf(!HAVE_TMUX)('on a terminal, --ready-file keeps the terminal UI and writes the file', async () => {
    const screen = new TmuxScreen();
    cleanups.push(() => screen.stop());
    const file = path.join(tmp, 'tui-ready.json');
    screen.start(['--standalone', '--ready-file', file]);
    await screen.waitFor(`standalone broker 127.0.0.1:${screen.port()}`);
    await waitFor(() => fs.existsSync(file), 'the ready file');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toMatchObject({ url: `amqp://guest:guest@127.0.0.1:${screen.port()}`, mode: 'standalone' });
    screen.keys('q');
    await waitFor(() => screen.ready().includes('exit 0'), 'the TUI to quit');
    expect(fs.existsSync(file)).toBe(false);
  });
});
