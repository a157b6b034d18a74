// Links both ways in the real TUI (tmux, the real CLI, the built-in broker): a publish shows
// its confirm, a delivery its ack, an RPC request and its reply (direct reply-to, across two
// connections) each other; Enter on the publish jumps to its confirm.
import amqplib from 'amqplib';
import { describe, expect, it } from 'vitest';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

(HAVE_TMUX ? describe : describe.skip)('the TUI links both ways (tmux, real CLI)', () => {
  it('publish → confirmed, delivery → acked, RPC request ↔ reply, pending rows marked', async () => {
    const screen = new TmuxScreen();
    try {
      screen.start(['--standalone'], 200, 50);
      await screen.waitFor('amqp-spy  standalone broker', 'the header');
      const url = `amqp://guest:guest@127.0.0.1:${screen.port()}`;
      const server = await amqplib.connect(url);
      const serverCh = await server.createChannel();
      await serverCh.assertQueue('links-rpc', { durable: false });
      await serverCh.consume('links-rpc', (m) => {
        if (!m) return;
        serverCh.sendToQueue(m.properties.replyTo as string, Buffer.from('pong'), { correlationId: m.properties.correlationId as string });
        serverCh.ack(m);
      });
      const client = await amqplib.connect(url);
      const ch = await client.createConfirmChannel();
      const replies: string[] = [];
      await ch.consume(
        'amq.rabbitmq.reply-to',
        (m) => {
          if (m) replies.push(m.content.toString());
        },
        { noAck: true },
      );
      ch.sendToQueue('links-rpc', Buffer.from('ping'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'corr-links' });
      await ch.waitForConfirms();
      await until(() => replies.length === 1, 'the RPC reply');
      // a delivery left unacked: the row says so
      await serverCh.assertQueue('links-unacked', { durable: false });
      await ch.sendToQueue('links-unacked', Buffer.from('left'));
      await ch.waitForConfirms();
      const held = await serverCh.get('links-unacked');
      expect(held).not.toBe(false);
      const shown = await screen.waitFor(/get-ok[^\n]*→ unacked/, 'the unacked get-ok');
      expect(shown).toMatch(/C→S ch1\s+basic\.publish routing-key=links-rpc[^\n]*→ confirmed, RPC answered/);
      expect(shown).toMatch(/S→C ch1\s+basic\.deliver [^\n]*routing-key=links-rpc[^\n]*→ ack/);
      expect(shown).toMatch(/C→S ch1\s+basic\.publish [^\n]*routing-key=amq\.rabbitmq\.reply-to\.[^\n]*→ RPC reply/);
      // Enter on the request's publish jumps to its confirm
      screen.keys('g');
      screen.type('s');
      screen.type('rk:links-rpc method:basic.publish');
      screen.keys('Enter');
      await screen.waitFor(/RPC request: answered by event \d+ \(correlation-id corr-links\)/, 'the request selected, its RPC partner in the detail');
      screen.keys('Enter');
      await screen.waitFor(/jumped to its confirm, event \d+/, 'the jump to the confirm');
      await client.close();
      await server.close();
      screen.keys('q');
      await until(() => screen.ready().includes('quit done, exit 0'), 'exit 0 after q', 15_000);
    } finally {
      screen.stop();
    }
  }, 60_000);
});
