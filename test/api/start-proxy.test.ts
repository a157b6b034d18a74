// The package API's proxy: startProxy() in front of the built-in broker (and RabbitMQ when
// AMQP_SPY_RABBITMQ_URL is set), seen by clients through its URL.

import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiOptionError, startBroker, startProxy, type SpySession } from '../../src/index.js';
import { RABBITMQ_URL, describeWithRabbitMQ } from '../support/rabbitmq.js';

const sessions: SpySession[] = [];
afterEach(async () => {
  // the proxy first, then what it fronts
  for (const s of sessions.splice(0).reverse()) await s.close();
});
async function track(session: Promise<SpySession>): Promise<SpySession> {
  const s = await session;
  sessions.push(s);
  return s;
}

describe('startProxy', () => {
  it('listens on a free port and sees both directions of a client of the built-in broker', async () => {
    const broker = await track(startBroker({ onNotice: () => {} }));
    const proxy = await track(startProxy({ upstream: `127.0.0.1:${broker.port}`, onNotice: () => {} }));
    expect(proxy.url).toBe(`amqp://127.0.0.1:${proxy.port}`);
    const connection = await amqp.connect(proxy.url);
    const channel = await connection.createChannel();
    await channel.assertQueue('jobs');
    const reply = await proxy.waitFor('method:queue.declare-ok dir:s2c');
    expect(reply.kind === 'frame' && reply.insight?.request?.name).toBe('queue.declare');
    await connection.close();
    await proxy.waitFor((e) => e.kind === 'conn.close');
  });

  it("an upstream URL's login and vhost carry over to the proxy's URL", async () => {
    const broker = await track(startBroker({ users: [{ name: 'ann', password: 'pw' }], vhosts: ['/', 'v1'], onNotice: () => {} }));
    const proxy = await track(startProxy({ upstream: `amqp://ann:pw@127.0.0.1:${broker.port}/v1`, listen: '127.0.0.1:0', onNotice: () => {} }));
    expect(proxy.url).toBe(`amqp://ann:pw@127.0.0.1:${proxy.port}/v1`);
    const connection = await amqp.connect(proxy.url);
    await connection.close();
    const open = await proxy.waitFor('method:connection.open');
    expect(open.kind === 'frame' && open.frame.type === 'method' && open.frame.method.args['virtual-host']).toBe('v1');
  });

  it('faults: a nack rule answers the first publish with basic.nack, marked injected; a bad rule arms none', async () => {
    const broker = await track(startBroker({ onNotice: () => {} }));
    const proxy = await track(startProxy({ upstream: `127.0.0.1:${broker.port}`, faults: ['nack when method:basic.publish times=1'], onNotice: () => {} }));
    const connection = await amqp.connect(proxy.url);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const outcome = (body: string) =>
      new Promise<string>((resolve) => channel.sendToQueue(queue, Buffer.from(body), {}, (error) => resolve(error ? 'nacked' : 'acked')));
    expect(await outcome('first')).toBe('nacked');
    expect(await outcome('second')).toBe('acked');
    const nack = await proxy.waitFor((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.nack');
    expect(nack.kind === 'frame' && nack.fault).toBe('injected');
    await connection.close();
    await expect(startProxy({ upstream: `127.0.0.1:${broker.port}`, faults: ['explode when method:basic.publish'] })).rejects.toMatchObject({
      name: 'FaultRuleError',
      message: expect.stringContaining("faults[0] 'explode when method:basic.publish': unknown action"),
    });
  });

  it('bad options: typed errors naming the option', async () => {
    await expect(startProxy({} as never)).rejects.toThrow(/^upstream: required/);
    await expect(startProxy({ upstream: 'http://x' })).rejects.toMatchObject({ name: 'AddressError', option: 'upstream' });
    await expect(startProxy({ upstream: 'x:1', listen: 'nope:99999' })).rejects.toMatchObject({ name: 'AddressError', option: 'listen' });
    await expect(startProxy({ upstream: 'x:1', upstreamCa: 'ca.pem' })).rejects.toBeInstanceOf(ApiOptionError);
    await expect(startProxy({ upstream: 'x:1', port: 1 } as never)).rejects.toThrow(/^port: unknown option of startProxy/);
  });
});

describeWithRabbitMQ('startProxy in front of RabbitMQ', () => {
  it('a client through the proxy publishes and consumes; waitFor sees the delivery', async () => {
    const proxy = await track(startProxy({ upstream: RABBITMQ_URL!, onNotice: () => {} }));
    const connection = await amqp.connect(proxy.url);
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('through the proxy'));
    await channel.consume(queue, () => {}, { noAck: true });
    const delivery = await proxy.waitFor(`method:basic.deliver rk:${queue}`);
    expect(delivery.kind === 'message' && Buffer.from(delivery.body).toString()).toBe('through the proxy');
    await connection.close();
  });
});
