// Who may log in from where, and into which vhost: guest only from this machine (RabbitMQ's
// loopback_users) unless --allow-remote-guest, and a user given vhosts is refused the others
// with RabbitMQ's 530 — the same answers as RabbitMQ's, checked against it when it is set up.

import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import type { BrokerOptions } from '../../src/broker/broker.js';
import { waitFor } from '../support/cli.js';
import { describeWithRabbitMQ, rabbitAddress } from '../support/rabbitmq.js';
import { RawClient } from './raw-client.js';

/** An address of this machine that is not loopback: connecting to it comes from it. */
function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
const REMOTE = nonLoopbackAddress();
const NO_REMOTE = 'skipped: this machine has no non-loopback IPv4 address to connect from';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function broker(options: Partial<BrokerOptions>, closes: string[] = []): Promise<RunningBroker> {
  const b = await startBroker({
    listen: { host: '127.0.0.1', port: 0 },
    observer: { onClose: (_id, reason) => closes.push(reason.detail ?? `${reason.by} ${reason.how}`) },
    onWarning: () => undefined,
    ...options,
  });
  cleanups.push(() => b.close());
  return b;
}

async function amqplibConnect(host: string, port: number, username: string, password: string, vhost = '/'): Promise<amqplib.ChannelModel> {
  const conn = await amqplib.connect({ hostname: host, port, username, password, vhost });
  conn.on('error', () => undefined);
  cleanups.push(() => conn.close().catch(() => undefined));
  return conn;
}

/** What both brokers say first; RabbitMQ then points to its logfile, the built-in broker gives the reason. */
const LOGIN_REFUSED = 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN.';

/** What RabbitMQ answers guest from another host: the login refusal that never says why. */
function guestFromElsewhere(port: () => number): void {
  it.skipIf(REMOTE === undefined)(
    `refuses guest from ${REMOTE ?? 'another address'} with 403, silently without authentication_failure_close${REMOTE === undefined ? ` (${NO_REMOTE})` : ''}`,
    async () => {
      await expect(amqplib.connect({ hostname: REMOTE!, port: port(), username: 'guest', password: 'guest' })).rejects.toThrow(
        `Handshake terminated by server: 403 (ACCESS-REFUSED) with message "${LOGIN_REFUSED}`,
      );
      const c = await RawClient.connect(port(), REMOTE!);
      cleanups.push(() => c.destroy());
      await expect(c.open()).rejects.toThrow(`got connection.close 403 ${LOGIN_REFUSED}`);
      const quiet = await RawClient.connect(port(), REMOTE!);
      cleanups.push(() => quiet.destroy());
      await expect(quiet.open({ capabilities: {} })).rejects.toThrow(/socket closed while waiting for connection.tune/);
      expect(quiet.frames.map((f) => f.type === 'method' && f.method.name)).toEqual(['connection.start']);
    },
  );
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
    await expect(amqplib.connect({ hostname: '127.0.0.1', port, username: user, password, vhost: '/' })).rejects.toThrow(
      'Expected ConnectionOpenOk; got <ConnectionClose channel:0>',
    );
    const c = await RawClient.connect(port);
    cleanups.push(() => c.destroy());
    await expect(c.open({ user, password })).rejects.toThrow(`got connection.close 530 ${text}`);
    const close = c.frames.find((f) => f.type === 'method' && f.method.name === 'connection.close');
    expect(close?.type === 'method' && [close.method.args['class-id'], close.method.args['method-id']]).toEqual([10, 40]);
  });
}

describe('access control, the built-in broker', () => {
  describe('guest from another host', () => {
    let b: RunningBroker;
    const closes: string[] = [];
    beforeAll(async () => {
      b = await startBroker({
        listen: { host: '0.0.0.0', port: 0 },
        users: [
          { name: 'guest', password: 'guest' },
          { name: 'ann', password: 'pw' },
        ],
        observer: { onClose: (_id, reason) => closes.push(reason.detail ?? `${reason.by} ${reason.how}`) },
        onWarning: () => undefined,
      });
    });
    afterAll(async () => {
      await b.close();
    });
    guestFromElsewhere(() => b.address.port);

    it.skipIf(REMOTE === undefined)(
      `says why in the spy's close reason; guest from 127.0.0.1 and other users from anywhere log in${REMOTE === undefined ? ` (${NO_REMOTE})` : ''}`,
      async () => {
        await waitFor(() => closes.length >= 3, 'the refused connections to close');
        expect(closes[0]).toBe("authentication failed: user 'guest' can only connect via localhost (--allow-remote-guest allows it) (403 sent)");
        await amqplibConnect('127.0.0.1', b.address.port, 'guest', 'guest');
        await amqplibConnect(REMOTE!, b.address.port, 'ann', 'pw');
      },
    );
  });

  it.skipIf(REMOTE === undefined)(`--allow-remote-guest lets guest in from anywhere${REMOTE === undefined ? ` (${NO_REMOTE})` : ''}`, async () => {
    const b = await broker({ listen: { host: '0.0.0.0', port: 0 }, allowRemoteGuest: true });
    const conn = await amqplibConnect(REMOTE!, b.address.port, 'guest', 'guest');
    await (await conn.createChannel()).close();
  });

  it('warns about guest on a public interface: refused remotely by default, accepted with --allow-remote-guest', async () => {
    const warnings: string[] = [];
    await broker({ listen: { host: '0.0.0.0', port: 0 }, onWarning: (m) => warnings.push(m) });
    await broker({ listen: { host: '0.0.0.0', port: 0 }, allowRemoteGuest: true, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([
      'listening on 0.0.0.0, but guest/guest logs in from this machine only, as in RabbitMQ; add --user name:password for other machines (or --allow-remote-guest)',
      'listening on 0.0.0.0, reachable from other machines, with guest/guest accepted from anywhere (--allow-remote-guest); add --user name:password to replace it',
    ]);
  });

  describe('per-user vhosts', () => {
    let b: RunningBroker;
    beforeAll(async () => {
      b = await startBroker({
        listen: { host: '127.0.0.1', port: 0 },
        vhosts: ['/', 'orders'],
        users: [
          { name: 'ann', password: 'pw', vhosts: ['orders'] },
          { name: 'bob', password: 'pw' },
        ],
      });
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
  guestFromElsewhere(() => rabbitAddress().port);

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
    vhostRefused(() =>
      created ? { port: rabbitAddress().port, user, password: 'pw' } : 'skipped: rabbitmqctl cannot create a user here (built-in broker only)',
    );
  });
});
