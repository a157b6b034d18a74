// One vocabulary for why a connection ended, whatever the mode: a client that closes, and one
// killed with deliveries unacked, read the same through the proxy, on the built-in broker and
// in replay, in the headless lines and the summary.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import type { ConnCloseEvent, SpyEvent } from '../../src/events.js';
import { createSessionRecorder } from '../../src/record/recorder.js';
import { replayRecording } from '../../src/record/replay.js';
import { startProxySession } from '../../src/session/live-session.js';
import { describeAgainstBrokers } from '../support/brokers.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { freePort } from '../support/net.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-close-'));

/**
 * A client in its own process that consumes `count` messages without acking them, says
 * `ready`, and is then killed (SIGKILL): the kernel ends its socket, no connection.close.
 */
async function killedConsumer(port: number, count: number): Promise<void> {
  const script = `
    const amqp = require('amqplib');
    (async () => {
      const c = await amqp.connect('amqp://guest:guest@127.0.0.1:${port}');
      const ch = await c.createChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      for (let i = 0; i < ${count}; i++) ch.sendToQueue(queue, Buffer.from('m' + i));
      let got = 0;
      await ch.consume(queue, () => { if (++got === ${count}) process.stdout.write('ready\\n'); });
    })().catch((e) => { process.stderr.write(String(e)); process.exit(1); });`;
  const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor(() => out.includes('ready') || child.exitCode !== null, 'the consumer to hold its deliveries');
  expect(out).toBe('ready\n');
  child.kill('SIGKILL');
  await exited;
}

const closes = (events: readonly SpyEvent[]) => events.filter((e): e is ConnCloseEvent => e.kind === 'conn.close');
/** How the sockets of a killed client end: a FIN, or a reset when data was left unread. */
const KILLED = /^client (closed the socket without connection\.close|reset the socket)$/;

async function recordedProxy(upstreamPort: number): Promise<{ events: SpyEvent[]; port: number; file: string; stop: () => Promise<void> }> {
  const file = path.join(tmp, `proxy-${upstreamPort}-${Date.now()}.jsonl`);
  const events: SpyEvent[] = [];
  const recorder = createSessionRecorder({
    path: file,
    keepSecrets: false,
    mode: 'proxy',
    tool: 'amqp-spy test',
    notice: () => {},
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${upstreamPort}`,
  });
  const session = await startProxySession({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: '127.0.0.1', port: upstreamPort, tls: false },
    sinks: [(e) => events.push(e), recorder.sink],
    notice: () => {},
    recorder,
  });
  // as the CLI does: the file is opened once the session listens
  recorder.open();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await session.stop();
    await recorder.close();
  };
  cleanups.push(stop);
  return { events, port: session.address.port, file, stop };
}

async function replayed(file: string): Promise<SpyEvent[]> {
  const events: SpyEvent[] = [];
  await replayRecording({ path: file, sinks: [(e) => events.push(e)] });
  return events;
}

describeAgainstBrokers('a clean close through the proxy to', (target) => {
  it('is "client closed the connection", live and replayed, however the server ends its socket', async () => {
    const { port, username, password } = target();
    const proxy = await recordedProxy(port);
    const connection = await amqplib.connect(`amqp://${username}:${password}@127.0.0.1:${proxy.port}`);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('x'));
    await channel.waitForConfirms();
    await connection.close();
    await waitFor(() => closes(proxy.events).length === 1, 'the close event');
    expect(closes(proxy.events)[0]).toMatchObject({ reason: 'client closed the connection', unanswered: [], unacked: 0, unconfirmed: 0 });
    await proxy.stop();
    expect(closes(await replayed(proxy.file)).map((e) => e.reason)).toEqual(['client closed the connection']);
  });
});

describe('a client killed with deliveries unacked', () => {
  it('reads the same through the proxy, on the built-in broker, and replayed', async () => {
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    cleanups.push(() => broker.close());
    // through the proxy, recorded
    const proxy = await recordedProxy(broker.address.port);
    await killedConsumer(proxy.port, 3);
    await waitFor(() => closes(proxy.events).length === 1, 'the proxied close');
    const [proxied] = closes(proxy.events);
    expect(proxied).toMatchObject({ reason: expect.stringMatching(KILLED), unacked: 3, unconfirmed: 0 });
    await proxy.stop();
    const [again] = closes(await replayed(proxy.file));
    expect(again).toMatchObject({ reason: proxied!.reason, socket: proxied!.socket, unacked: 3, unconfirmed: 0 });

    // the built-in broker, as `amqp-spy --standalone`: the line and the summary
    const port = await freePort();
    const recording = path.join(tmp, 'standalone-killed.jsonl');
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording]);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    await killedConsumer(port, 3);
    await waitFor(() => cli.stdout().includes('connection closed'), 'the close line');
    const line = cli
      .stdout()
      .split('\n')
      .find((l) => l.includes('connection closed'))!;
    expect(line).toMatch(/ {4}connection closed \(client (closed the socket without connection\.close|reset the socket); left 3 deliveries unacked\)$/);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).toMatch(/summary: 1 connection; .*; 3 deliveries left unacked\n/);
    const replayedLine = runCli(['replay', recording, '--no-tui'])
      .stdout.split('\n')
      .find((l) => l.includes('connection closed'));
    expect(replayedLine).toBe(line);
  });
});
