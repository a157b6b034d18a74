// Differential proof on real traffic: tcpdump captures loopback while real clients (amqplib,
// @cloudamqp/amqp-client) run a scenario through the proxy (to RabbitMQ) or against the
// built-in broker watched with --sniff. The frames amqp-spy decodes from the capture must be
// the frames the proxy recorded, and tshark's frame list for the same capture; the recording
// exported as pcapng must give tshark the same frames again.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterAll, expect, it } from 'vitest';
import { unusedPort } from '../proxy/helpers.js';
import { CLI, startCli, waitFor } from '../support/cli.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { captureLoopback, describeWithTcpdump } from '../support/tcpdump.js';
import { hasTshark, tsharkFrames } from '../support/tshark.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-capture-diff-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const BIG = Buffer.alloc(200_000, 'x');

/** The CLI to completion; its JSON output (bodies in base64) is larger than spawnSync's default buffer. */
function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** amqplib: confirms, a queue, small and large messages, a consumer, acks, a channel error. */
async function amqplibScenario(port: number, user: string, password: string): Promise<void> {
  const conn = await amqplib.connect(`amqp://${user}:${password}@127.0.0.1:${port}`);
  const ch = await conn.createConfirmChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true });
  for (let i = 0; i < 20; i++) ch.sendToQueue(queue, Buffer.from(`message ${i}`), { contentType: 'text/plain', headers: { i } });
  ch.sendToQueue(queue, BIG);
  await ch.waitForConfirms();
  let got = 0;
  await new Promise<void>((resolve) => {
    void ch.consume(queue, (m) => {
      if (m === null) return;
      ch.ack(m);
      if (++got === 21) resolve();
    });
  });
  const bad = await conn.createChannel();
  bad.on('error', () => {});
  await bad.checkQueue('amqp-spy-capture-no-such-queue').catch(() => {});
  await conn.close();
}

/** @cloudamqp/amqp-client: publish, get, a large body split in frames, close. */
async function amqpClientScenario(port: number, user: string, password: string): Promise<void> {
  const client = new AMQPClient(`amqp://${user}:${password}@127.0.0.1:${port}`);
  const conn = await client.connect();
  const ch = await conn.channel();
  const { name } = await ch.queueDeclare('', { exclusive: true });
  await ch.basicPublish('', name, 'hello', { contentType: 'text/plain' });
  await ch.basicPublish('', name, BIG);
  await ch.basicGet(name, { noAck: true });
  await ch.basicGet(name, { noAck: true });
  await conn.close();
}

interface JsonFrame {
  kind: string;
  conn: number;
  dir: 'c2s' | 's2c';
  raw: string;
}
const jsonFrames = (stdout: string): JsonFrame[] =>
  stdout
    .split('\n')
    .slice(0, -1) // complete lines only: the output may still be growing
    .filter((l) => l.includes('"kind":"frame"'))
    .map((l) => JSON.parse(l) as JsonFrame);
/** `conn dir base64` per frame, each connection's directions in their own order. */
const byStream = (frames: JsonFrame[]) => {
  const streams = new Map<string, string[]>();
  for (const f of frames) {
    const key = `${f.conn} ${f.dir}`;
    if (!streams.has(key)) streams.set(key, []);
    // length and a digest: a difference shows in a readable diff
    streams.get(key)!.push(`${f.raw.length} ${createHash('sha1').update(f.raw).digest('hex').slice(0, 10)}`);
  }
  return Object.fromEntries([...streams].sort(([a], [b]) => a.localeCompare(b)));
};
/** tshark's notation of a frame from its bytes. */
const notation = (raw: string) => {
  const b = Buffer.from(raw, 'base64');
  const channel = b.readUInt16BE(1);
  return b[0] === 1 ? `1:${b.readUInt16BE(7)}.${b.readUInt16BE(9)}@${channel}` : `${b[0]}@${channel}`;
};

