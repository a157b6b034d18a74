// The TUI answers the user's question (issue #22), in a real terminal (tmux) with the real CLI
// and the built-in broker: search reaches properties, headers and bodies and says where it
// matched; columns give way by importance; the filter says when it matches nothing.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

/** Rows of the list (lines starting with a time). */
function listRows(screen: string): string[] {
  return screen.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
}

/** The last line of the screen with text on it: the status line. */
function statusLine(screen: string): string {
  return screen.trimEnd().split('\n').at(-1) ?? '';
}

/** A client publishing three messages with a correlation id, a header and a JSON body. */
async function publishOrders(port: number): Promise<void> {
  const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue('insight-orders', { durable: false });
  for (let i = 1; i <= 3; i++) {
    ch.sendToQueue('insight-orders', Buffer.from(JSON.stringify({ order: i, customer: i === 2 ? 'Ada Lovelace' : 'someone' })), {
      contentType: 'application/json',
      correlationId: `corr-${i}`,
      headers: { 'trace-id': `trace-${i}0${i}` },
    });
  }
  await ch.waitForConfirms();
  await ch.deleteQueue('insight-orders');
  await conn.close();
}

(HAVE_TMUX ? describe : describe.skip)('search reaches properties, headers and bodies (tmux, real CLI)', () => {
  const screen = new TmuxScreen();
  beforeAll(async () => {
    screen.start(['--standalone'], 120, 30);
    await screen.waitFor('amqp-spy  standalone', 'the header');
    await publishOrders(screen.port());
    await screen.waitFor('connection closed', 'the client to finish');
  });
  afterAll(() => screen.stop());

  /** Opens the search prompt, empties it, types `text` and presses Enter (one key at a time: a burst reads as one chunk). */
  async function search(text: string): Promise<void> {
    screen.keys('s');
    await screen.waitFor('Enter searches', 'the search prompt');
    screen.keys('C-u');
    await until(() => /^search +Enter searches/m.test(screen.capture()), `an empty prompt\n${screen.capture()}`, 15_000);
    screen.type(text);
    screen.keys('Enter');
  }

  it('s corr-2 selects the message with that correlation-id and says where it matched', async () => {
    screen.keys('g');
    await search('corr-2');
    const found = await screen.waitFor('matched in correlation-id', 'the match note');
    expect(found).toMatch(/correlation-id: "corr-2"/);
    // the matching row is selected, the status line names the field
    expect(statusLine(found)).toContain('matched in correlation-id');
  });

  it('a header value and body text are found too', async () => {
    await search('trace-303');
    const header = await screen.waitFor('matched in headers.trace-id', 'the header match');
    expect(header).toMatch(/correlation-id: "corr-3"/);
    await search('"ada lovelace"');
    const body = await screen.waitFor('matched in body', 'the body match');
    expect(body).toMatch(/correlation-id: "corr-2"/);
  });

  it('a filter reaches the same fields', async () => {
    screen.keys('Escape', '/');
    screen.type('trace-101');
    screen.keys('Enter');
    await screen.waitFor('filter: trace-101', 'the filter in the header');
    await until(() => listRows(screen.capture()).length === 1, `one row listed\n${screen.capture()}`, 15_000);
    expect(listRows(screen.capture())[0]).toContain('basic.publish');
    screen.keys('Escape');
  });

  it('a filter with a dangling OR is refused in the prompt with its column; the help says how terms combine', async () => {
    screen.keys('/');
    await screen.waitFor('Enter keeps', 'the filter prompt');
    screen.type('corr-1 OR');
    await screen.waitFor('✗ "OR" needs a term after it at column 8', 'the OR error');
    screen.keys('Escape');
    await until(() => !screen.capture().includes('✗'), `the prompt closed\n${screen.capture()}`, 15_000);
    screen.keys('?');
    await screen.waitFor('Keys  (? or Esc closes this help', 'the help screen');
    for (let i = 0; i < 6; i++) screen.keys('PageDown');
    // the page downs are drawn one by one: wait for the screen they end on
    const combined = (text: string) => text.includes('terms are ANDed (all match)') && text.includes('-term negates a term') && /or: either matches/.test(text);
    await until(() => combined(screen.capture()), `the AND rule, negation and or in the help\n${screen.capture()}`, 15_000);
    screen.keys('Escape');
    await screen.waitFor('─ Detail', 'back to the list');
  });

  it('Esc after Enter on a rejected filter closes the prompt and its error', async () => {
    screen.keys('/');
    await screen.waitFor('Enter keeps', 'the filter prompt');
    screen.type('colour:red');
    await screen.waitFor('✗ unknown key "colour:"', 'the error');
    screen.keys('Enter');
    await screen.waitFor('✗ unknown key "colour:"', 'the error after Enter');
    screen.keys('Escape');
    await until(
      () => !screen.capture().includes('✗') && statusLine(screen.capture()).includes('? help'),
      `the error gone after Esc\n${screen.capture()}`,
      15_000,
    );
  });

  it('a filter matching nothing says so, with how many events it looked at', async () => {
    screen.keys('/');
    await screen.waitFor('Enter keeps', 'the filter prompt');
    screen.type('method:basic.nack');
    screen.keys('Enter');
    const shown = await screen.waitFor('filter: method:basic.nack', 'the filter in the header');
    const kept = /of ([\d,]+) events/.exec(shown)?.[1];
    expect(kept).toBeDefined();
    await screen.waitFor(`no event of ${kept} events matches method:basic.nack`, 'the empty-filter line');
    expect(screen.capture()).not.toContain('waiting for traffic');
    screen.keys('Escape');
    await until(() => listRows(screen.capture()).length > 3, `the filter cleared\n${screen.capture()}`, 15_000);
  });
});

