// `--record` and `replay` end to end: the built CLI in front of RabbitMQ, amqplib as the client.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { SpyEvent } from '../../src/events.js';
import { replayRecording } from '../../src/record/replay.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { describeAgainstBrokers, type BrokerTarget } from '../support/brokers.js';
import { freePort } from '../support/net.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-record-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const unique = (name: string) => `spy-test.${name}.${process.pid}.${Math.random().toString(36).slice(2, 8)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The broker the suite now runs against (set by each suite's beforeAll: suites run in turn).
let currentTarget: () => BrokerTarget = () => {
  throw new Error('no broker yet');
};

/** The CLI proxying to the broker with `extra` options; resolves once it listens. */
async function startRecordingProxy(extra: string[]): Promise<{ port: number; cli: ReturnType<typeof startCli> }> {
  const { host, port: brokerPort } = currentTarget();
  const port = await freePort();
  const cli = startCli(['--listen', String(port), '--upstream', `${host}:${brokerPort}`, ...extra]);
  cleanups.push(() => {
    cli.child.kill('SIGKILL');
  });
  await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
  return { port, cli };
}

const connect = (port: number, password?: string) => {
  const { username, password: real } = currentTarget();
  return amqplib.connect({ hostname: '127.0.0.1', port, username, password: password ?? real });
};

async function replayedEvents(file: string): Promise<{ events: SpyEvent[]; warnings: string[] }> {
  const events: SpyEvent[] = [];
  const warnings: string[] = [];
  await replayRecording({ path: file, sinks: [(e) => events.push(e)], onWarning: (w) => warnings.push(w) });
  return { events, warnings };
}

function deliveredBodies(events: SpyEvent[]): Set<string> {
  const bodies = new Set<string>();
  for (const e of events) if (e.kind === 'message' && e.method.name === 'basic.deliver') bodies.add(Buffer.from(e.body).toString());
  return bodies;
}

/** Publishes on one connection and consumes on another until stopped; counts what the client got. */
async function steadyTraffic(port: number): Promise<{ received: string[]; stop: () => Promise<void> }> {
  const queue = unique('steady');
  const pubConn = await connect(port);
  const subConn = await connect(port);
  for (const c of [pubConn, subConn]) c.on('error', () => {});
  const pub = await pubConn.createChannel();
  const sub = await subConn.createChannel();
  for (const ch of [pub, sub]) ch.on('error', () => {});
  await sub.assertQueue(queue, { autoDelete: true, durable: false });
  const received: string[] = [];
  await sub.consume(
    queue,
    (m) => {
      if (m) received.push(m.content.toString());
    },
    { noAck: true },
  );
  let running = true;
  const publishing = (async () => {
    for (let i = 0; running; i++) {
      try {
        if (!pub.sendToQueue(queue, Buffer.from(`m-${i}`))) await new Promise((r) => pub.once('drain', r));
      } catch {
        return;
      }
      if (i % 10 === 0) await sleep(1);
    }
  })();
  return {
    received,
    stop: async () => {
      running = false;
      await publishing;
      await pubConn.close().catch(() => {});
      await subConn.close().catch(() => {});
    },
  };
}

