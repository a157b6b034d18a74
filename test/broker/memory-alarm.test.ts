// The memory alarm as clients live it: a publisher that sends content while memory is over
// --max-memory gets connection.blocked (when it announced the capability) and is not read any
// more; consumers are never blocked; once memory falls it gets connection.unblocked and its
// messages go through. And a flood into a queue nobody reads ends blocked, not in an OOM crash,
// whether the limit is --max-memory or V8's heap limit.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { CLI, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { encodeContentFrames, encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { RawClient } from './raw-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function broker(maxMemory: number): Promise<RunningBroker> {
  const b = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, maxMemory });
  cleanups.push(() => b.close());
  return b;
}

const MiB = 1024 * 1024;

describe('memory alarm with real clients', () => {
  it('amqplib: blocked when it publishes over the limit, unblocked when memory falls; its messages arrive', async () => {
    const b = await broker(1);
    expect(b.broker.memoryAlarm).toBe(true);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port: b.address.port });
    cleanups.push(() => conn.close().catch(() => undefined));
    const events: string[] = [];
    conn.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
    conn.on('unblocked', () => events.push('unblocked'));
    // connected and declaring while the alarm is on: only content blocks a connection
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { autoDelete: true });
    ch.sendToQueue(queue, Buffer.from('first'));
    await waitFor(() => events.length === 1, 'connection.blocked');
    expect(events).toEqual(['blocked: low on memory']);
    ch.sendToQueue(queue, Buffer.from('second, sent while blocked'));

    // a consumer-only connection is served meanwhile, and not blocked
    const other = await amqplib.connect({ hostname: '127.0.0.1', port: b.address.port });
    cleanups.push(() => other.close().catch(() => undefined));
    let otherBlocked = false;
    other.on('blocked', () => {
      otherBlocked = true;
    });
    const otherCh = await other.createChannel();
    expect((await otherCh.checkQueue(queue)).messageCount).toBe(1);

    b.broker.setMaxMemory(Number.MAX_SAFE_INTEGER);
    await waitFor(() => events.length === 2, 'connection.unblocked');
    expect(events[1]).toBe('unblocked');
    expect((await ch.checkQueue(queue)).messageCount).toBe(2);
    expect(otherBlocked).toBe(false);
  });

  it('@cloudamqp/amqp-client: sees the same blocked and unblocked', async () => {
    const b = await broker(1);
    const client = new AMQPClient(`amqp://guest:guest@127.0.0.1:${b.address.port}`);
    const events: string[] = [];
    client.onblocked = (reason) => events.push(`blocked: ${reason}`);
    client.onunblocked = () => events.push('unblocked');
    await client.connect();
    cleanups.push(() => client.close().catch(() => undefined));
    const ch = await client.channel();
    const { name: q } = await ch.queueDeclare('', { exclusive: true });
    await ch.basicPublish('', q, 'first');
    await waitFor(() => events.length === 1, 'connection.blocked');
    b.broker.setMaxMemory(Number.MAX_SAFE_INTEGER);
    await waitFor(() => events.length === 2, 'connection.unblocked');
    expect(events).toEqual(['blocked: low on memory', 'unblocked']);
    const got = await ch.basicGet(q, { noAck: true });
    expect(got?.bodyToString()).toBe('first');
  });

  it('a client without the connection.blocked capability gets no frame, but is not read until the alarm ends', async () => {
    const b = await broker(1);
    const c = await RawClient.connect(b.address.port);
    cleanups.push(() => c.destroy());
    await c.open({ capabilities: {} });
    await c.openChannel(1);
    c.send(1, 'queue.declare', { queue: '', exclusive: true });
    const q = String((await c.expectMethod('queue.declare-ok')).args['queue']);
    // one write, one chunk: the declare after the publish is read with it and answered
    c.write(
      Buffer.concat([
        encodeMethodFrame(1, 'basic.publish', { exchange: '', 'routing-key': q }),
        ...encodeContentFrames(1, 60, {}, Buffer.from('first'), c.frameMax),
        encodeMethodFrame(1, 'queue.declare', { queue: q, passive: true }),
      ]),
    );
    expect((await c.expectMethod('queue.declare-ok')).args['message-count']).toBe(1);
    // what comes after is not read
    c.send(1, 'queue.declare', { queue: q, passive: true });
    // another client's round trip: the broker has had its turn to read (and not read) ours
    const probe = await RawClient.connect(b.address.port);
    cleanups.push(() => probe.destroy());
    await probe.open();
    expect(c.frames.filter((f) => f.type === 'method' && f.method.name === 'queue.declare-ok')).toHaveLength(2);
    b.broker.setMaxMemory(Number.MAX_SAFE_INTEGER);
    expect((await c.expectMethod('queue.declare-ok')).args['message-count']).toBe(1);
    expect(c.frames.some((f) => f.type === 'method' && f.method.name.startsWith('connection.'))).toBe(true);
    expect(c.frames.some((f) => f.type === 'method' && (f.method.name === 'connection.blocked' || f.method.name === 'connection.unblocked'))).toBe(false);
  });
});

