// State a user needs at a glance, in a real terminal: tmux runs `amqp-spy --standalone`
// with a memory watermark so low that the first publish blocks its connection; amqplib
// publishes and consumes; the connections view (Tab) shows BLOCKED and for how long, and
// the consumer at its prefetch limit as FULL; the `blocked` filter lists what it held; and
// when the consumer's socket goes away, the close says what it left unacked.

import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/cli.js';
import { HAVE_TMUX, TmuxScreen } from '../support/tmux.js';
import { until } from './helpers.js';

(HAVE_TMUX ? describe : describe.skip)('TUI in a real terminal: a blocked connection and a full consumer (built-in broker)', () => {
  const screen = new TmuxScreen();
  const connections: amqp.ChannelModel[] = [];

  beforeAll(async () => {
    screen.start(['--standalone', '--max-memory', '1'], 120, 36);
    await screen.waitFor('amqp-spy  standalone broker', 'the broker to listen');
    const url = `amqp://guest:guest@127.0.0.1:${screen.port()}`;
    const consumer = await amqp.connect(url);
    const publisher = await amqp.connect(url);
    connections.push(consumer, publisher);
    let blocked = false;
    publisher.on('blocked', () => {
      blocked = true;
    });
    const sub = await consumer.createChannel();
    await sub.assertQueue('attention', { exclusive: true });
    await sub.prefetch(1);
    await sub.consume('attention', () => {});
    const pub = await publisher.createChannel();
    pub.sendToQueue('attention', Buffer.from('one'));
    await waitFor(() => blocked, 'the publisher to be blocked');
  });

  afterAll(async () => {
    for (const c of connections) await c.close().catch(() => {});
    screen.stop();
  });

  it('the connections view says BLOCKED, for how long, and the consumer is FULL 1/1', async () => {
    await screen.waitFor('connection.blocked', 'the blocked row');
    // the delivery's row says FULL before its long consumer tag, which the row may cut
    await screen.waitFor(/basic\.deliver +FULL 1\/1 consumer-tag=amq\.ctag-/, 'the delivery marked FULL');
    screen.keys('Tab');
    const view = await screen.waitFor(/BLOCKED \d/, 'BLOCKED in the connections view');
    expect(view).toMatch(/#2 {2}BLOCKED [\d.]+ (µs|ms|s) \(low on memory\) {2}open/);
    expect(view).toMatch(/^ {4}1 +open +1 +1 +1 FULL 1\/1/m);
    // the time it has been blocked goes on
    const first = /BLOCKED ([\d.]+ (?:µs|ms|s))/.exec(view)![1];
    await until(() => /BLOCKED ([\d.]+ (?:µs|ms|s))/.exec(screen.capture())?.[1] !== first, 'the blocked time to grow', 15_000);
    screen.keys('Tab');
    await screen.waitFor('─ Detail', 'back to the list');
  });

  it('the blocked filter lists connection.blocked; error finds it too', async () => {
    for (const term of ['blocked', 'error']) {
      screen.keys('/');
      screen.type(term);
      screen.keys('Enter');
      await screen.waitFor(`filter: ${term}`, `the ${term} filter`);
      const rows = () =>
        screen
          .capture()
          .split('\n')
          .filter((l) => /^\d\d:\d\d:\d\d\.\d{3} /.test(l));
      await until(
        () => rows().length === 1 && rows()[0]!.includes('connection.blocked reason="low on memory"'),
        `only connection.blocked listed\n${screen.capture()}`,
        15_000,
      );
      screen.keys('Escape');
      await until(() => !screen.capture().includes('filter:'), 'the filter cleared', 15_000);
    }
  });

  it('a consumer whose socket goes away closes with what it left unacked, in the list and the view', async () => {
    // its socket ends without connection.close, as when the process is killed
    const [consumer] = connections.splice(0, 1);
    consumer!.on('error', () => {});
    (consumer as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const list = await screen.waitFor(/connection closed \(client/, 'the close row');
    expect(list).toMatch(/#1 +connection closed \(client (closed the socket without connection\.close|reset the socket)/);
    // the row is cut at the terminal's width; the detail of the selected (last) row has it all
    expect(list).toMatch(/reason: client (closed the socket without connection\.close|reset the socket)\n +left: 1 delivery unacked/);
    screen.keys('Tab');
    const view = await screen.waitFor('Connections  1 open of 2', 'the connections view');
    expect(view).toMatch(/#1 {2}closed \(client (closed the socket without connection\.close|reset the socket)\), left 1 delivery unacked/);
    screen.keys('Tab');
    await screen.waitFor('─ Detail', 'back to the list');
  });
});
