// What a client can hold without finishing its handshake: idle and half-handshake sockets are
// closed after the handshake timeout (RabbitMQ's handshake_timeout), and --max-connections
// refuses connection.open beyond the limit with RabbitMQ's 530, while real clients keep working.

import { AMQPClient } from '@cloudamqp/amqp-client';
import amqplib from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { fieldTable } from '../../src/decoder/field-table.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import type { BrokerOptions } from '../../src/broker/broker.js';
import { waitFor } from '../support/cli.js';
import { RawClient } from './raw-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function broker(options: Partial<BrokerOptions>, closes: string[] = []): Promise<RunningBroker> {
  const b = await startBroker({
    listen: { host: '127.0.0.1', port: 0 },
    observer: { onClose: (_id, reason) => closes.push(reason.detail ?? `${reason.by} ${reason.how}`) },
    ...options,
  });
  cleanups.push(() => b.close());
  return b;
}

async function raw(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  cleanups.push(() => c.destroy());
  return c;
}

async function amqplibConnect(port: number): Promise<amqplib.ChannelModel> {
  const conn = await amqplib.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest' });
  conn.on('error', () => undefined);
  cleanups.push(() => conn.close().catch(() => undefined));
  return conn;
}

/** Header, start-ok and tune-ok, but never connection.open. */
async function stopBeforeOpen(c: RawClient): Promise<void> {
  c.write(encodeProtocolHeader());
  await c.expectMethod('connection.start');
  c.send(0, 'connection.start-ok', { 'client-properties': fieldTable({}), mechanism: 'PLAIN', response: '\u0000guest\u0000guest', locale: 'en_US' });
  await c.expectMethod('connection.tune');
  c.send(0, 'connection.tune-ok', { 'channel-max': 16, 'frame-max': 131072, heartbeat: 0 });
}

describe('handshake timeout', () => {
  it('closes 50 idle and half-handshake connections after the timeout; a real client connects and keeps working', async () => {
    const closes: string[] = [];
    // short enough for a test, long enough for amqplib's handshake on a loaded machine
    const b = await broker({ handshakeTimeout: 1000 }, closes);
    const port = b.address.port;
    const header = encodeProtocolHeader();
    const stalls: Array<[string, (c: RawClient) => Promise<void> | void]> = [
      ['nothing received', () => undefined],
      ['3 bytes received, not a whole protocol header', (c) => c.write(Buffer.from('AMQ'))],
      ['stopped in connection state starting', (c) => c.write(header)],
      ['stopped in connection state starting', (c) => c.write(Buffer.concat([header, Buffer.from([1, 0, 0])]))],
      ['stopped in connection state opening', stopBeforeOpen],
    ];
    const idle: RawClient[] = [];
    for (let i = 0; i < 50; i++) {
      const c = await raw(port);
      await stalls[i % stalls.length]![1](c);
      idle.push(c);
    }
    const conn = await amqplibConnect(port);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });

    for (const c of idle) await c.waitForEnd();
    expect(idle.every((c) => c.ended)).toBe(true);
    // the broker sees each close in its own turn
    await waitFor(() => closes.length >= 50, 'the broker to see 50 closes');
    const timeouts = closes.filter((r) => r.startsWith('handshake timeout: no connection.open within 1000 ms'));
    expect(timeouts).toHaveLength(50);
    for (const [where] of stalls) expect(timeouts.filter((r) => r.endsWith(`(${where})`)).length).toBeGreaterThanOrEqual(10);
    // the open connection was never touched by the timer
    ch.sendToQueue(queue, Buffer.from('still here'));
    let got: false | amqplib.GetMessage = false;
    while (got === false) got = await ch.get(queue, { noAck: true });
    expect(got.content.toString()).toBe('still here');
    expect(b.connectionCount).toBe(1);
  });

  it('0 turns the timeout off', async () => {
    const b = await broker({ handshakeTimeout: 0 });
    expect(b.broker.handshakeTimeout).toBe(0);
    await expect(startBroker({ listen: { host: '127.0.0.1', port: 0 }, handshakeTimeout: -1 })).rejects.toThrow(
      '--handshake-timeout: expected an integer from 0 to 2147483647, got -1',
    );
  });
});

describe('--max-connections', () => {
  it("refuses connection.open beyond the limit with RabbitMQ's 530 and accepts again once one closes", async () => {
    const b = await broker({ maxConnections: 2 });
    const port = b.address.port;
    const first = await amqplibConnect(port);
    await amqplibConnect(port);
    // a client that reads the close says why (amqplib only says it got connection.close, for RabbitMQ's refusals too)
    await expect(new AMQPClient(`amqp://guest:guest@127.0.0.1:${port}`).connect()).rejects.toThrow(
      'connection closed: NOT_ALLOWED - connection refused: node connection limit (2) is reached (530)',
    );
    await expect(amqplib.connect({ hostname: '127.0.0.1', port })).rejects.toThrow('Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    // what the refusal is on the wire: connection.close for connection.open (10/40)
    const c = await raw(port);
    await expect(c.open()).rejects.toThrow('got connection.close 530 NOT_ALLOWED - connection refused: node connection limit (2) is reached');
    const close = c.frames.find((f) => f.type === 'method' && f.method.name === 'connection.close');
    expect(close?.type === 'method' && [close.method.args['class-id'], close.method.args['method-id']]).toEqual([10, 40]);
    await c.waitForEnd();

    await first.close();
    const again = await amqplibConnect(port);
    await (await again.createChannel()).close();
  });

  it('counts every accepted socket, handshake or not, as RabbitMQ does', async () => {
    const b = await broker({ maxConnections: 1 });
    const idle = await raw(b.address.port);
    await expect(new AMQPClient(`amqp://guest:guest@127.0.0.1:${b.address.port}`).connect()).rejects.toThrow(/node connection limit \(1\) is reached/);
    idle.destroy();
    await idle.waitForEnd();
    await waitFor(() => b.connectionCount === 0, 'the broker to see the close');
    await amqplibConnect(b.address.port);
  });
});
