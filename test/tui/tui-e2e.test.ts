// The TUI in a real terminal: tmux runs the real CLI (dist/cli.js, a proxy session),
// keys go in with send-keys, and the assertions read the screen with capture-pane.
// The part that drives traffic with amqplib needs RabbitMQ (AMQP_SPY_RABBITMQ_URL).

import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAgainstBrokers, type BrokerTarget } from '../support/brokers.js';
import { until } from './helpers.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';

/** Rows of the list (lines starting with a time). */
function listRows(screen: string): string[] {
  return screen.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
}

function detailOf(screen: string): string {
  const lines = screen.split('\n');
  return lines.slice(lines.findIndex((l) => l.startsWith('─ Detail'))).join('\n');
}

if (!HAVE_TMUX) describe.skip('TUI in a real terminal (skipped: tmux is not installed)', () => {});

(HAVE_TMUX ? describe : describe.skip)('TUI in a real terminal, no traffic', () => {
  const screen = new TmuxScreen();
  afterAll(() => screen.stop());

  it('draws at 80x24, shows the help for ?, and quits with q', async () => {
    // an upstream nobody listens on: the proxy starts anyway, connections would fail
    screen.start(['--upstream', '127.0.0.1:9'], 80, 24);
    const first = await screen.waitFor('amqp-spy  proxy 127.0.0.1:', 'the header');
    expect(first).toContain('● FOLLOWING');
    expect(first).toContain('waiting for traffic');
    for (const line of first.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    screen.keys('?');
    const help = await screen.waitFor('Keys  (? or Esc closes this help', 'the help screen');
    expect(help).toContain('previous row (stops following)');
    expect(help).toMatch(/↑↓ scroll, \d+ of \d+/);
    screen.keys('Escape');
    await screen.waitFor('waiting for traffic', 'back to the list');
    screen.keys('q');
    await until(() => screen.ready().includes('quit done, exit 0'), 'the session to stop after q, exit 0', 15_000);
  });
});

function suiteWithTraffic(target: () => BrokerTarget): void {
  const screen = new TmuxScreen();
  let connection: amqp.ChannelModel | undefined;
  let connectionClosed = false;
  const queue = `tui-e2e-${process.pid}`;

  beforeAll(async () => {
    const { host, port } = target();
    screen.start(['--upstream', `${host}:${port}`], 120, 30);
    await screen.waitFor(`amqp-spy  proxy 127.0.0.1:${screen.port()}`, 'the proxy to listen');
    await screen.waitFor('amqp-spy  proxy', 'the header');
    const { username, password } = target();
    connection = await amqp.connect(`amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${screen.port()}`, {
      clientProperties: { connection_name: 'tui-e2e-client' },
    });
    connection.on('error', () => {});
    connection.on('close', () => {
      connectionClosed = true;
    });
    const channel = await connection.createConfirmChannel();
    await channel.prefetch(5);
    await channel.assertQueue(queue, { exclusive: true, arguments: { 'x-max-length': 100 } });
    for (let i = 0; i < 3; i++) channel.sendToQueue(queue, Buffer.from(JSON.stringify({ order: i, item: 'book' })), { contentType: 'application/json' });
    await channel.waitForConfirms();
    let received = 0;
    await channel.consume(queue, (message) => {
      if (!message) return;
      received++;
      channel.ack(message);
    });
    await until(() => received === 3, 'three deliveries');
    // a publish to a missing exchange: the broker closes the channel with 404
    const doomed = await connection.createChannel();
    doomed.on('error', () => {});
    doomed.publish(`missing-${process.pid}`, 'x', Buffer.from('x'));
    await screen.waitFor(/channel\.close reply-code=404/, 'the 404 close');
  });

  afterAll(async () => {
    await connection?.close().catch(() => {});
    screen.stop();
  });

  it('lists frames and messages with direction, channel, method and arguments, errors included', async () => {
    const shown = await screen.waitFor('basic.deliver', 'deliveries');
    expect(shown).toMatch(/1 conn │ C→S/);
    const rows = listRows(shown);
    expect(rows.some((r) => / C→S ch\d+ +basic\.ack delivery-tag=\d/.test(r))).toBe(true);
    expect(rows.some((r) => / S→C ch\d+ +channel\.close reply-code=404/.test(r))).toBe(true);
    expect(shown).toMatch(/─ Detail event \d+/);
  });

  it('moves to the first row with g (no longer following) and down with j', async () => {
    screen.keys('g');
    const top = await screen.waitFor('SCROLLED', 'the scrolled state');
    expect(detailOf(top)).toContain('Connection opened');
    screen.keys('j');
    const next = await screen.waitFor(/─ Detail event \d+.*\n(?!Connection opened)/, 'the next row selected');
    expect(detailOf(next)).toContain('Protocol header');
    screen.keys('f');
    await screen.waitFor('● FOLLOWING', 'following again');
  });

  it('filters with / live and clears with Esc', async () => {
    screen.keys('/');
    screen.type('method:basic.deliver');
    screen.keys('Enter');
    const filtered = await screen.waitFor('filter: method:basic.deliver', 'the filter in the header');
    await until(() => listRows(screen.capture()).length === 3, `three deliveries listed\n${screen.capture()}`, 15_000);
    expect(listRows(screen.capture()).every((r) => r.includes('basic.deliver'))).toBe(true);
    expect(filtered).toContain('3 of');
    screen.keys('Escape');
    await until(() => !screen.capture().includes('filter:') && listRows(screen.capture()).length > 3, 'the filter cleared', 15_000);
  });

  it('jumps from an ack to its delivery with Enter', async () => {
    screen.keys('g', 's');
    screen.type('method:basic.ack dir:c2s');
    screen.keys('Enter');
    await screen.waitFor('delivery acked', 'an ack selected');
    screen.keys('Enter');
    const jumped = await screen.waitFor('jumped to delivery acked', 'the jump');
    expect(detailOf(jumped)).toContain('basic.deliver message');
    expect(detailOf(jumped)).toMatch(/delivery-tag: 1 {2}longlong/);
  });

  it('shows the connection with client, user and channels on Tab', async () => {
    screen.keys('Tab');
    const view = await screen.waitFor('Connections  1 open', 'the connections view');
    // the name the client gave its connection says which service it is
    expect(view).toMatch(/"tui-e2e-client" {2}amqplib \d+\.\d+\.\d+/);
    expect(view).toContain(`user ${target().username}`);
    expect(view).toMatch(/CH\s+STATE\s+CONSUMERS/);
    screen.keys('Tab');
    await screen.waitFor('─ Detail', 'back to the list');
  });

  it('quits with q: closes the client connection and stops the session', async () => {
    screen.keys('q');
    await until(() => screen.ready().includes('quit done, exit 0'), 'the session to stop with exit 0', 15_000);
    await until(() => connectionClosed, 'the client connection to be closed by the proxy', 15_000);
  });
}

if (HAVE_TMUX) describeAgainstBrokers('TUI in a real terminal, amqplib through the proxy to', suiteWithTraffic);
else describe.skip('TUI in a real terminal, amqplib through the proxy (skipped: tmux is not installed)', () => {});
