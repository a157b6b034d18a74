// The fault panel (F) in a real terminal: tmux runs the real CLI as a proxy in front of the
// built-in broker, and as the built-in broker itself (--standalone); an amqplib client keeps
// its connection open to it; a rule typed in the panel acts on that connection, a bad one is
// refused in one line, disarmed it acts no more, and a one-key action closes the selected
// event's connection, after a y.
import { spawnSync } from 'node:child_process';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

/** Whether a publish on a new confirm channel is confirmed, or the channel's close code. */
async function publishes(connection: amqp.ChannelModel, queue: string): Promise<number | 'ok'> {
  const channel = await connection.createConfirmChannel();
  let code: number | undefined;
  channel.on('error', (error: { code?: number }) => {
    code = error.code;
  });
  channel.publish('', queue, Buffer.from('x'));
  try {
    await channel.waitForConfirms();
    await channel.close();
    return 'ok';
  } catch {
    await until(() => code !== undefined, 'the channel error');
    return code!;
  }
}

(HAVE_TMUX ? describe : describe.skip)('the fault panel in a real terminal', () => {
  const screens: TmuxScreen[] = [];
  let broker: RunningBroker | undefined;
  afterAll(async () => {
    for (const screen of screens) screen.stop();
    await broker?.close();
  });

  it.each(['proxy', 'standalone'] as const)(
    '%s: arms a typed rule on an open connection, refuses a bad one, disarms it, and closes the connection with 320 after y',
    async (mode) => {
      const screen = new TmuxScreen();
      screens.push(screen);
      if (mode === 'proxy') {
        broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
        screen.start(['--upstream', `127.0.0.1:${broker.address.port}`], 120, 32);
        await screen.waitFor(`amqp-spy  proxy 127.0.0.1:${screen.port()}`, 'the proxy to listen');
      } else {
        screen.start(['--standalone'], 120, 32);
        await screen.waitFor(`amqp-spy  standalone broker 127.0.0.1:${screen.port()}`, 'the broker to listen');
      }
      const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${screen.port()}`);
      const closed = new Promise<unknown>((resolve) => connection.on('close', resolve));
      connection.on('error', () => {});
      await (await connection.createChannel()).assertQueue('jobs');
      expect(await publishes(connection, 'jobs')).toBe('ok');

      screen.keys('F');
      await screen.waitFor('Fault rules  (0; actions act on connection 1', 'the panel');
      await screen.waitFor('no rule armed: a arms one');
      // a bad rule: one line, nothing armed, the prompt stays for a fix
      screen.keys('a');
      await screen.waitFor('arm rule: ', 'the prompt');
      screen.type('explode');
      screen.keys('Enter');
      await screen.waitFor(`✗ rule 'explode': unknown action "explode"`, 'the refusal');
      screen.keys('Escape');
      // Esc then a at once would read as Alt+a: a person's keys come apart
      await until(() => !screen.capture().includes('arm rule:'), 'the prompt to close', 15_000);
      screen.keys('a');
      await screen.waitFor('arm rule: ', 'the prompt again');
      screen.type('close-channel=404 when method:basic.publish rk:jobs');
      screen.keys('Enter');
      const armed = await screen.waitFor(/ +1 +armed +0 +0 +close-channel=404 when method:basic.publish rk:jobs/, 'the rule armed');
      expect(armed).toContain('rule 1 armed');
      expect(await publishes(connection, 'jobs')).toBe(404);
      await screen.waitFor(/ +1 +armed +1 +1 +close-channel=404/, 'the rule to have fired once');
      // the injected close is in the list, in the fault colour (magenta)
      await until(
        () => /\x1b\[35m[^\n]*channel\.close[^\n]*404/.test(spawnSync('tmux', ['capture-pane', '-e', '-p', '-t', screen.name], { encoding: 'utf8' }).stdout),
        'the injected channel.close in magenta',
        15_000,
      );

      // Space disarms it: publishes succeed again; the panel says so
      screen.keys('Space');
      await screen.waitFor(/ +1 +disarmed +1 +1 +close-channel=404/, 'the rule disarmed');
      expect(await publishes(connection, 'jobs')).toBe('ok');

      // K asks first; n cancels, y closes the selected event's connection with 320
      screen.keys('K');
      await screen.waitFor('close connection 1 with 320 CONNECTION_FORCED? y/n', 'the question');
      screen.keys('n');
      await screen.waitFor('cancelled');
      screen.keys('K');
      await screen.waitFor('close connection 1 with 320 CONNECTION_FORCED? y/n', 'the question again');
      screen.keys('y');
      const error = await closed;
      expect(String(error)).toContain('CONNECTION_FORCED - Closed via management plugin');
      await screen.waitFor('connection 1: connection.close 320 CONNECTION_FORCED sent to the client', 'what was done');

      // Esc closes the panel; q quits
      screen.keys('Escape');
      await until(() => !screen.capture().includes('Fault rules  ('), 'the panel to close');
      screen.keys('q');
      await until(() => screen.ready().includes('quit done, exit 0'), 'the session to stop after q, exit 0', 15_000);
    },
  );
});