/** A client on channel 123 declaring a queue with a long name, and publishing to it. */
async function channel123(port: number): Promise<void> {
  const client = new AMQPClient(`amqp://guest:guest@127.0.0.1:${port}`);
  const conn = await client.connect();
  const ch = await conn.channel(123);
  await ch.queueDeclare('orders-for-narrow-terminals', { durable: false });
  await ch.basicPublish('', 'orders-for-narrow-terminals', 'hello');
  await ch.queueDelete('orders-for-narrow-terminals');
  await conn.close();
}

(HAVE_TMUX ? describe : describe.skip)('columns give way by importance (tmux, real CLI)', () => {
  for (const width of [60, 80]) {
    it(`at ${width} columns a 3-digit channel shows whole and the arguments keep room`, async () => {
      const screen = new TmuxScreen();
      try {
        screen.start(['--standalone'], width, 24);
        await screen.waitFor('amqp-spy  standalone', 'the header');
        await channel123(screen.port());
        const shown = await screen.waitFor('queue.delete-ok', 'the session on screen');
        for (const line of shown.split('\n')) expect(line.length).toBeLessThanOrEqual(width);
        const declare = shown.split('\n').find((l) => l.includes('queue.declare ') && l.includes('C→S'));
        expect(declare, shown).toBeDefined();
        expect(declare).toMatch(/ ch123 +queue\.declare queue=orders-for-n/);
        const titles = shown.split('\n').find((l) => l.startsWith('TIME'))!;
        // the size goes first, then the round trip
        expect(titles).not.toContain('SIZE');
        if (width === 80) expect(titles).toMatch(/RTT$/);
        else expect(titles).not.toContain('RTT');
      } finally {
        screen.stop();
      }
    });
  }
});

