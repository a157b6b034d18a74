// `session.faults` of startProxy and startBroker: rules armed, disarmed and removed from test
// code while an amqplib client's connection stays open, through the proxy (the built-in broker
// upstream) or to the built-in broker itself.

import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultInputError, startBroker, startProxy, type SpySession } from '../../src/index.js';

const sessions: SpySession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0).reverse()) await s.close();
});

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
    while (code === undefined) await new Promise((r) => setTimeout(r, 5));
    return code;
  }
}

describe('session.faults', () => {
  it('with faults: [], a rule added later acts on a connection already open; removed, it acts no more', async () => {
    const broker = await startBroker({ onNotice: () => {} });
    sessions.push(broker);
    const proxy = await startProxy({ upstream: `127.0.0.1:${broker.port}`, faults: [], onNotice: () => {} });
    sessions.push(proxy);
    const connection = await amqp.connect(proxy.url);
    await (await connection.createChannel()).assertQueue('jobs');
    expect(await publishes(connection, 'jobs')).toBe('ok');
    const [rule] = proxy.faults.add({ action: 'close-channel=404', when: 'method:basic.publish rk:jobs' });
    expect(rule).toMatchObject({ id: 1, rule: 'close-channel=404 when method:basic.publish rk:jobs', state: 'armed' });
    expect(await publishes(connection, 'jobs')).toBe(404);
    expect(proxy.faults.disarm(1)).toMatchObject({ state: 'disarmed' });
    expect(await publishes(connection, 'jobs')).toBe('ok');
    expect(proxy.faults.arm(1)).toMatchObject({ state: 'armed' });
    expect(await publishes(connection, 'jobs')).toBe(404);
    expect(proxy.faults.remove(1)).toBe(true);
    expect(await publishes(connection, 'jobs')).toBe('ok');
    expect(proxy.faults.list()).toEqual([]);
    expect(() => proxy.faults.add(['nack', 'close-channel=1'])).toThrow(FaultInputError);
    expect(proxy.faults.list()).toEqual([]);
    expect(proxy.faults.act(1, 'close-connection=320')).toBe(
      'connection 1: connection.close 320 CONNECTION_FORCED sent to the client, the connection closed upstream',
    );
    await proxy.waitFor('method:connection.close-ok dir:s2c');
  });

  it('without the faults option, rules act on connections opened after the first one is added', async () => {
    const broker = await startBroker({ onNotice: () => {} });
    sessions.push(broker);
    const proxy = await startProxy({ upstream: `127.0.0.1:${broker.port}`, onNotice: () => {} });
    sessions.push(proxy);
    const before = await amqp.connect(proxy.url);
    await (await before.createChannel()).assertQueue('jobs');
    proxy.faults.add('close-channel=404 when method:basic.publish');
    expect(await publishes(before, 'jobs')).toBe('ok'); // relayed, not looked at
    const after = await amqp.connect(proxy.url);
    expect(await publishes(after, 'jobs')).toBe(404);
    await before.close();
    await after.close();
  });

  it('a nack rule added later: the client gets basic.nack for the publish it chose', async () => {
    const broker = await startBroker({ onNotice: () => {} });
    sessions.push(broker);
    const proxy = await startProxy({ upstream: `127.0.0.1:${broker.port}`, onNotice: () => {} });
    sessions.push(proxy);
    proxy.faults.add('nack when method:basic.publish rk:jobs times=1');
    const connection = await amqp.connect(proxy.url);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('jobs');
    const outcomes = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<string>((resolve) => {
            channel.publish('', 'jobs', Buffer.from('x'), {}, (error) => resolve(error ? 'nacked' : 'acked'));
          }),
      ),
    );
    expect(outcomes).toEqual(['nacked', 'acked']);
    expect(proxy.faults.list()[0]).toMatchObject({ state: 'spent', fired: 1, timesLeft: 0 });
    await connection.close();
  });

  it('startBroker: the same session.faults, acted out by the broker itself', async () => {
    const broker = await startBroker({ onNotice: () => {} });
    sessions.push(broker);
    const connection = await amqp.connect(broker.url);
    const events: string[] = [];
    connection.on('blocked', () => events.push('blocked'));
    connection.on('unblocked', () => events.push('unblocked'));
    const closed = new Promise<unknown>((resolve) => connection.on('close', resolve));
    connection.on('error', () => {});
    await (await connection.createChannel()).assertQueue('jobs');
    const [rule] = broker.faults.add({ action: 'close-channel=404', when: 'method:basic.publish rk:jobs' });
    expect(rule).toMatchObject({ id: 1, rule: 'close-channel=404 when method:basic.publish rk:jobs', state: 'armed' });
    expect(await publishes(connection, 'jobs')).toBe(404);
    expect(broker.faults.disarm(1)).toMatchObject({ state: 'disarmed', fired: 1 });
    expect(await publishes(connection, 'jobs')).toBe('ok');
    expect(broker.faults.arm(1)).toMatchObject({ state: 'armed' });
    expect(await publishes(connection, 'jobs')).toBe(404);
    expect(broker.faults.disarm(9)).toBeUndefined();
    expect(() => broker.faults.add(['nack', 'close-channel=1'])).toThrow(FaultInputError);
    expect(broker.faults.list().map((r) => r.id)).toEqual([1]);
    expect(broker.faults.clear()).toBe(1);
    expect(await publishes(connection, 'jobs')).toBe('ok');
    expect(broker.faults.act(1, 'block')).toBe('connection 1: blocked (connection.blocked sent)');
    expect(() => broker.faults.act(1, 'block')).toThrow('connection 1 is blocked already');
    expect(broker.faults.act(1, 'unblock')).toBe('connection 1: unblocked');
    expect(() => broker.faults.act(7, 'cut')).toThrow(expect.objectContaining({ name: 'ConnectionActionError', status: 404 }));
    expect(() => broker.faults.act(1, 'close-channel=406')).toThrow(FaultInputError);
    while (events.length < 2) await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual(['blocked', 'unblocked']);
    expect(broker.faults.act(1, 'close-connection=320')).toBe('connection 1: connection.close 320 CONNECTION_FORCED sent to the client');
    expect(String(await closed)).toContain('CONNECTION_FORCED - Closed via management plugin');
  });
});
