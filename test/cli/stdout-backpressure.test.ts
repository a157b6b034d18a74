// Headless output to a reader that stops (a pager, `| sleep 40`): the CLI's memory stays
// bounded. The built CLI runs with its stdout a pipe the test does not read, real clients
// send real traffic, and the CLI's resident memory is read from /proc. A source of ours waits
// for the reader (the built-in broker stops reading its clients, replay stops reading the
// file) and loses nothing; the proxy, which must keep forwarding, drops lines and counts them.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus } from '../../src/events.js';
import { createRecorder } from '../../src/record/recorder.js';
import { makeRecordingHeader } from '../../src/record/recording-format.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { CLI, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { rssOf, rssSampler, untilIdle } from '../support/proc.js';

const MiB = 1024 * 1024;
const BODY = Buffer.alloc(32 * 1024, 0x78);
/** ~4000 x 32 KiB: ~170 MB of --json output */
const COUNT = 4000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-stdout-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface StoppedReader {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** starts reading stdout */
  resume(): void;
  readonly exited: Promise<number | null>;
}

/** The CLI with a stdout pipe nobody reads (until `resume`). */
function startWithStoppedReader(args: string[]): StoppedReader {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const out: Buffer[] = [];
  let text: string | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid!,
    stdout: () => (text ??= Buffer.concat(out).toString('utf8')),
    stderr: () => stderr,
    resume: () => {
      child.stdout.on('data', (d: Buffer) => {
        out.push(d);
        text = undefined;
      });
    },
    exited,
  };
}

/** Publishes COUNT bodies, honouring the socket's backpressure; counts confirms. */
function publishAll(ch: amqplib.ConfirmChannel, routingKey: string): { confirmed: () => number; done: Promise<void> } {
  let confirmed = 0;
  const done = (async () => {
    for (let i = 0; i < COUNT; i++) {
      if (
        !ch.publish('', routingKey, BODY, {}, () => {
          confirmed++;
        })
      )
        await new Promise((r) => ch.once('drain', r));
    }
    await ch.waitForConfirms();
  })();
  return { confirmed: () => confirmed, done };
}

describe('headless output to a reader that stops', () => {
  it('proxy --json: forwarding goes on, memory stays bounded, dropped lines are counted in a notice', async () => {
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    cleanups.push(() => broker.close());
    const port = await freePort();
    const cli = startWithStoppedReader(['--upstream', `127.0.0.1:${broker.address.port}`, '--listen', String(port), '--json']);
    await waitFor(() => cli.stderr().includes('Ctrl-C to stop'), 'the proxy to listen');
    const base = rssOf(cli.pid);
    const sampler = rssSampler(cli.pid);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
    cleanups.push(() => conn.close().catch(() => {}));
    const ch = await conn.createConfirmChannel();
    // unroutable: the broker drops them; every one is forwarded and confirmed while the output is stopped
    const publishing = publishAll(ch, 'nowhere');
    await publishing.done;
    expect(publishing.confirmed()).toBe(COUNT);
    const grown = sampler.stop() - base;
    // the output alone was ~170 MB; held, it made the proxy grow by 220 MB
    expect(grown).toBeLessThan(64 * MiB);

    cli.resume();
    await waitFor(() => /amqp-spy: \d+ lines of output dropped: stdout was not read fast enough/.test(cli.stderr()), 'the drop notice');
    const dropped = Number(/amqp-spy: (\d+) lines of output dropped/.exec(cli.stderr())![1]);
    expect(dropped).toBeGreaterThan(COUNT / 2);
    // printing goes on once the reader takes the output
    await conn.close();
    await waitFor(() => cli.stdout().includes('"kind":"conn.close"'), 'the close to be printed');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    // whole lines only, however many were dropped
    const lines = cli.stdout().trimEnd().split('\n');
    for (const line of lines) JSON.parse(line);
    expect(lines.length).toBeLessThan(COUNT);
  });

  it('--standalone --json: the broker stops reading its clients, memory stays bounded, nothing is lost', async () => {
    const port = await freePort();
    const cli = startWithStoppedReader(['--standalone', '--listen', String(port), '--json']);
    await waitFor(() => cli.stderr().includes('Ctrl-C to stop'), 'the broker to listen');
    const base = rssOf(cli.pid);
    const sampler = rssSampler(cli.pid);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
    cleanups.push(() => conn.close().catch(() => {}));
    const ch = await conn.createConfirmChannel();
    const publishing = publishAll(ch, 'nowhere');
    // the broker waits for the reader: the CLI goes idle with publishes still unconfirmed
    await untilIdle(cli.pid);
    const whileStopped = publishing.confirmed();
    const grown = sampler.peak() - base;
    expect(whileStopped).toBeLessThan(COUNT / 2);
    expect(grown).toBeLessThan(48 * MiB);

    cli.resume();
    await publishing.done;
    sampler.stop();
    await conn.close();
    await waitFor(() => cli.stdout().includes('"kind":"conn.close"'), 'the close to be printed');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).not.toContain('dropped');
    const messages = cli
      .stdout()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; dir?: string; method?: { name: string } })
      .filter((e) => e.kind === 'message' && e.method?.name === 'basic.publish');
    expect(messages).toHaveLength(COUNT);
  });

  it('replay --json: reading the recording waits for the reader; every line comes once it resumes', async () => {
    // a recording of 3000 publishes of 32 KiB: ~130 MB of --json output
    const count = 3000;
    const file = path.join(dir, 'large.jsonl');
    const recorder = createRecorder({
      path: file,
      header: makeRecordingHeader({
        tool: 'test',
        startedMicros: 1_700_000_000_000_000,
        mode: 'proxy',
        listen: '127.0.0.1:5673',
        upstream: '127.0.0.1:5672',
        secrets: 'masked',
      }),
    });
    const bus = new EventBus([recorder.sink]);
    const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
    bus.emit({
      kind: 'conn.open',
      seq: bus.nextSeq(),
      ts: 1_700_000_000_000_001,
      conn: 1,
      client: { address: '127.0.0.1', port: 40001 },
      server: { address: '127.0.0.1', port: 5672 },
    });
    let ts = 1_700_000_000_000_100;
    tap.feed('c2s', encodeProtocolHeader(), ts);
    // 32 KiB frames need a negotiated frame-max (4 KiB before tune-ok)
    tap.feed('c2s', encodeMethodFrame(0, 'connection.tune-ok', { 'channel-max': 0, 'frame-max': 131072, heartbeat: 0 }), ts);
    const publish = Buffer.concat([
      encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': 'jobs' }),
      ...encodeContentFrames(1, 60, {}, BODY, 131072),
    ]);
    for (let i = 0; i < count; i++) tap.feed('c2s', publish, (ts += 10));
    tap.close('client closed', ts + 1);
    await recorder.close();

    const cli = startWithStoppedReader(['replay', file, '--json']);
    const sampler = rssSampler(cli.pid);
    await untilIdle(cli.pid);
    const peak = sampler.stop();
    // a replay's own footprint (node, the reader's 1 MiB reads) plus the output's high-water
    // mark: ~65 MiB; holding the output took 135 MiB for half as many lines
    expect(peak).toBeLessThan(100 * MiB);
    expect(cli.child.exitCode).toBeNull();

    cli.resume();
    expect(await cli.exited).toBe(0);
    const messages = cli
      .stdout()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string })
      .filter((e) => e.kind === 'message');
    expect(messages).toHaveLength(count);
  });
});
