// The curl examples of docs/faults.md's control API section, run as written (localhost:8474
// swapped for the test's port) against the real CLI proxying the built-in broker, and against
// the real CLI as the built-in broker (--standalone), with an amqplib connection open to it:
// each must answer what the doc says it does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import { startCli, waitFor } from '../support/cli.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { freePort } from '../support/net.js';

const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/faults.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Live: the control API (`--control`)'), doc.indexOf('## Rule files'));

/** The fenced blocks of the section, in order. */
function blocks(): string[] {
  return [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('docs/faults.md: the control API with curl', () => {
  it.each(['proxy', 'standalone'] as const)('%s: every curl line runs against the real CLI and answers as the doc says', async (mode) => {
    expect(section.length).toBeGreaterThan(100);
    const [start, curls, bad] = blocks();
    const port = await freePort();
    const controlPort = await freePort();
    // the doc's commands, the broker's port swapped, on free ports
    expect(start!.trim().split('\n')).toEqual(['amqp-spy --upstream 127.0.0.1:5672 --control', 'amqp-spy --standalone --control']);
    let source = ['--standalone'];
    if (mode === 'proxy') {
      const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
      cleanups.push(() => broker.close());
      source = ['--upstream', `127.0.0.1:${broker.address.port}`];
    }
    const cli = startCli([...source, '--control', String(controlPort), '--listen', String(port), '--no-tui']);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes(mode === 'proxy' ? 'proxying' : 'built-in broker listening'), `the spy to listen\n${cli.stderr()}`);
    const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    connection.on('error', () => {});
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    const closes: string[] = [];
    channel.on('close', () => closes.push('channel'));
    connection.on('close', () => closes.push('connection'));
    const run = (line: string) => {
      const out = spawnSync('bash', ['-c', line.replaceAll('localhost:8474', `127.0.0.1:${controlPort}`)], { encoding: 'utf8', timeout: 10_000 });
      expect(out.status, `${line}\n${out.stderr}`).toBe(0);
      return out.stdout;
    };
    const lines = curls!.trim().split('\n');
    expect(lines.length).toBe(8);
    const answers = lines.map((line) => {
      expect(line.startsWith('curl -s ')).toBe(true);
      const answer = JSON.parse(run(line)) as Record<string, unknown>;
      expect(answer, line).not.toHaveProperty('error');
      return answer;
    });
    const [added, addedTwo, listed, disarmed, removed, removedAll, closedChannel, closedConnection] = answers;
    expect(added!['added']).toMatchObject([{ id: 1, rule: 'close-channel=404 when method:basic.publish exchange:orders times=1', state: 'armed' }]);
    expect(addedTwo!['added']).toMatchObject([
      { id: 2, rule: 'delay=200ms duration=30s when dir:s2c method:basic.deliver' },
      { id: 3, rule: 'nack when rk:orders.*' },
    ]);
    expect((listed!['faults'] as unknown[]).length).toBe(3);
    expect(disarmed!['rule']).toMatchObject({ id: 2, state: 'disarmed' });
    expect(removed!['removed']).toMatchObject({ id: 1 });
    expect(removedAll).toEqual({ removed: 2, faults: [] });
    expect(closedChannel!['done']).toBe(
      mode === 'proxy'
        ? 'connection 1: channel.close 406 PRECONDITION_FAILED sent on channel 1, the channel closed upstream'
        : 'connection 1: channel.close 406 PRECONDITION_FAILED sent on channel 1 (its unacked deliveries requeued)',
    );
    expect(closedConnection!['done']).toBe(
      mode === 'proxy'
        ? 'connection 1: connection.close 320 CONNECTION_FORCED sent to the client, the connection closed upstream'
        : 'connection 1: connection.close 320 CONNECTION_FORCED sent to the client',
    );
    await waitFor(() => closes.includes('connection'), 'the client to see its connection closed');
    expect(closes).toEqual(['channel', 'connection']);
    // the bad rule: the answer exactly as shown
    const [command, ...shown] = bad!.trim().split('\n');
    expect(command!.startsWith('$ curl -s ')).toBe(true);
    expect(run(command!.slice(2)).trim()).toBe(shown.join('\n'));
  });
});