(HAVE_TMUX ? describe : describe.skip)('the connections view scrolls and folds (tmux, real CLI)', () => {
  const screen = new TmuxScreen();
  const open: amqplib.ChannelModel[] = [];
  beforeAll(async () => {
    screen.start(['--standalone'], 100, 24);
    await screen.waitFor('amqp-spy  standalone', 'the header');
    const url = `amqp://guest:guest@127.0.0.1:${screen.port()}`;
    for (let i = 1; i <= 4; i++) {
      const conn = await amqplib.connect(url);
      conn.on('error', () => {});
      await conn.createChannel();
      if (i === 1) {
        // five channels opened and closed (all open at once: amqplib reuses a closed number),
        // and one closed by the broker with 404
        const five = [];
        for (let c = 0; c < 5; c++) five.push(await conn.createChannel());
        const doomed = await conn.createChannel();
        doomed.on('error', () => {});
        for (const ch of five) await ch.close();
        await expect(doomed.checkExchange(`missing-${process.pid}`)).rejects.toThrow(/404/);
      }
      if (i === 2 || i === 3) await conn.close();
      else open.push(conn);
    }
    await screen.waitFor('2 conns', 'two connections open');
  });
  afterAll(async () => {
    for (const conn of open) await conn.close().catch(() => {});
    screen.stop();
  });

  /** The connections view's lines below its title. */
  const viewLines = () => screen.capture().split('\n').slice(4, 22).join('\n');

  it('G goes to the last line, k moves up at once, and Tab opens it at the top again', async () => {
    screen.keys('Tab');
    await screen.waitFor('Connections  2 open of 4', 'the connections view');
    expect(viewLines()).toMatch(/^#1 {2}open/);
    screen.keys('G');
    // the closed connections are last
    await until(() => /#3 {2}closed/.test(viewLines()) && !/#1 {2}open/.test(viewLines()), `the end of the view\n${screen.capture()}`, 15_000);
    const bottom = viewLines();
    // many keys down past the end, then one up: the view moves up at once
    for (let i = 0; i < 30; i++) screen.keys('j');
    await new Promise((r) => setTimeout(r, 300));
    expect(viewLines()).toBe(bottom);
    screen.keys('k');
    await until(() => viewLines() !== bottom, `one line up after k\n${screen.capture()}`, 15_000);
    screen.keys('Tab');
    await screen.waitFor('─ Detail', 'back to the list');
    screen.keys('Tab');
    await screen.waitFor('Connections  2 open of 4', 'the connections view again');
    await until(() => /^#1 {2}open/.test(viewLines()), `the view at the top\n${screen.capture()}`, 15_000);
  });

  it('z folds closed channels (an error close stays in sight), and the help lists it', async () => {
    screen.keys('z');
    const folded = await screen.waitFor('+ 5 closed channels folded (z unfolds)', 'the folded line');
    expect(folded).toMatch(/ {4}7 +closed 404/);
    expect(folded).not.toMatch(/ {4}2 +closed /);
    screen.keys('z');
    await until(() => !screen.capture().includes('folded (z unfolds)') && / {4}2 +closed /.test(screen.capture()), `unfolded\n${screen.capture()}`, 15_000);
    screen.keys('?');
    await screen.waitFor('fold closed channels', 'the fold key in the help');
    screen.keys('Escape');
  });
});

(HAVE_TMUX ? describe : describe.skip)('a slow replay says where it is (tmux, real CLI)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-insight-'));
  const recording = path.join(tmp, 'slow.jsonl');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  beforeAll(async () => {
    // a session with a 1.5 s pause in it
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', recording]);
    try {
      await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
      const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${port}`);
      const ch = await conn.createChannel();
      await new Promise((r) => setTimeout(r, 1500));
      await ch.assertQueue('slow-replay', { durable: false });
      await ch.deleteQueue('slow-replay');
      await conn.close();
    } finally {
      cli.child.kill('SIGINT');
    }
    expect(await cli.exited).toBe(0);
  });

  it('--speed 0.1 shows "N/M events, next in X s" in the header, and q quits at once', async () => {
    const screen = new TmuxScreen();
    try {
      screen.start(['replay', recording, '--speed', '0.1'], 120, 24);
      // the pause, ten times slower: 15 s to wait, counted down
      const first = await screen.waitFor(/\d+\/\d+ events, next in \d+\.\d s/, 'the position and the wait');
      const [, done, total, wait] = /(\d+)\/(\d+) events, next in (\d+\.\d) s/.exec(first)!;
      expect(Number(done)).toBeLessThan(Number(total));
      expect(Number(wait)).toBeGreaterThan(1);
      await until(
        () => {
          const later = /next in (\d+\.\d) s/.exec(screen.capture());
          return later !== null && Number(later[1]) < Number(wait);
        },
        `the wait counting down\n${screen.capture()}`,
        15_000,
      );
      screen.keys('q');
      await until(() => screen.ready().includes('quit done, exit 0'), 'exit 0 after q', 5000);
    } finally {
      screen.stop();
    }
  }, 60_000);
});

(HAVE_TMUX ? describe : describe.skip)('the standalone broker says who may log in, and who was refused (tmux, real CLI)', () => {
  it('the header lists users (by name) and vhosts; a refused login is named on the status line', async () => {
    const screen = new TmuxScreen();
    try {
      screen.start(['--standalone', '--user', 'alice:wonder', '--user', 'bob:builder', '--vhost', '/', '--vhost', 'dev'], 140, 24);
      const header = await screen.waitFor('users alice, bob · vhosts /, dev', 'the users and vhosts in the header');
      expect(header).toContain(`standalone broker 127.0.0.1:${screen.port()} · users alice, bob · vhosts /, dev`);
      expect(header).not.toMatch(/wonder|builder/);
      const refused = await amqplib.connect(`amqp://carol:secret@127.0.0.1:${screen.port()}`).catch((e: unknown) => e as Error);
      expect(String(refused)).toContain("Login was refused using authentication mechanism PLAIN. No user 'carol' on this broker.");
      const status = await screen.waitFor("refused login of user 'carol'", 'the refusal on the status line');
      expect(statusLine(status)).toContain("connection #1: refused login of user 'carol': no user 'carol' on this broker (users: alice, bob)");
      screen.keys('q');
      await until(() => screen.ready().includes('quit done, exit 0'), 'exit 0 after q', 15_000);
    } finally {
      screen.stop();
    }
  });
});
