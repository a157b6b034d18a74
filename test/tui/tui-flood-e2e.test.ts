// The TUI under a flood, in a real terminal: tmux runs the real CLI as a proxy in front of the
// built-in broker (`amqp-spy --standalone` in its own process) while 60 amqplib connections
// push 16 B..64 KB messages through it. What a user meets there: keys are answered while the
// flood goes on, `p` freezes the list and counts what arrives meanwhile, nothing is lost, and
// `q` still quits cleanly. How fast keys are answered is measured by `npm run bench:tui`, not here.

import { spawn, type ChildProcess } from 'node:child_process';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

const CONNECTIONS = 60;
const MESSAGES = 200;
const sizeOf = (conn: number, k: number): number => 16 + Math.floor((((k * 7919 + conn * 104729) % 1000) / 1000) * 65520);

/** Publishes and consumes back MESSAGES messages on each of CONNECTIONS connections; resolves with how many arrived. */
async function flood(port: number): Promise<number> {
  let delivered = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      const channel = await connection.createChannel();
      await channel.prefetch(100);
      const { queue } = await channel.assertQueue('', { exclusive: true });
      let got = 0;
      const done = new Promise<void>((resolve) => {
        void channel.consume(queue, (message) => {
          if (!message) return;
          channel.ack(message);
          delivered++;
          if (++got === MESSAGES) resolve();
        });
      });
      for (let k = 0; k < MESSAGES; k++) {
        if (!channel.sendToQueue(queue, Buffer.alloc(sizeOf(i, k), 97))) await new Promise((r) => channel.once('drain', r));
      }
      await done;
      await connection.close();
    }),
  );
  return delivered;
}

const pausedCount = (screen: string): number | undefined => {
  const match = /PAUSED · ([\d,]+) new/.exec(screen);
  return match ? Number(match[1]!.replace(/,/g, '')) : undefined;
};

(HAVE_TMUX ? describe : describe.skip)('TUI in a real terminal under a flood of 60 connections (built-in broker upstream)', () => {
  const screen = new TmuxScreen();
  let broker: ChildProcess | undefined;
  afterAll(() => {
    screen.stop();
    broker?.kill('SIGTERM');
  });

  it('answers m and p while the flood runs, counts what arrives while paused, forwards every message, and quits with q', async () => {
    const brokerPort = await freePort();
    broker = spawn(process.execPath, [CLI, '--standalone', '--listen', String(brokerPort), '--no-tui', '--handshake-timeout', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    broker.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    await waitFor(() => stderr.includes('built-in broker listening'), 'the built-in broker to listen');

    screen.start(['--upstream', `127.0.0.1:${brokerPort}`], 150, 40);
    await screen.waitFor('rows: messages', 'the header');

    let flooding = true;
    const flooded = flood(screen.port()).finally(() => {
      flooding = false;
    });
    await until(() => /[1-9][\d,]* of [\d,]+ events/.test(screen.capture()), 'events listed', 30_000);

    // a key during the flood: the list switches to frames before the flood is over
    screen.keys('m');
    await screen.waitFor('rows: frames', 'the frames mode');
    expect(flooding, 'the key was answered only after the flood').toBe(true);

    // pause: the view freezes and the header counts what arrives meanwhile
    screen.keys('p');
    await until(() => pausedCount(screen.capture()) !== undefined, 'the paused header', 15_000);
    const first = pausedCount(screen.capture())!;
    await until(() => (pausedCount(screen.capture()) ?? 0) > first, `the count of new events to grow past ${first}`, 15_000);
    expect(flooding, 'the pause was answered only after the flood').toBe(true);
    screen.keys('p');
    await screen.waitFor('● FOLLOWING', 'following again');

    // forwarding never waited for the screen: every message went through
    expect(await flooded).toBe(CONNECTIONS * MESSAGES);

    screen.keys('q');
    await until(() => screen.ready().includes('quit done, exit 0'), 'the session to stop after q, exit 0', 15_000);
  }, 120_000);
});
