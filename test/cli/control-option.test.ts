// --control through the real CLI: rules armed and removed over HTTP (Node's fetch) while an
// amqplib client's connection stays open, through the proxy to RabbitMQ and to the built-in
// broker (--standalone) alike; a bad rule changes nothing; one-shot actions on the live
// connection; the HTTP edges (404, 405, 413).
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The CLI as a proxy to `upstream` (or the built-in broker) with --control on a free port; `api(path, init)` calls it. */
async function proxyWithControl(upstream: string | 'standalone') {
  const port = await freePort();
  const controlPort = await freePort();
  const source = upstream === 'standalone' ? ['--standalone'] : ['--upstream', upstream];
  const cli = startCli([...source, '--listen', String(port), '--no-tui', '--control', String(controlPort)]);
  cleanups.push(() => cli.child.kill('SIGKILL'));
  await waitFor(() => cli.stderr().includes(upstream === 'standalone' ? 'built-in broker listening' : 'proxying'), `the spy to listen\n${cli.stderr()}`);
  expect(cli.stderr()).toContain(`amqp-spy: fault control on http://127.0.0.1:${controlPort}/faults\n`);
  const api = async (path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) => {
    const response = await fetch(`http://127.0.0.1:${controlPort}${path}`, init);
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  return { port, controlPort, cli, api };
}

describe('amqp-spy --control: usage', () => {
  it('a bad address: one line, exit 2', () => {
    const out = runCli(['--upstream', '127.0.0.1:1', '--listen', '0', '--no-tui', '--control', 'localhost:99999']);
    expect(out.status).toBe(2);
    expect(out.stderr.trim()).toMatch(/^amqp-spy: --control "localhost:99999": /);
  });

  it('a non-loopback address is taken when given, with a warning line', async () => {
    const port = await freePort();
    const controlPort = await freePort();
    const cli = startCli(['--upstream', '127.0.0.1:1', '--listen', String(port), '--no-tui', '--control', `0.0.0.0:${controlPort}`]);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
    expect(cli.stderr()).toContain(
      `amqp-spy: warning: the fault control API listens on 0.0.0.0:${controlPort} without authentication: whoever reaches it can break this session's traffic`,
    );
  });
});

interface Target {
  readonly name: string;
  /** the spy with --control, and the login its clients use */
  start(): Promise<{ port: number; api: Awaited<ReturnType<typeof proxyWithControl>>['api']; username: string; password: string }>;
  /** how the spy words a close-connection it acted out */
  readonly closedText: string;
}

const proxyTarget: Target = {
  name: 'the proxy to RabbitMQ',
  async start() {
    const { host, port: rabbitPort, username, password } = rabbitAddress();
    const { port, api } = await proxyWithControl(`${host}:${rabbitPort}`);
    return { port, api, username, password };
  },
  closedText: 'connection 1: connection.close 320 CONNECTION_FORCED sent to the client, the connection closed upstream',
};

const standaloneTarget: Target = {
  name: 'the built-in broker (--standalone)',
  async start() {
    const { port, api } = await proxyWithControl('standalone');
    return { port, api, username: 'guest', password: 'guest' };
  },
  closedText: 'connection 1: connection.close 320 CONNECTION_FORCED sent to the client',
};

function controlScenarios(target: Target): void {
  it('a rule armed mid-test acts on the open connection; removed, publishes succeed again; a bad rule changes nothing', async () => {
    const { port, api, username, password } = await target.start();
    const connection = await amqp.connect({ hostname: '127.0.0.1', port, username, password });
    cleanups.push(() => connection.close().catch(() => {}));
    const queue = `control-${process.pid}-${Date.now()}`;
    const setup = await connection.createChannel();
    await setup.assertQueue(queue, { autoDelete: true, durable: false });
    const publishes = async (): Promise<number | 'ok'> => {
      const channel = await connection.createConfirmChannel();
      let code: number | undefined;
      channel.on('error', (error: { code?: number }) => {
        code = error.code;
      });
      channel.publish('', queue, Buffer.from('hello'));
      try {
        await channel.waitForConfirms();
        await channel.close();
        return 'ok';
      } catch {
        await waitFor(() => code !== undefined, 'the channel error');
        return code!;
      }
    };
    expect(await publishes()).toBe('ok');

    const added = await api('/faults', { method: 'POST', body: `close-channel=404 when method:basic.publish rk:${queue}` });
    expect(added.status).toBe(201);
    const rule = (added.body['added'] as { id: number }[])[0]!;
    expect(rule).toMatchObject({ id: 1, state: 'armed', fired: 0 });
    expect(await publishes()).toBe(404);
    expect(await publishes()).toBe(404);
    expect((await api('/faults/1')).body['rule']).toMatchObject({ id: 1, matches: 2, fired: 2, state: 'armed' });

    // a bad rule in a list: 400 naming it, and the list as it was
    const before = await api('/faults');
    const bad = await api('/faults', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(['nack', { action: 'delay=soon' }]),
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      error: 'bad rule',
      reason: 'rule 2 \'delay=soon\': delay: "soon" is not a duration like 200ms, 5s or 2m; no rule was armed',
      rule: 'delay=soon',
    });
    expect(await api('/faults')).toEqual(before);

    // disarmed, it lets publishes through; re-armed, it acts again
    expect((await api('/faults/1/disarm', { method: 'POST' })).body['rule']).toMatchObject({ state: 'disarmed' });
    expect(await publishes()).toBe('ok');
    expect((await api('/faults/1/arm', { method: 'POST' })).body['rule']).toMatchObject({ state: 'armed' });
    expect(await publishes()).toBe(404);

    const removed = await api('/faults/1', { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(removed.body['faults']).toEqual([]);
    expect(await publishes()).toBe('ok');
    expect(await publishes()).toBe('ok');
    expect((await api('/faults/1', { method: 'DELETE' })).status).toBe(404);
    // the message that went through is in the queue: what passed was real
    expect((await setup.checkQueue(queue)).messageCount).toBe(4);
  });

  it('removing a block rule lifts the block: the client is told, and its held publish reaches the queue', async () => {
    const { port, api, username, password } = await target.start();
    const connection = await amqp.connect({ hostname: '127.0.0.1', port, username, password });
    cleanups.push(() => connection.close().catch(() => {}));
    const events: string[] = [];
    connection.on('blocked', () => events.push('blocked'));
    connection.on('unblocked', () => events.push('unblocked'));
    const queue = `control-block-${process.pid}-${Date.now()}`;
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue(queue, { autoDelete: true, durable: false });
    const rule = (await api('/faults', { method: 'POST', body: `block when method:basic.publish rk:${queue}` })).body['added'] as { id: number }[];
    let confirmed = false;
    channel.publish('', queue, Buffer.from('one'));
    channel.publish('', queue, Buffer.from('two'));
    const confirms = channel.waitForConfirms().then(() => {
      confirmed = true;
    });
    await waitFor(() => events.includes('blocked'), 'the blocked event');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(confirmed).toBe(false); // held: the broker never had the second publish
    expect((await api(`/faults/${rule[0]!.id}`, { method: 'DELETE' })).status).toBe(200);
    await confirms;
    expect(events).toEqual(['blocked', 'unblocked']);
    expect((await channel.checkQueue(queue)).messageCount).toBe(2);
  });

  it('one-shot actions on the live connection: block and unblock, then close it with 320', async () => {
    const { port, api, username, password } = await target.start();
    const connection = await amqp.connect({ hostname: '127.0.0.1', port, username, password });
    const events: string[] = [];
    connection.on('blocked', (reason: string) => events.push(`blocked ${reason}`));
    connection.on('unblocked', () => events.push('unblocked'));
    const closed = new Promise<{ code?: number } | undefined>((resolve) => connection.on('close', resolve));
    connection.on('error', () => {});
    await connection.createChannel();
    expect(await api('/connections/1/actions', { method: 'POST', body: '{"action": "block"}' })).toMatchObject({
      status: 200,
      body: { done: 'connection 1: blocked (connection.blocked sent)' },
    });
    await waitFor(() => events.length === 1, 'the blocked event');
    expect((await api('/connections/1/actions', { method: 'POST', body: '{"action": "block"}' })).body).toEqual({
      error: 'conflict',
      reason: 'connection 1 is blocked already',
    });
    expect((await api('/connections/1/actions', { method: 'POST', body: '{"action": "unblock"}' })).status).toBe(200);
    await waitFor(() => events.length === 2, 'the unblocked event');
    expect(events).toEqual(['blocked low on memory', 'unblocked']);
    expect((await api('/connections/1/actions', { method: 'POST', body: '{"action": "close-connection=320"}' })).body).toEqual({
      done: target.closedText,
    });
    const error = await closed;
    expect(String(error)).toContain('CONNECTION_FORCED - Closed via management plugin');
    expect((await api('/connections/9/actions', { method: 'POST', body: '{"action": "cut"}' })).status).toBe(404);
    expect((await api('/connections/1/actions', { method: 'POST', body: '{"action": "nack"}' })).status).toBe(400);
  });
}

describeWithRabbitMQ('amqp-spy --control: the proxy', () => controlScenarios(proxyTarget));
describe('amqp-spy --control: --standalone', () => controlScenarios(standaloneTarget));

describe('amqp-spy --control: the HTTP edges', () => {
  it('unknown routes 404, wrong methods 405 with Allow, bodies over 64 KiB 413, bad JSON 400', async () => {
    const { api, controlPort } = await proxyWithControl('127.0.0.1:1');
    expect((await api('/nothing')).status).toBe(404);
    expect((await api('/faults/abc')).status).toBe(404);
    const wrong = await api('/faults', { method: 'PUT' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST, DELETE');
    expect((await api('/faults/1/arm')).status).toBe(405);
    const large = await api('/faults', { method: 'POST', body: `nack when ${'x'.repeat(70_000)}` });
    expect(large).toMatchObject({ status: 413, body: { error: 'body too large' } });
    expect(await api('/faults', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"action": ' })).toMatchObject({
      status: 400,
      body: { error: 'bad request' },
    });
    // text: one rule a line, all or none
    const two = await api('/faults', { method: 'POST', body: 'nack when rk:a\n# a comment\ndrop-heartbeats when dir:c2s\n' });
    expect((two.body['added'] as unknown[]).length).toBe(2);
    expect((await api('/faults', { method: 'DELETE' })).body).toEqual({ removed: 2, faults: [] });
    expect(controlPort).toBeGreaterThan(0);
  });
});

describe('amqp-spy --control: --standalone acts on its own connections', () => {
  it('close-channel=406 on channel 1: the client gets 406 and the unacked delivery is back in its queue', async () => {
    const { port, api } = await proxyWithControl('standalone');
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    cleanups.push(() => connection.close().catch(() => {}));
    const channel = await connection.createChannel();
    let code: number | undefined;
    channel.on('error', (error: { code?: number }) => {
      code = error.code;
    });
    const { queue } = await channel.assertQueue('held');
    channel.sendToQueue(queue, Buffer.from('unacked'));
    let delivered = 0;
    await channel.consume(queue, () => {
      delivered++;
    });
    await waitFor(() => delivered === 1, 'the delivery');
    const other = await connection.createChannel(); // channel 2
    expect(await api('/connections/1/actions', { method: 'POST', body: '{"action": "close-channel=406", "channel": 1}' })).toMatchObject({
      status: 200,
      body: { done: 'connection 1: channel.close 406 PRECONDITION_FAILED sent on channel 1 (its unacked deliveries requeued)' },
    });
    await waitFor(() => code !== undefined, 'the channel error');
    expect(code).toBe(406);
    expect((await other.checkQueue(queue)).messageCount).toBe(1);
    // the channel is gone: a second close is refused
    expect(await api('/connections/1/actions', { method: 'POST', body: '{"action": "close-channel=406", "channel": 1}' })).toEqual({
      status: 409,
      headers: expect.anything(),
      body: { error: 'conflict', reason: 'connection 1 has no open channel 1' },
    });
  });

  it.each([
    ['cut', 'connection 1: cut (FIN to the client)'],
    ['reset', 'connection 1: reset (RST to the client)'],
  ])('%s: the client loses its connection at once', async (action, done) => {
    const { port, api } = await proxyWithControl('standalone');
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    connection.on('error', () => {});
    const closed = new Promise<unknown>((resolve) => connection.on('close', resolve));
    await connection.createChannel();
    expect((await api('/connections/1/actions', { method: 'POST', body: JSON.stringify({ action }) })).body).toEqual({ done });
    expect(String(await closed)).toMatch(/Unexpected close|ECONNRESET|socket/i);
    // a second one while the socket ends is refused; once it is gone the connection is unknown
    let status = 0;
    let reasons: unknown[] = [];
    const deadline = Date.now() + 5000;
    while (status !== 404 && Date.now() < deadline) {
      const again = await api('/connections/1/actions', { method: 'POST', body: JSON.stringify({ action }) });
      status = again.status;
      reasons.push(again.body['reason']);
    }
    expect(status).toBe(404);
    reasons = reasons.slice(0, -1);
    for (const reason of reasons) expect(reason).toBe('connection 1 is being cut');
  });

  it('removing a delay rule sends what it holds now', async () => {
    const { port, api } = await proxyWithControl('standalone');
    const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
    cleanups.push(() => connection.close().catch(() => {}));
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('slow');
    const added = await api('/faults', { method: 'POST', body: 'delay=60s when method:basic.publish' });
    const id = (added.body['added'] as { id: number }[])[0]!.id;
    let confirmed = false;
    channel.sendToQueue(queue, Buffer.from('late'));
    const confirms = channel.waitForConfirms().then(() => {
      confirmed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(confirmed).toBe(false);
    const started = Date.now();
    expect((await api(`/faults/${id}`, { method: 'DELETE' })).status).toBe(200);
    await confirms;
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await channel.checkQueue(queue)).messageCount).toBe(1);
  });
});
