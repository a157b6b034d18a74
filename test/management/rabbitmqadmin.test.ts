// RabbitMQ's own CLI, rabbitmqadmin (installed with rabbitmq-server), against the built-in
// broker's management API: list, declare, publish, get, delete and purge as its users type
// them. Skipped visibly when rabbitmqadmin is not installed, unless CI is set (then it fails).

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../src/broker/broker-server.js';
import { startManagement, type RunningManagement } from '../../src/management/management-server.js';

const RABBITMQADMIN = ['/usr/bin/rabbitmqadmin', '/usr/local/bin/rabbitmqadmin', '/usr/sbin/rabbitmqadmin'].find((p) => fs.existsSync(p));
const run = !!RABBITMQADMIN || !!process.env['CI'];
const exec = promisify(execFile);

(run ? describe : describe.skip)(
  `rabbitmqadmin against the management API${run ? '' : ' (skipped: rabbitmqadmin is not installed; apt-get install rabbitmq-server)'}`,
  () => {
    let broker: RunningBroker;
    let management: RunningManagement;
    beforeAll(async () => {
      broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 }, vhosts: ['/', 'shop'] });
      management = await startManagement({ listen: { host: '127.0.0.1', port: 0 }, broker });
    });
    afterAll(async () => {
      await management?.close();
      await broker?.close();
    });

    /** rabbitmqadmin's output lines (it must succeed: a failure prints to stderr and exits 1). */
    const admin = async (...args: string[]): Promise<string> => {
      if (RABBITMQADMIN === undefined) throw new Error('rabbitmqadmin is not installed (CI is set, so this test must run)');
      const { stdout } = await exec(RABBITMQADMIN, ['-H', '127.0.0.1', '-P', String(management.address.port), '-u', 'guest', '-p', 'guest', ...args], {
        timeout: 20_000,
      });
      return stdout;
    };
    /** `-f tsv` rows as objects (its first line names the columns). */
    const rows = async (...args: string[]): Promise<Array<Record<string, string>>> => {
      const [head, ...lines] = (await admin('-f', 'tsv', ...args)).split('\n').filter((l) => l !== '');
      const columns = head!.split('\t');
      return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [columns[i]!, v])));
    };

    it('declares, lists, publishes, gets, purges and deletes', async () => {
      expect(await admin('declare', 'exchange', 'name=orders', 'type=topic')).toBe('exchange declared\n');
      expect(await admin('declare', 'queue', 'name=orders.eu', 'durable=true', 'arguments={"x-max-length": 100}')).toBe('queue declared\n');
      expect(await admin('declare', 'binding', 'source=orders', 'destination=orders.eu', 'routing_key=order.eu.*')).toBe('binding declared\n');
      expect(await admin('--vhost=shop', 'declare', 'queue', 'name=in-shop')).toBe('queue declared\n');

      expect(await rows('list', 'queues')).toEqual([
        { name: 'orders.eu', messages: '0' },
        { name: 'in-shop', messages: '0' },
      ]);
      expect(await rows('list', 'queues', 'vhost', 'name', 'durable', 'arguments.x-max-length')).toEqual([
        { vhost: '/', name: 'orders.eu', durable: 'True', 'arguments.x-max-length': '100' },
        { vhost: 'shop', name: 'in-shop', durable: 'True', 'arguments.x-max-length': '' },
      ]);
      expect((await rows('list', 'exchanges')).map((x) => `${x['name']}:${x['type']}`)).toEqual([
        ':direct',
        'amq.direct:direct',
        'amq.fanout:fanout',
        'amq.topic:topic',
        'amq.headers:headers',
        'amq.match:headers',
        'amq.rabbitmq.trace:topic',
        'orders:topic',
        ':direct',
        'amq.direct:direct',
        'amq.fanout:fanout',
        'amq.topic:topic',
        'amq.headers:headers',
        'amq.match:headers',
        'amq.rabbitmq.trace:topic',
      ]);
      expect(await rows('--vhost=/', 'list', 'bindings')).toEqual([
        { source: '', destination: 'orders.eu', routing_key: 'orders.eu' },
        { source: 'orders', destination: 'orders.eu', routing_key: 'order.eu.*' },
      ]);

      expect(await admin('publish', 'exchange=orders', 'routing_key=order.eu.1', 'payload=first', 'properties={"content_type": "text/plain"}')).toBe(
        'Message published\n',
      );
      expect(await admin('publish', 'exchange=orders', 'routing_key=nowhere', 'payload=lost')).toBe('Message published but NOT routed\n');
      expect(await admin('publish', 'routing_key=orders.eu', 'payload=second')).toBe('Message published\n');
      // a real client sees what rabbitmqadmin published
      const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${broker.address.port}`);
      const ch = await conn.createChannel();
      expect((await ch.checkQueue('orders.eu')).messageCount).toBe(2);
      await conn.close();

      const [peek] = await rows('get', 'queue=orders.eu', 'ackmode=ack_requeue_true');
      expect(peek).toMatchObject({
        routing_key: 'order.eu.1',
        exchange: 'orders',
        message_count: '1',
        payload: 'first',
        payload_bytes: '5',
        redelivered: 'False',
      });
      const taken = await rows('get', 'queue=orders.eu', 'count=2', 'ackmode=ack_requeue_false');
      expect(taken.map((m) => [m['payload'], m['redelivered']])).toEqual([
        ['first', 'True'],
        ['second', 'False'],
      ]);
      expect(await rows('--vhost=/', 'list', 'queues', 'name', 'messages')).toEqual([{ name: 'orders.eu', messages: '0' }]);

      await admin('publish', 'routing_key=orders.eu', 'payload=third');
      expect(await admin('purge', 'queue', 'name=orders.eu')).toBe('queue purged\n');
      expect(await admin('delete', 'binding', 'source=orders', 'destination=orders.eu', 'destination_type=queue', 'properties_key=order.eu.%2A')).toBe(
        'binding deleted\n',
      );
      expect(await rows('--vhost=/', 'list', 'bindings')).toEqual([{ source: '', destination: 'orders.eu', routing_key: 'orders.eu' }]);
      expect(await admin('delete', 'queue', 'name=orders.eu')).toBe('queue deleted\n');
      expect(await admin('delete', 'exchange', 'name=orders')).toBe('exchange deleted\n');
      expect(await admin('--vhost=/', 'list', 'queues')).toBe('No items\n');
      expect(await rows('show', 'overview')).toEqual([
        { rabbitmq_version: '3.10.0', cluster_name: 'amqp-spy@localhost', 'queue_totals.messages': '0', 'object_totals.queues': '1' },
      ]);
    });

    it("reports refusals as rabbitmqadmin reports RabbitMQ's", async () => {
      const failure = async (...args: string[]): Promise<string> => {
        try {
          await admin(...args);
        } catch (e) {
          return (e as { stderr: string }).stderr.trim();
        }
        throw new Error(`rabbitmqadmin ${args.join(' ')} succeeded`);
      };
      expect(await failure('declare', 'queue', 'name=bad', 'arguments={"x-max-length": -1}')).toBe(
        "*** invalid arg 'x-max-length' for queue 'bad' in vhost '/': {value_negative,-1}",
      );
      expect(await failure('-p', 'wrong', 'list', 'queues')).toBe('*** Access refused: /api/queues?columns=name,messages');
      expect(await failure('get', 'queue=missing')).toContain('Not found: /api/queues/%2F/missing/get');
    });
  },
);
