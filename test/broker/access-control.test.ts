// Which vhosts a user may open: a user given vhosts is refused the others with RabbitMQ's
// 530 — the same answer as RabbitMQ's, checked against it when it is set up.

import { execFileSync } from 'node:child_process';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { RawClient } from './raw-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function amqplibConnect(host: string, port: number, username: string, password: string, vhost = '/'): Promise<amqplib.ChannelModel> {
  const conn = await amqplib.connect({ hostname: host, port, username, password, vhost });
  conn.on('error', () => undefined);
  cleanups.push(() => conn.close().catch(() => undefined));
  return conn;
}

/** What RabbitMQ answers a user opening a vhost it has no access to. */
function vhostRefused(target: () => { port: number; user: string; password: string } | string): void {
  it("refuses a vhost the user may not open: 530 access to vhost '/' refused", async (ctx) => {
    const t = target();
    if (typeof t === 'string') return ctx.skip(t);
    const { port, user, password } = t;
    const text = `NOT_ALLOWED - access to vhost '/' refused for user '${user}'`;
    await expect(new AMQPClient(`amqp://${user}:${password}@127.0.0.1:${port}/%2F`).connect()).rejects.toThrow(`connection closed: ${text} (530)`);
    // amqplib does not read the close it gets for connection.open, from either broker
    await expect(amqplib.connect({ hostname: '127.0.0.1', port, username: user, password, vhost: '/' })).rejects.toThrow('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    const c = await RawClient.connect(port);
    cleanups.push(() => c.destroy());
    await expect(c.open({ user, password })).rejects.toThrow(`got connection.close 530 ${text}`);
    const close = c.frames.find((f) => f.type === 'method' && f.method.name === 'connection.close');
    expect(close?.type === 'method' && [close.method.args['class-id'], close.method.args['method-id']]).toEqual([10, 40]);
  });
}

describe('access control, the built-in broker', () => {
  describe('per-user vhosts', () => {
    let b: RunningBroker;
    beforeAll(async () => {
      b = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, vhosts: ['/', 'orders'], users: [{ name: 'ann', password: 'pw', vhosts: ['orders'] }, { name: 'bob', password: 'pw' }] });
    });
    afterAll(async () => {
      await b.close();
    });
    vhostRefused(() => ({ port: b.address.port, user: 'ann', password: 'pw' }));

    it('lets a user into its vhosts, and a user without a list into every vhost', async () => {
      await amqplibConnect('127.0.0.1', b.address.port, 'ann', 'pw', 'orders');
      await amqplibConnect('127.0.0.1', b.address.port, 'bob', 'pw', 'orders');
      await amqplibConnect('127.0.0.1', b.address.port, 'bob', 'pw', '/');
      // an unknown vhost is "not found" before access is checked, as in RabbitMQ
      const c = await RawClient.connect(b.address.port);
      cleanups.push(() => c.destroy());
      await expect(c.open({ user: 'ann', password: 'pw', vhost: 'nowhere' })).rejects.toThrow('got connection.close 530 NOT_ALLOWED - vhost nowhere not found');
    });
  });
});

describeWithRabbitMQ('access control', () => {
  describe('a user without permissions on /', () => {
    // rabbitmqctl must reach the broker; without it only the built-in broker is checked (visibly)
    const user = `amqp-spy-test-${process.pid}`;
    let created = false;
    beforeAll(() => {
      try {
        execFileSync('rabbitmqctl', ['add_user', user, 'pw'], { stdio: 'ignore', timeout: 60_000 });
        created = true;
      } catch {
        created = false;
      }
    }, 70_000);
    afterAll(() => {
      if (created) execFileSync('rabbitmqctl', ['delete_user', user], { stdio: 'ignore', timeout: 60_000 });
    }, 70_000);
    vhostRefused(() => (created ? { port: rabbitAddress().port, user, password: 'pw' } : 'skipped: rabbitmqctl cannot create a user here (built-in broker only)'));
  });
});
