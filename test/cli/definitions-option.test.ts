// `--definitions file` on the command line: a bad file ends the CLI with exit 2 and one line
// naming the entry; a good one loads, and what it does not apply is listed before listening.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-defs-'));
const write = (name: string, content: string): string => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, content);
  return file;
};

const children: Array<ReturnType<typeof startCli>> = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  }
});

describe('--definitions', () => {
  it('refuses a missing, non-JSON or invalid file with exit 2 and one line', () => {
    const missing = path.join(tmp, 'missing.json');
    const notJson = write('not.json', '{"queues": [');
    const invalid = write('invalid.json', JSON.stringify({ queues: [{ name: 'q', vhost: '/', arguments: { 'x-max-priority': 300 } }] }));
    for (const [file, line] of [
      [missing, `amqp-spy: --definitions ${missing}: the file: no such file`],
      [notJson, `amqp-spy: ${notJson}: the file: is not JSON (`],
      [
        invalid,
        `amqp-spy: ${invalid}: queues[0] 'q' in vhost '/': PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/': {max_value_exceeded,300}`,
      ],
    ] as const) {
      const r = runCli(['--standalone', '--listen', '127.0.0.1:0', '--no-tui', '--definitions', file]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
      expect(r.stderr.startsWith(line), r.stderr).toBe(true);
    }
    const r = runCli(['--upstream', '127.0.0.1:5672', '--definitions', invalid]);
    expect([r.status, r.stderr]).toEqual([2, 'amqp-spy: --definitions applies with --standalone only\n']);
  });

  it('loads a file, lists what it did not apply, and serves the topology', async () => {
    const file = write(
      'defs.json',
      JSON.stringify({
        users: [{ name: 'ann', password: 'pw', tags: ['administrator'] }],
        vhosts: [{ name: 'shop' }],
        permissions: [{ user: 'ann', vhost: 'shop', configure: '.*', write: '.*', read: '.*' }],
        policies: [{ vhost: 'shop', name: 'ha', pattern: '.*', 'apply-to': 'queues', definition: {}, priority: 0 }],
        queues: [{ name: 'orders', vhost: 'shop', durable: true, auto_delete: false, arguments: {} }],
      }),
    );
    const cli = startCli(['--standalone', '--listen', '127.0.0.1:0', '--no-tui', '--definitions', file]);
    children.push(cli);
    await waitFor(() => cli.stderr().includes('built-in broker listening') || cli.child.exitCode !== null, 'the broker to listen');
    expect(cli.stderr()).toContain(
      `amqp-spy: warning: ${file}: not applied: policies[0] 'ha' in vhost 'shop': policies are not supported by the built-in broker: give queues their settings as x-arguments\n`,
    );
    expect(cli.stderr()).toContain('users ann · vhosts shop');
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(cli.stderr())![1]);
    const conn = await amqplib.connect(`amqp://ann:pw@127.0.0.1:${port}/shop`);
    const ch = await conn.createChannel();
    expect(await ch.checkQueue('orders')).toMatchObject({ queue: 'orders', messageCount: 0 });
    await conn.close();
  });
});