describeAgainstBrokers(
  'amqp-spy --record and replay, proxying',
  (target) => {
    beforeAll(() => {
      currentTarget = target;
    });
    it('replays a recorded amqplib session headless as exactly the live --json output', async () => {
      const file = path.join(dir, 'live.jsonl');
      const { port, cli } = await startRecordingProxy(['--json', '--frames', '--record', file]);
      const conn = await connect(port);
      const ch = await conn.createConfirmChannel();
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.prefetch(10);
      let got = 0;
      await ch.consume(queue, (m) => {
        if (m) {
          got++;
          ch.ack(m);
        }
      });
      for (let i = 0; i < 20; i++) ch.sendToQueue(queue, Buffer.from(`hello ${i}`), { headers: { n: i, big: 2 ** 60 }, replyTo: queue });
      await ch.waitForConfirms();
      await waitFor(() => got === 20, 'the 20 deliveries');
      const other = await conn.createChannel();
      other.on('error', () => {});
      await expect(other.checkQueue(unique('missing'))).rejects.toThrow(/NOT_FOUND/);
      await ch.close();
      await conn.close();
      await waitFor(() => cli.stdout().includes('"conn.close"'), 'the connection to close');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);

      const replay = runCli(['replay', file, '--json', '--frames']);
      expect(replay.stderr).toMatch(/summary: 1 connection/);
      expect(replay.status).toBe(0);
      expect(replay.stdout.length).toBeGreaterThan(1000);
      expect(replay.stdout).toBe(cli.stdout());
      // the replay shows the same protocol insight: messages, latencies, the 404
      const text = runCli(['replay', file]);
      expect(text.stdout).toMatch(/basic\.deliver .*\[.*unacked=/);
      expect(text.stdout).toMatch(/queue\.declare-ok .*\[← queue\.declare [\d.]+ (µs|ms)\]/);
      expect(text.stdout).toMatch(/channel\.close reply-code=404/);
      const filtered = runCli(['replay', file, '--filter', 'method:basic.deliver', '--frames']);
      expect(filtered.stdout.trim().split('\n').length).toBe(20);
    });

    it('SIGINT mid-traffic: every message the client received is in the file', async () => {
      const file = path.join(dir, 'sigint.jsonl');
      const { port, cli } = await startRecordingProxy(['--record', file]);
      const traffic = await steadyTraffic(port);
      await waitFor(() => traffic.received.length >= 2000, '2000 deliveries');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
      await traffic.stop();
      const received = [...traffic.received];
      const { events, warnings } = await replayedEvents(file);
      expect(warnings).toEqual([]);
      const recorded = deliveredBodies(events);
      expect(received.length).toBeGreaterThanOrEqual(2000);
      expect(received.filter((b) => !recorded.has(b))).toEqual([]);
      expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    });

    it('SIGKILL mid-traffic: every complete line is valid and the file replays (with a warning for a cut line)', async () => {
      const file = path.join(dir, 'sigkill.jsonl');
      const { port, cli } = await startRecordingProxy(['--record', file]);
      const traffic = await steadyTraffic(port);
      await waitFor(() => traffic.received.length >= 2000, '2000 deliveries');
      cli.child.kill('SIGKILL');
      await cli.exited;
      await traffic.stop();
      const text = fs.readFileSync(file, 'utf8');
      const lines = text.split('\n');
      const last = lines.pop()!;
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
      // (filtered: spawnSync keeps at most 1 MiB of output)
      const replay = runCli(['replay', file, '--filter', 'method:connection.*']);
      expect(replay.status).toBe(0);
      expect(replay.stdout).toMatch(/connection\.open-ok/);
      const { events } = await replayedEvents(file);
      expect(deliveredBodies(events).size).toBeGreaterThan(0); // SIGKILL may lose the batch being written
      if (last === '') expect(replay.stderr).not.toMatch(/cut short/);
      else expect(replay.stderr).toMatch(/warning: .*the last line \(\d+\) is cut short/);
      // and a cut is always survivable: cut the file inside its last line ourselves
      const cut = path.join(dir, 'sigkill-cut.jsonl');
      fs.writeFileSync(cut, text.slice(0, text.trimEnd().lastIndexOf('\n') + 10));
      const replayCut = runCli(['replay', cut, '--filter', 'method:connection.*']);
      expect(replayCut.status).toBe(0);
      expect(replayCut.stderr).toMatch(/cut short/);
    });

    it('redacts the password everywhere in the file by default; --record-secrets keeps it', async () => {
      const password = `Wr0ng-${Math.random().toString(36).slice(2)}`;
      for (const keep of [false, true]) {
        const file = path.join(dir, `secrets-${keep}.jsonl`);
        const { port, cli } = await startRecordingProxy(['--record', file, ...(keep ? ['--record-secrets'] : [])]);
        await expect(connect(port, password)).rejects.toThrow(/ACCESS_REFUSED|403|closed/i);
        await waitFor(() => cli.stdout().includes('connection closed'), 'the refused connection to close');
        cli.child.kill('SIGINT');
        expect(await cli.exited).toBe(0);
        const text = fs.readFileSync(file, 'utf8');
        const raw = Buffer.concat(
          text
            .trimEnd()
            .split('\n')
            .slice(1)
            .map((l) => {
              const j = JSON.parse(l) as { raw?: string; data?: string };
              return Buffer.from(j.raw ?? j.data ?? '', 'base64');
            }),
        );
        expect(text.includes(password)).toBe(false);
        expect(raw.includes(password)).toBe(keep);
        expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ secrets: keep ? 'kept' : 'masked' });
      }
    });

    it('replay --to reproduces a session with no differences, and reports a changed answer', async () => {
      const named = unique('replay-to');
      const file = path.join(dir, 'to.jsonl');
      const { port, cli } = await startRecordingProxy(['--record', file]);
      const conn = await connect(port);
      const ch = await conn.createChannel();
      await ch.assertQueue(named, { durable: false, autoDelete: false, arguments: { 'x-max-length': 10 } });
      const { queue: replies } = await ch.assertQueue('', { exclusive: true });
      let got = 0;
      await ch.consume(replies, (m) => {
        if (m) {
          got++;
          ch.ack(m);
        }
      });
      for (let i = 0; i < 5; i++) ch.sendToQueue(replies, Buffer.from(`reply ${i}`), { replyTo: replies, correlationId: String(i) });
      await waitFor(() => got === 5, 'the deliveries');
      expect(await ch.get(named)).toBe(false);
      await ch.close();
      await conn.close();
      await waitFor(() => cli.stdout().includes('connection closed'), 'the connection to close');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
      const { host, port: brokerPort, username, password } = currentTarget();
      const direct = await amqplib.connect({ hostname: host, port: brokerPort, username, password });
      cleanups.push(async () => {
        const c = await direct.createChannel();
        await c.deleteQueue(named);
        await direct.close();
      });
      const to = `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${brokerPort}`;

      const same = runCli(['replay', file, '--to', to]);
      expect(same.stdout).toBe('');
      expect(same.stderr).toMatch(/replayed 1 connection to .*: \d+ frames sent, \d+ server frames compared: no differences/);
      expect(same.status).toBe(0);

      // the broker's answer changes: the queue now exists with other arguments
      const admin = await direct.createChannel();
      await admin.deleteQueue(named);
      await admin.assertQueue(named, { durable: false, autoDelete: false, arguments: { 'x-max-length': 20 } });
      await admin.close();
      const changed = runCli(['replay', file, '--to', to, '--timeout', '2000']);
      expect(changed.stdout).toMatch(
        /^difference #1 ch1 \(line \d+\): recorded queue\.declare-ok .*, now channel\.close reply-code=406 .*PRECONDITION_FAILED/m,
      );
      expect(changed.stderr).toMatch(/\d+ differences?/);
      expect(changed.status).toBe(1);
    });

    it('replay --to keeps the recorded pace and maps direct reply-to names and x-death times', async () => {
      const source = unique('replay-pace-ttl');
      const dead = unique('replay-pace-dead');
      const file = path.join(dir, 'pace.jsonl');
      const { port, cli } = await startRecordingProxy(['--record', file]);
      const conn = await connect(port);
      const ch = await conn.createChannel();
      await ch.assertQueue(dead, { durable: false, autoDelete: false });
      await ch.assertQueue(source, {
        durable: false,
        autoDelete: false,
        arguments: { 'x-message-ttl': 400, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead },
      });
      // an RPC over direct reply-to: the broker makes up the reply-to name each run
      const replies: string[] = [];
      await ch.consume(
        'amq.rabbitmq.reply-to',
        (m) => {
          if (m) replies.push(m.content.toString());
        },
        { noAck: true },
      );
      ch.sendToQueue(source, Buffer.from('expires'), { replyTo: 'amq.rabbitmq.reply-to', headers: { trace: 'a' } });
      // the message outlives its TTL, is dead-lettered with an x-death entry stamped with the broker's clock
      await new Promise((r) => setTimeout(r, 900));
      const got = await ch.get(dead, { noAck: true });
      expect(got).not.toBe(false);
      const replyTo = (got as amqplib.GetMessage).properties.replyTo as string;
      expect(replyTo).toMatch(/^amq\.rabbitmq\.reply-to\./);
      ch.sendToQueue(replyTo, Buffer.from('the reply'));
      await waitFor(() => replies.length === 1, 'the direct reply');
      await ch.close();
      await conn.close();
      await waitFor(() => cli.stdout().includes('connection closed'), 'the connection to close');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
      const { host, port: brokerPort, username, password } = currentTarget();
      const direct = await amqplib.connect({ hostname: host, port: brokerPort, username, password });
      cleanups.push(async () => {
        const c = await direct.createChannel();
        await c.deleteQueue(source);
        await c.deleteQueue(dead);
        await direct.close();
      });
      const to = `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${brokerPort}`;

      // at the recorded pace the TTL runs out again before the get: the same answers
      const same = runCli(['replay', file, '--to', to, '--timeout', '3000']);
      expect(same.stdout).toBe('');
      expect(same.stderr).toMatch(/no differences/);
      expect(same.status).toBe(0);

      // ten times faster, the get comes before the TTL: the broker's answer differs, by the clock
      const fast = runCli(['replay', file, '--to', to, '--speed', '10', '--timeout', '2000']);
      expect(fast.status).toBe(1);
      expect(fast.stdout).toMatch(/^difference #1 ch1 \(line \d+\): recorded basic\.get-ok .*, now basic\.get-empty/m);
    });

    it("replay --to compares publisher confirms per publish and reports the new broker's nacks", async () => {
      const named = unique('replay-confirms');
      const file = path.join(dir, 'confirms.jsonl');
      const { host, port: brokerPort, username, password } = currentTarget();
      const direct = await amqplib.connect({ hostname: host, port: brokerPort, username, password });
      const admin = await direct.createChannel();
      await admin.assertQueue(named, { durable: false, autoDelete: false });
      cleanups.push(async () => {
        const c = await direct.createChannel();
        await c.deleteQueue(named);
        await direct.close();
      });

      // the client only checks the queue (a passive declare), so what the broker does with
      // the publishes depends on how the queue was made, not on this session
      const { port, cli } = await startRecordingProxy(['--record', file]);
      const conn = await connect(port);
      const ch = await conn.createConfirmChannel();
      await ch.checkQueue(named);
      for (let i = 0; i < 5; i++) ch.sendToQueue(named, Buffer.from(`confirmed ${i}`));
      await ch.waitForConfirms();
      await ch.close();
      await conn.close();
      await waitFor(() => cli.stdout().includes('connection closed'), 'the connection to close');
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(0);
      const to = `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${host}:${brokerPort}`;

      await admin.purgeQueue(named);
      const same = runCli(['replay', file, '--to', to]);
      expect(same.stdout).toBe('');
      expect(same.stderr).toMatch(/5 publisher confirms compared: no differences/);
      expect(same.status).toBe(0);

      // now the queue holds at most 2 messages and refuses more: the broker nacks publishes 3-5
      await admin.deleteQueue(named);
      await admin.assertQueue(named, { durable: false, autoDelete: false, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
      const changed = runCli(['replay', file, '--to', to, '--timeout', '2000']);
      expect(changed.stdout.trim().split('\n')).toEqual(['difference #1 ch1: publisher confirm of publishes 3-5 of 5: recorded ack, now nack']);
      expect(changed.stderr).toMatch(/5 publisher confirms compared: 1 difference/);
      expect(changed.status).toBe(1);
      await admin.close();
    });
  },
  { childProcess: true },
);
