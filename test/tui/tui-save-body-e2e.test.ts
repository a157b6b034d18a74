// The TUI's save key (w) in a real terminal (tmux) with the real CLI and the built-in broker:
// the selected message's body lands in a file in the current directory, the status line says
// where, a second save does not overwrite the first, and a row without a body says so.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

const BODY = JSON.stringify({ order: { id: 42, customer: 'Ada Lovelace' } });

/** The last line of the screen with text on it: the status line. */
function statusLine(screen: string): string {
  return screen.trimEnd().split('\n').at(-1) ?? '';
}

(HAVE_TMUX ? describe : describe.skip)('w saves the selected message body (tmux, real CLI)', () => {
  const screen = new TmuxScreen();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-save-'));
  beforeAll(async () => {
    // live --filter: the list starts filtered
    screen.start(['--standalone', '--filter', 'method:basic.publish'], 160, 30, cwd);
    await screen.waitFor('amqp-spy  standalone', 'the header');
    const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${screen.port()}`);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('save-body', { durable: false });
    ch.sendToQueue('save-body', Buffer.from(BODY), { contentType: 'application/json' });
    await ch.waitForConfirms();
    await conn.close();
    await until(() => /basic\.publish .*routing-key=save-body/.test(screen.capture()), `the publish listed\n${screen.capture()}`, 15_000);
  });
  afterAll(() => {
    screen.stop();
    fs.rmSync(cwd, { recursive: true, force: true });
  });

  it('the list starts with the live --filter in force', async () => {
    const shown = await screen.waitFor('filter: method:basic.publish', 'the filter in the header');
    const rows = shown.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('basic.publish');
  });

  it('writes c<conn>-ch<channel>-<event>.json into the current directory and says so', async () => {
    screen.keys('w');
    const shown = await screen.waitFor('saved the body', 'the save on the status line');
    const saved = fs.readdirSync(cwd);
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatch(/^c1-ch1-\d{6}\.json$/);
    expect(fs.readFileSync(path.join(cwd, saved[0]!), 'utf8')).toBe(BODY);
    expect(statusLine(shown)).toContain(`saved the body (${BODY.length} B) to ${path.join(cwd, saved[0]!)}`);
    // again: a new file beside it, never over it
    screen.keys('j');
    screen.keys('w');
    await until(() => fs.readdirSync(cwd).length === 2, `a second file\n${screen.capture()}`, 15_000);
    expect(fs.readdirSync(cwd)).toContain(saved[0]!.replace('.json', '-1.json'));
  });

  it('a row that is not a message says so and writes nothing', async () => {
    screen.keys('Escape');
    await until(() => !screen.capture().includes('filter: method:basic.publish'), `the filter cleared\n${screen.capture()}`, 15_000);
    screen.keys('G');
    screen.keys('w');
    await screen.waitFor('the selected row is not a message', 'the refusal');
    expect(fs.readdirSync(cwd)).toHaveLength(2);
  });
});
