// The TUI shows every event of a session, in a real terminal (tmux) with the real CLI:
// replaying a recording of several real clients shows as many events as headless replay
// prints, every time (the TUI's store once subscribed after its lazy import and lost the
// first events at random), and a client that connects the moment a live session listens is
// on the screen from its first frame.

import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-tui-complete-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Three real clients at once: confirms and a consumer, basic.get, and a channel closed with 406. */
async function threeClients(port: number): Promise<void> {
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const publisher = (async () => {
    const conn = await amqplib.connect(url);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const received: string[] = [];
    await ch.consume(queue, (m) => {
      if (m) {
        received.push(m.content.toString());
        ch.ack(m);
      }
    });
    for (let i = 0; i < 20; i++) ch.sendToQueue(queue, Buffer.from(`message ${i}`), { contentType: 'text/plain', correlationId: `c-${i}` });
    await ch.waitForConfirms();
    await until(() => received.length === 20, 'the consumer to get all 20 messages');
    await conn.close();
  })();
  const getter = (async () => {
    const client = new AMQPClient(url);
    const conn = await client.connect();
    const ch = await conn.channel();
    await ch.queueDeclare('tui-complete-jobs', { durable: false });
    for (let i = 0; i < 10; i++) await ch.basicPublish('', 'tui-complete-jobs', `job ${i}`);
    for (let i = 0; i < 10; i++) {
      let m = await ch.basicGet('tui-complete-jobs', { noAck: true });
      // the publish is not confirmed: it may reach the queue a moment after the get
      while (m === null) m = await ch.basicGet('tui-complete-jobs', { noAck: true });
      expect(m.bodyToString()).toBe(`job ${i}`);
    }
    await ch.queueDelete('tui-complete-jobs');
    await conn.close();
  })();
  const failing = (async () => {
    const conn = await amqplib.connect(url);
    conn.on('error', () => {});
    const ch = await conn.createChannel();
    ch.on('error', () => {});
    await ch.assertQueue('tui-complete-406', { durable: false });
    // the same queue, declared durable: 406 PRECONDITION_FAILED closes the channel
    await expect(ch.assertQueue('tui-complete-406', { durable: true })).rejects.toThrow(/PRECONDITION_FAILED/);
    const ch2 = await conn.createChannel();
    await ch2.deleteQueue('tui-complete-406');
    await conn.close();
  })();
  await Promise.all([publisher, getter, failing]);
}

/** Every seq headless replay prints, frames and messages together: the session's event count. */
function headlessEventCount(file: string): number {
  const seqs = new Set<number>();
  for (const args of [['--json'], ['--json', '--frames']]) {
    const out = runCli(['replay', file, ...args]);
    expect(out.status, out.stderr).toBe(0);
    for (const line of out.stdout.split('\n')) if (line !== '') seqs.add((JSON.parse(line) as { seq: number }).seq);
  }
  return seqs.size;
}

/** "… of 1,234 events" in the TUI's header. */
function headerCount(screen: string): number | undefined {
  const match = /of ([\d,]+) events/.exec(screen);
  return match ? Number(match[1]!.replace(/,/g, '')) : undefined;
}

(HAVE_TMUX ? describe : describe.skip)('the TUI shows every event (tmux, real CLI)', () => {
  const recording = path.join(tmp, 'three-clients.jsonl');
  let expected = 0;

  beforeAll(async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording]);
    try {
      await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
      await threeClients(port);
    } finally {
      cli.child.kill('SIGINT');
    }
    expect(await cli.exited).toBe(0);
    expected = headlessEventCount(recording);
    // three connections' handshakes, 30 messages, a 406: a session of a few hundred events
    expect(expected).toBeGreaterThan(200);
  }, 60_000);

  it('replay in the TUI counts as many events as headless replay, five runs out of five', async () => {
    for (let run = 1; run <= 5; run++) {
      const screen = new TmuxScreen();
      try {
        screen.start(['replay', recording], 140, 40);
        const shown = await screen.waitFor(/replay of .* complete/, `run ${run}: the replay-complete notice`);
        // the notice says the replay is complete: the count on the same screen must be the whole session
        expect(headerCount(shown), `run ${run}\n${shown}`).toBe(expected);
        screen.keys('q');
        await until(() => screen.ready().includes('quit done, exit 0'), `run ${run}: exit 0 after q`, 15_000);
      } finally {
        screen.stop();
      }
    }
  }, 120_000);

  it('a client that connects the moment the live TUI listens is shown from its first frame', async () => {
    const screen = new TmuxScreen();
    try {
      screen.start(['--standalone'], 140, 40);
      // connect as soon as the port accepts, long before ink has loaded
      const port = screen.port();
      const deadline = Date.now() + 15_000;
      while (
        !(await new Promise<boolean>((resolve) => {
          const probe = net
            .connect(port, '127.0.0.1', () => {
              probe.destroy();
              resolve(true);
            })
            .on('error', () => resolve(false));
        }))
      ) {
        if (Date.now() > deadline) throw new Error(`the live session did not listen on ${port}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      const ch = await conn.createChannel();
      await ch.assertQueue('tui-first-frame', { durable: false });
      await ch.deleteQueue('tui-first-frame');
      await conn.close();
      await screen.waitFor('connection.close-ok', 'the connection to close on screen');
      // from the top: the probe's connection (#1) opened and closed with no frames; the client is #2
      screen.keys('g');
      const top = await screen.waitFor(/#2\s+S→C ch0\s+connection\.start /, "the client's first frames at the top of the list");
      const rows = top.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
      // the probe first; then the client's first frames, none missing
      expect(rows[0]).toMatch(/#1\s+connection (opened|closed)/);
      const client = rows.filter((r) => /#2\s/.test(r) && !r.includes('connection opened'));
      expect(client[0]).toMatch(/#2\s+C→S\s+protocol-header AMQP 0-9-1/);
      expect(client[1]).toMatch(/#2\s+S→C ch0\s+connection\.start /);
      screen.keys('q');
      await until(() => screen.ready().includes('quit done, exit 0'), 'exit 0 after q', 15_000);
    } finally {
      screen.stop();
    }
  }, 60_000);
});
