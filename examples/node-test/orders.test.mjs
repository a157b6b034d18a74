// A node:test suite with @cloudamqp/amqp-client against amqp-spy's built-in broker and through
// its proxy. Run: node --test examples/node-test/
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AMQPClient } from '@cloudamqp/amqp-client';
import { openRecording, startBroker, startProxy, WaitForError } from 'amqp-spy';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The worker under test: takes a job from `jobs`, acks it, and publishes its result to `results`. */
async function runWorkerOnce(url) {
  const connection = await new AMQPClient(url).connect();
  const channel = await connection.channel();
  await channel.queueDeclare('jobs', { durable: false });
  await channel.queueDeclare('results', { durable: false });
  const job = await new Promise((resolve) => {
    const poll = async () => {
      const message = await channel.basicGet('jobs');
      if (message) resolve(message);
      else setTimeout(poll, 5);
    };
    poll();
  });
  await channel.basicPublish('', 'results', `done: ${job.bodyToString()}`, { correlationId: job.properties.correlationId });
  await job.ack();
  await connection.close();
}

describe('the worker against the built-in broker', () => {
  let broker;
  let dir;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'amqp-spy-example-'));
    broker = await startBroker({ record: join(dir, 'session.jsonl') });
  });
  after(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes the result with the job correlation id, and acks the job', async () => {
    const client = await new AMQPClient(broker.url).connect();
    const channel = await client.channel();
    await channel.queueDeclare('jobs', { durable: false });
    await channel.basicPublish('', 'jobs', 'resize 42.png', { correlationId: 'job-42' });
    await runWorkerOnce(broker.url);
    const result = await broker.waitFor('method:basic.publish rk:results');
    assert.equal(Buffer.from(result.body).toString(), 'done: resize 42.png');
    assert.equal(result.properties['correlation-id'], 'job-42');
    // the ack settles the delivery it names: the tap pairs them
    const ack = await broker.waitFor((e) => e.kind === 'frame' && e.frame.type === 'method' && e.frame.method.name === 'basic.ack' && e.dir === 'c2s');
    assert.equal(ack.insight?.settles?.outcome, 'ack');
    await client.close();
  });

  it('waitFor that finds nothing says what it saw instead', async () => {
    await assert.rejects(broker.waitFor('method:basic.publish rk:nowhere', { timeout: 100 }), (error) => {
      assert.ok(error instanceof WaitForError);
      assert.match(error.message, /timed out after 100 ms/);
      assert.match(error.message, /\[fails rk:nowhere\]/);
      return true;
    });
  });

  it('the recording reads back as the same events', async () => {
    await broker.close(); // flushes the recording
    const recording = await openRecording(join(dir, 'session.jsonl'), { filter: 'rk:results' });
    const results = await recording.toArray();
    assert.deepEqual(
      results.map((e) => Buffer.from(e.body).toString()),
      ['done: resize 42.png'],
    );
  });
});

describe('the worker through the proxy', () => {
  // in front of RabbitMQ when AMQP_SPY_RABBITMQ_URL is set, else of a built-in broker
  let upstream;
  let proxy;
  before(async () => {
    const rabbitmq = process.env.AMQP_SPY_RABBITMQ_URL;
    if (!rabbitmq) upstream = await startBroker(); // unset or empty: no RabbitMQ
    proxy = await startProxy({ upstream: rabbitmq || upstream.url });
  });
  after(async () => {
    await proxy.close();
    await upstream?.close();
  });

  it('the reply to basic.get is timed, and the publish reaches the broker', async () => {
    const client = await new AMQPClient(proxy.url).connect();
    const channel = await client.channel();
    await channel.queueDeclare('jobs', { durable: false });
    await channel.queuePurge('jobs');
    await channel.basicPublish('', 'jobs', 'thumbnail 7.png');
    await runWorkerOnce(proxy.url);
    const getOk = await proxy.waitFor('method:basic.get-ok');
    assert.equal(Buffer.from(getOk.body).toString(), 'thumbnail 7.png');
    assert.equal(getOk.insight?.request?.name, 'basic.get');
    const result = await channel.basicGet('results');
    assert.equal(result?.bodyToString(), 'done: thumbnail 7.png');
    await channel.queueDelete('jobs');
    await channel.queueDelete('results');
    await client.close();
  });
});
