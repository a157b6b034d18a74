// `--metrics`: the real CLI (a proxy in front of each broker) serves Prometheus text that a
// real parser reads, with values that match a scripted amqplib scenario: publishes confirmed
// and returned, deliveries acked, nacked, rejected and left unacked, a 404 channel error,
// request/reply latencies, and per-connection gauges labelled by the client's connection_name.

import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAgainstBrokers, type BrokerTarget } from '../support/brokers.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { HAVE_PROMETHEUS_PARSER, Scrape } from '../support/prometheus.js';

async function scrape(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return new Scrape(await response.text());
}

function suite(target: () => BrokerTarget): void {
  let proxy: ReturnType<typeof startCli>;
  let metricsPort = 0;
  let listenPort = 0;
  const queue = `metrics-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let publisher: amqp.ChannelModel;
  let worker: amqp.ChannelModel;

  beforeAll(async () => {
    const { host, port } = target();
    listenPort = await freePort();
    metricsPort = await freePort();
    proxy = startCli(['--upstream', `${host}:${port}`, '--listen', String(listenPort), '--no-tui', '--metrics', String(metricsPort)]);
    await waitFor(() => proxy.stderr().includes('proxying'), `the proxy to listen\n${proxy.stderr()}`);
    expect(proxy.stderr()).toContain(`metrics on http://127.0.0.1:${metricsPort}/metrics`);
  });

  afterAll(async () => {
    await publisher?.close().catch(() => {});
    await worker?.close().catch(() => {});
    proxy.child.kill('SIGINT');
    await proxy.exited;
  });

  it('counts what a scripted scenario did, as Prometheus text a real parser reads', async () => {
    const { username, password } = target();
    const url = `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@127.0.0.1:${listenPort}`;
    publisher = await amqp.connect(url, { clientProperties: { connection_name: 'orders-service' } });
    worker = await amqp.connect(url, { clientProperties: { connection_name: 'billing-worker' } });

    // 10 publishes confirmed, and one unroutable mandatory publish: returned, then confirmed
    const confirms = await publisher.createConfirmChannel();
    await confirms.assertQueue(queue, { exclusive: false, autoDelete: false });
    for (let i = 0; i < 10; i++) confirms.sendToQueue(queue, Buffer.from(`m${i}`));
    confirms.publish('', `no-such-queue-${process.pid}`, Buffer.from('lost'), { mandatory: true });
    await confirms.waitForConfirms();

    // deliveries: 5 acked, 2 nacked, 1 rejected, 2 left unacked
    const consumer = await worker.createChannel();
    await consumer.prefetch(10);
    const received: amqp.ConsumeMessage[] = [];
    await consumer.consume(queue, (m) => {
      if (m) received.push(m);
    });
    await waitFor(() => received.length === 10, 'ten deliveries');
    for (const m of received.slice(0, 5)) consumer.ack(m);
    for (const m of received.slice(5, 7)) consumer.nack(m, false, false);
    consumer.reject(received[7]!, false);

    // a channel closed with 404 NOT_FOUND
    const doomed = await publisher.createChannel();
    doomed.on('error', () => {});
    const closed = new Promise((resolve) => doomed.once('close', resolve));
    doomed.publish(`no-such-exchange-${process.pid}`, 'x', Buffer.from('x'));
    await closed;

    const expected = (s: Scrape) =>
      s.value('amqp_spy_messages_total', { outcome: 'acked' }) === 5 &&
      s.value('amqp_spy_errors_total', { reply_code: '404' }) === 1 &&
      s.value('amqp_spy_messages_total', { outcome: 'rejected' }) === 1;
    let s = await scrape(metricsPort);
    for (let i = 0; i < 100 && !expected(s); i++) {
      await new Promise((r) => setTimeout(r, 50));
      s = await scrape(metricsPort);
    }

    expect(s.family('amqp_spy_messages').type).toBe('counter');
    // the publish the 404 answered was published too
    expect(s.value('amqp_spy_messages_total', { outcome: 'published' })).toBe(12);
    expect(s.value('amqp_spy_messages_total', { outcome: 'confirmed' })).toBe(11);
    expect(s.value('amqp_spy_messages_total', { outcome: 'returned' })).toBe(1);
    expect(s.value('amqp_spy_messages_total', { outcome: 'delivered' })).toBe(10);
    expect(s.value('amqp_spy_messages_total', { outcome: 'acked' })).toBe(5);
    expect(s.value('amqp_spy_messages_total', { outcome: 'nacked' })).toBe(2);
    expect(s.value('amqp_spy_messages_total', { outcome: 'rejected' })).toBe(1);
    expect(s.value('amqp_spy_errors_total', { reply_code: '404', reply_name: 'NOT_FOUND', scope: 'channel' })).toBe(1);

    expect(s.value('amqp_spy_connections')).toBe(2);
    expect(s.value('amqp_spy_connections_opened_total')).toBe(2);
    // confirms, doomed (closed by the 404), consumer
    expect(s.value('amqp_spy_channels_opened_total')).toBe(3);
    expect(s.value('amqp_spy_channels_closed_total')).toBe(1);
    expect(s.value('amqp_spy_channels')).toBe(2);

    // per connection, by the name the client gave
    expect(s.value('amqp_spy_connection_unacked', { connection_name: 'billing-worker' })).toBe(2);
    expect(s.value('amqp_spy_connection_unacked', { connection_name: 'orders-service' })).toBe(0);
    expect(s.value('amqp_spy_connection_unconfirmed', { connection_name: 'orders-service' })).toBe(0);
    expect(s.samples('amqp_spy_connection_unacked').map((m) => m.labels.client)).toEqual([
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    ]);

    // frames and bytes by direction and method: 11 publishes, each with its header and body frame
    expect(s.value('amqp_spy_frames_total', { direction: 'c2s', method: 'basic.publish' })).toBe(12);
    expect(s.value('amqp_spy_frames_total', { direction: 's2c', method: 'basic.deliver' })).toBe(10);
    expect(s.value('amqp_spy_frames_total', { direction: 's2c', method: 'basic.return' })).toBe(1);
    expect(s.value('amqp_spy_bytes_total', { direction: 'c2s', method: 'protocol-header' })).toBe(16);
    expect(s.value('amqp_spy_bytes_total', { direction: 'c2s', method: 'content-body' })).toBeGreaterThanOrEqual(10 * 2 + 4);

    // request → reply latencies, by request
    expect(s.family('amqp_spy_reply_latency_seconds').type).toBe('histogram');
    expect(s.value('amqp_spy_reply_latency_seconds_count', { method: 'queue.declare' })).toBe(1);
    expect(s.value('amqp_spy_reply_latency_seconds_count', { method: 'connection.open' })).toBe(2);
    expect(s.value('amqp_spy_reply_latency_seconds_bucket', { method: 'connection.open', le: '+Inf' })).toBe(2);
    expect(s.value('amqp_spy_reply_latency_seconds_sum', { method: 'connection.open' })).toBeGreaterThan(0);

    // the unacked deliveries go back to the queue with the connection; the gauges leave with it
    await worker.close();
    await publisher.close();
    let after = await scrape(metricsPort);
    for (let i = 0; i < 100 && after.value('amqp_spy_connections') !== 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await scrape(metricsPort);
    }
    expect(after.value('amqp_spy_connections')).toBe(0);
    expect(after.value('amqp_spy_connections_closed_total')).toBe(2);
    expect(after.value('amqp_spy_channels')).toBe(0);
    expect(after.samples('amqp_spy_connection_unacked')).toHaveLength(0);

    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    expect((await fetch(`http://127.0.0.1:${metricsPort}/nope`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).toBe(405);

    // clean up the queue on the broker
    const cleanup = await amqp.connect(url);
    const ch = await cleanup.createChannel();
    await ch.deleteQueue(queue);
    await cleanup.close();
  });
}

if (HAVE_PROMETHEUS_PARSER || process.env.CI) describeAgainstBrokers('--metrics on a proxy in front of', suite);
else describe.skip('--metrics on a proxy (skipped: the Prometheus parser python3-prometheus-client is not installed)', () => {});

describe('--metrics: bad input', () => {
  it('a port out of range: one line, exit 2', () => {
    const result = runCli(['--standalone', '--metrics', '99999', '--no-tui']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--metrics');
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('a port already taken: one line naming it, exit 1, and the session does not stay up', async () => {
    const taken = await freePort();
    const holder = startCli(['--standalone', '--listen', String(await freePort()), '--no-tui', '--metrics', String(taken)]);
    await waitFor(() => holder.stderr().includes('metrics on'), 'the first metrics server');
    const second = startCli(['--standalone', '--listen', String(await freePort()), '--no-tui', '--metrics', String(taken)]);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`cannot listen on 127.0.0.1:${taken}: address already in use`);
    expect(second.stderr()).not.toMatch(/at .*\.js:\d+/);
    holder.child.kill('SIGINT');
    await holder.exited;
  });
});