describeWithTcpdump('captures of real clients (tcpdump on loopback)', () => {
  it('--sniff shows live the frames the built-in broker records, with both clients', async () => {
    const port = await unusedPort();
    const recording = path.join(dir, 'standalone.jsonl');
    const broker = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording]);
    const sniff = startCli(['--sniff', `lo:${port}`, '--no-tui', '--json', '--frames']);
    try {
      await waitFor(() => broker.stderr().includes('built-in broker listening'), 'the broker to listen');
      await waitFor(() => sniff.stderr().includes('capturing tcp port'), 'tcpdump to capture');
      await amqplibScenario(port, 'guest', 'guest');
      await amqpClientScenario(port, 'guest', 'guest');
      await waitFor(() => jsonFrames(sniff.stdout()).filter((f) => f.dir === 'c2s' && notation(f.raw) === '1:10.50@0').length === 2, 'both closes', 15_000);
    } finally {
      sniff.child.kill('SIGTERM');
      broker.child.kill('SIGINT');
    }
    expect(await sniff.exited).toBe(0);
    expect(await broker.exited).toBe(0);
    expect(sniff.stderr()).toMatch(new RegExp(`sniff lo:${port}: \\d+ packets, 2 AMQP connections[,\\n]`));
    const recorded = jsonFrames(runCli(['replay', '--json', '--frames', recording]).stdout);
    expect(recorded.length).toBeGreaterThan(100);
    expect(byStream(jsonFrames(sniff.stdout()))).toEqual(byStream(recorded));
  });

  describeWithRabbitMQ('through the proxy to RabbitMQ', () => {
    it('the capture decodes to the proxy’s recording and to tshark’s frames; the export too', async () => {
      const rabbit = rabbitAddress();
      const port = await unusedPort();
      const recording = path.join(dir, 'proxy.jsonl');
      const capture = path.join(dir, 'proxy.pcap');
      const proxy = startCli(['--upstream', `${rabbit.host}:${rabbit.port}`, '--listen', String(port), '--no-tui', '--record', recording]);
      const tcpdump = await captureLoopback(port, capture);
      try {
        await waitFor(() => proxy.stderr().includes('proxying'), 'the proxy to listen');
        await amqplibScenario(port, rabbit.username, rabbit.password);
        await amqpClientScenario(port, rabbit.username, rabbit.password);
        await waitFor(() => (proxy.stdout().match(/connection closed/g) ?? []).length === 2, 'both closes', 15_000);
      } finally {
        await tcpdump.stop();
        proxy.child.kill('SIGINT');
      }
      expect(await proxy.exited).toBe(0);
      const read = runCli(['read', '--json', '--frames', '--port', String(port), capture]);
      expect(read.status).toBe(0);
      expect(read.stderr).toMatch(/: \d+ packets, 2 AMQP connections[,\n]/);
      const fromCapture = jsonFrames(read.stdout);
      const recorded = jsonFrames(runCli(['replay', '--json', '--frames', recording]).stdout);
      expect(recorded.length).toBeGreaterThan(100);
      expect(byStream(fromCapture)).toEqual(byStream(recorded));
      if (!hasTshark) return;
      // tshark on the same capture: the clients ran one after the other, so each direction's
      // frames are the connections' frames in order
      const ours = (frames: JsonFrame[], d: 'c2s' | 's2c') =>
        frames
          .filter((f) => f.dir === d)
          .sort((a, b) => a.conn - b.conn)
          .map((f) => notation(f.raw));
      const theirs = tsharkFrames(capture, port);
      expect(theirs.c2s).toEqual(ours(fromCapture, 'c2s'));
      expect(theirs.s2c).toEqual(ours(fromCapture, 's2c'));
      // the recording exported, read back by tshark
      const exported = path.join(dir, 'proxy-export.pcapng');
      expect(runCli(['export', recording, '--pcapng', exported]).status).toBe(0);
      const again = tsharkFrames(exported, 5672);
      expect(again.c2s).toEqual(ours(recorded, 'c2s'));
      expect(again.s2c).toEqual(ours(recorded, 's2c'));
    });
  });
});
