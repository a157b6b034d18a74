// --fault and --faults through the real CLI: a bad rule is one line and exit 2 before anything
// starts; good rules are acted out on real traffic and their work is printed, marked.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('amqp-spy --fault / --faults', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-faults-'));

  it.each([
    [
      ['--fault', 'explode when method:basic.publish'],
      'amqp-spy: --fault \'explode when method:basic.publish\': unknown action "explode" (actions: close-channel, close-connection, nack, delay, rate, drop-heartbeats, block, unblock, cancel-consumer, cut, reset)',
    ],
    [
      ['--fault', 'nack', '--fault', 'close-channel=200'],
      'amqp-spy: --fault \'close-channel=200\': close-channel: needs a reply code: 403, 404, 405, 406 (got "200")',
    ],
    [
      ['--fault', 'delay=1s when colour:red'],
      `amqp-spy: --fault 'delay=1s when colour:red': filter "colour:red": unknown key "colour:" (keys: method: conn: ch: dir: exchange: queue: rk: body: content-type: type: app-id: prop.NAME: header.NAME: json.PATH= size> rtt>) at column 1`,
    ],
    [['--faults', '/nonexistent/rules.yaml'], 'amqp-spy: --faults /nonexistent/rules.yaml: no such file'],
  ])('a bad rule %j: one line, exit 2, no stack, nothing started', (args, line) => {
    const out = runCli(['--upstream', '127.0.0.1:1', '--listen', '0', '--no-tui', ...args]);
    expect(out.status).toBe(2);
    expect(out.stderr.trim()).toBe(line);
    expect(out.stdout).toBe('');
  });

  it('a bad rule in a file is named by its place; the good ones before it are not armed', () => {
    const file = path.join(tmp, 'rules.yaml');
    fs.writeFileSync(file, 'faults:\n  - nack when rk:a\n  - action: delay=later\n');
    const out = runCli(['--upstream', '127.0.0.1:1', '--listen', '0', '--no-tui', '--faults', file]);
    expect(out.status).toBe(2);
    expect(out.stderr.trim()).toBe(`amqp-spy: --faults ${file} rule 2 'delay=later': delay: "later" is not a duration like 200ms, 5s or 2m`);
  });

  it('acts a rule out in front of the built-in broker, prints what it made and swallowed, and how often it fired', async () => {
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    cleanups.push(() => broker.close());
    const port = await freePort();
    const cli = startCli([
      '--upstream',
      `127.0.0.1:${broker.address.port}`,
      '--listen',
      String(port),
      '--no-tui',
      '--frames',
      '--record',
      path.join(tmp, 'session.jsonl'),
      '--fault',
      'close-channel=404 when method:queue.declare queue:missing times=1',
    ]);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
    expect(cli.stderr()).toContain('fault rule armed: close-channel=404 when method:queue.declare queue:missing times=1');
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    await expect(channel.assertQueue('missing')).rejects.toThrow(`NOT_FOUND - no queue 'missing' in vhost '/'`);
    const again = await connection.createChannel();
    await again.assertQueue('missing', { exclusive: true });
    await connection.close();
    await waitFor(() => cli.stdout().includes('connection closed'), 'the close to be printed');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const out = cli.stdout();
    expect(out).toMatch(/C→S ch1 queue\.declare queue=missing .* {2}\[suppressed\]/);
    expect(out).toMatch(/S→C ch1 channel\.close reply-code=404 reply-text="NOT_FOUND - no queue 'missing' in vhost '\/'" .* {2}\[injected\]/);
    expect(out).toMatch(/C→S ch1 channel\.close-ok .* {2}\[suppressed\]/);
    expect(out).toMatch(/C→S ch1 queue\.declare queue=missing durable exclusive/);
    expect(cli.stderr()).toContain("fault rule 'close-channel=404 when method:queue.declare queue:missing times=1': fired 1 time (1 match)");
    // the recording keeps the marks: its lines say "fault", and replay shows them as live did
    const recording = fs.readFileSync(path.join(tmp, 'session.jsonl'), 'utf8');
    expect(recording.split('\n').filter((l) => l.includes('"fault":"injected"')).length).toBe(2);
    const replay = runCli(['replay', path.join(tmp, 'session.jsonl'), '--no-tui', '--frames']);
    expect(replay.status).toBe(0);
    const marked = (text: string) =>
      text
        .split('\n')
        .filter((l) => / {2}\[(injected|suppressed)\]$/.test(l))
        .map((l) => l.slice(l.indexOf('#')));
    expect(marked(replay.stdout)).toEqual(marked(out));
    expect(marked(out).length).toBe(5);
  });
});