/** VmRSS of a process, bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function spawnBroker(args: string[], nodeOptions: string[] = []): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeOptions, CLI, '--standalone', '--listen', String(port), '--no-tui', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
  await waitFor(() => stderr.includes('built-in broker listening') || child.exitCode !== null, 'the broker to listen');
  if (child.exitCode !== null) throw new Error(`amqp-spy --standalone exited: ${stderr}`);
  return { child, port, stderr: () => stderr };
}

/**
 * Publishes `body` to a queue nobody reads, as fast as the socket takes it, until the broker
 * says connection.blocked; then purges the queue from a consumer-only connection and waits for
 * connection.unblocked. Returns what it took.
 */
async function floodUntilBlocked(port: number, body: Buffer): Promise<{ published: number; blockedAt: number }> {
  const conn = await amqplib.connect({ hostname: '127.0.0.1', port });
  conn.on('error', () => undefined);
  cleanups.push(() => conn.close().catch(() => undefined));
  let blocked = false;
  let unblocked = false;
  let closed = false;
  conn.on('blocked', () => {
    blocked = true;
  });
  conn.on('unblocked', () => {
    unblocked = true;
  });
  conn.on('close', () => {
    closed = true;
  });
  const ch = await conn.createChannel();
  const queue = 'memory-flood';
  await ch.assertQueue(queue, { durable: false });
  let published = 0;
  while (!blocked) {
    if (closed) throw new Error(`the broker closed the connection after ${published} publishes`);
    if (!ch.sendToQueue(queue, body)) {
      // the socket is full: wait for it to drain, or for the broker to say why it does not
      await new Promise<void>((resolve) => {
        const done = (): void => {
          ch.off('drain', done);
          conn.off('blocked', done);
          conn.off('close', done);
          resolve();
        };
        ch.once('drain', done);
        conn.once('blocked', done);
        conn.once('close', done);
      });
    }
    published++;
  }
  const blockedAt = published;
  const other = await amqplib.connect({ hostname: '127.0.0.1', port });
  cleanups.push(() => other.close().catch(() => undefined));
  const otherCh = await other.createChannel();
  await otherCh.purgeQueue(queue);
  await waitFor(() => unblocked, 'connection.unblocked after the purge', 60_000);
  // what was held back while blocked goes through now
  await ch.checkQueue(queue);
  return { published, blockedAt };
}

describe('a flood into a queue nobody reads', () => {
  it('--max-memory 64 MiB, 4 KiB bodies: blocked near the limit, never killed, unblocked after a purge', async () => {
    const maxMemory = 64 * MiB;
    const { child, port } = await spawnBroker(['--max-memory', String(maxMemory)]);
    const before = rss(child.pid!);
    const { blockedAt } = await floodUntilBlocked(port, Buffer.alloc(4096, 7));
    const grown = rss(child.pid!) - before;
    console.log(
      `--max-memory 64 MiB: blocked after ${blockedAt} publishes of 4 KiB (${((blockedAt * 4096) / MiB).toFixed(1)} MiB of bodies), broker RSS grew ${(grown / MiB).toFixed(1)} MiB`,
    );
    expect(child.exitCode).toBe(null);
    // blocked because of the bodies it holds, well before holding twice the limit
    expect(blockedAt * 4096).toBeLessThan(2 * maxMemory);
    expect(blockedAt * 4096).toBeGreaterThan(maxMemory / 4);
  }, 120_000);

  it("no --max-memory, a 64 MiB V8 heap, 16-byte bodies: blocked before the heap's limit, not an OOM crash", async () => {
    const { child, port, stderr } = await spawnBroker([], ['--max-old-space-size=64']);
    const { blockedAt } = await floodUntilBlocked(port, Buffer.from('sixteen bytes!!!'));
    console.log(`64 MiB heap: blocked after ${blockedAt} publishes of 16 B, broker RSS ${(rss(child.pid!) / MiB).toFixed(1)} MiB`);
    expect(child.exitCode).toBe(null);
    expect(stderr()).not.toMatch(/heap out of memory/i);
    expect(blockedAt).toBeGreaterThan(1000);
  }, 120_000);

  it('a body still arriving counts: one 100 MiB message over --max-memory 32 MiB is blocked before it is whole', async () => {
    const { child, port } = await spawnBroker(['--max-memory', String(32 * MiB)]);
    const conn = await amqplib.connect({ hostname: '127.0.0.1', port });
    conn.on('error', () => undefined);
    let blocked = false;
    conn.on('blocked', () => {
      blocked = true;
    });
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.assertQueue('big', { durable: false });
    const size = 100 * MiB;
    ch.sendToQueue('big', Buffer.alloc(size, 1));
    await waitFor(() => blocked, 'connection.blocked', 60_000);
    const socket = (conn.connection as unknown as { stream: { bytesWritten: number } }).stream;
    console.log(
      `a 100 MiB body: blocked with ${(socket.bytesWritten / MiB).toFixed(1)} MiB of it handed to the socket, broker RSS ${(rss(child.pid!) / MiB).toFixed(1)} MiB`,
    );
    expect(socket.bytesWritten).toBeLessThan(size);
    expect(child.exitCode).toBe(null);
    // the half-read body goes with its connection; then the alarm ends and publishers pass
    await conn.close().catch(() => undefined);
    const next = await amqplib.connect({ hostname: '127.0.0.1', port });
    cleanups.push(() => next.close().catch(() => undefined));
    const confirms = await next.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      confirms.sendToQueue('big', Buffer.from('small'), {}, (err: unknown) => (err ? reject(err as Error) : resolve())),
    );
  }, 120_000);
});
