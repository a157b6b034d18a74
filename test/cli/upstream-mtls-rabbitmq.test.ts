// --upstream-cert and --upstream-key against the real RabbitMQ configured for mutual TLS
// (ssl_options.verify = verify_peer, fail_if_no_peer_cert = true; .ci/run sets it up with
// certificates from `amqp-spy certs`). Clients reach the proxy over amqps:// too, so the
// traffic is encrypted on both legs and is still decoded and recorded.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { describeWithRabbitMQTls, RABBITMQ_NODE, RABBITMQ_TLS_DIR, RABBITMQ_TLS_URL } from '../support/rabbitmq.js';

const run = promisify(execFile);

describeWithRabbitMQTls('the proxy in front of RabbitMQ that requires a client certificate', () => {
  const tlsDir = RABBITMQ_TLS_DIR ?? '';
  const file = (name: string) => path.join(tlsDir, name);
  const url = new URL(RABBITMQ_TLS_URL ?? 'amqps://localhost:5671');
  const upstream = `amqps://${url.hostname}:${url.port || 5671}`;
  const user = `${decodeURIComponent(url.username || 'guest')}:${decodeURIComponent(url.password || 'guest')}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-mtls-'));
  const recording = path.join(work, 'both-legs.jsonl');
  let proxy: ReturnType<typeof startCli>;
  let tlsPort = 0;

  beforeAll(async () => {
    tlsPort = await freePort();
    proxy = startCli([
      '--upstream',
      upstream,
      '--upstream-ca',
      file('ca.pem'),
      '--upstream-cert',
      file('client.pem'),
      '--upstream-key',
      file('client-key.pem'),
      '--listen',
      String(await freePort()),
      '--listen-tls',
      String(tlsPort),
      '--cert',
      file('server.pem'),
      '--key',
      file('server-key.pem'),
      '--record',
      recording,
      '--no-tui',
    ]);
    await waitFor(() => proxy.stderr().includes('proxying'), `the proxy to listen\n${proxy.stderr()}`);
  });

  afterAll(async () => {
    proxy.child.kill('SIGINT');
    await proxy.exited;
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** RabbitMQ's own view of the connection a client named: TLS or not, and whose certificate. */
  async function rabbitSees(connectionName: string): Promise<{ ssl: unknown; subject: unknown } | undefined> {
    const node = RABBITMQ_NODE ? ['-n', RABBITMQ_NODE] : [];
    const { stdout } = await run('rabbitmqctl', [...node, 'list_connections', 'client_properties', 'ssl', 'peer_cert_subject', '-q', '--formatter', 'json']);
    const rows = JSON.parse(stdout) as Record<string, unknown>[];
    const row = rows.find(
      (r) =>
        Array.isArray(r['client_properties']) && r['client_properties'].some((p) => Array.isArray(p) && p[0] === 'connection_name' && p[2] === connectionName),
    );
    return row && { ssl: row['ssl'], subject: row['peer_cert_subject'] };
  }

  it('amqplib over amqps:// to the proxy, the proxy with its certificate to RabbitMQ: the message goes through, RabbitMQ saw the certificate, the frames are decoded', async () => {
    const name = `mtls-amqplib-${process.pid}`;
    const connection = await amqp.connect(`amqps://${user}@localhost:${tlsPort}`, {
      ca: [fs.readFileSync(file('ca.pem'))],
      clientProperties: { connection_name: name },
    });
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('encrypted twice'), { correlationId: 'both-legs' });
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => {
      void channel.consume(queue, (m) => m && resolve(m), { noAck: true });
    });
    expect(got.content.toString()).toBe('encrypted twice');
    const seen = await rabbitSees(name);
    expect(seen).toEqual({ ssl: true, subject: 'CN=amqp-spy-client' });
    await connection.close();

    await waitFor(() => / C→S ch\d+ basic\.publish .* 15 B {2}encrypted twice$/m.test(proxy.stdout()), `the publish in the output\n${proxy.stdout()}`);
    await waitFor(() => / S→C ch\d+ basic\.deliver /.test(proxy.stdout()), `the delivery in the output\n${proxy.stdout()}`);
    // the recording is flushed as the session goes; its lines are the decoded frames
    await waitFor(() => fs.existsSync(recording) && fs.readFileSync(recording, 'utf8').includes('both-legs'), 'the publish in the recording');
  });

  it('@cloudamqp/amqp-client through the same proxy', async () => {
    const name = `mtls-amqp-client-${process.pid}`;
    const client = new AMQPClient(`amqps://${user}@localhost:${tlsPort}?name=${name}`, { ca: fs.readFileSync(file('ca.pem')) });
    const connection = await client.connect();
    const channel = await connection.channel();
    const { name: q } = await channel.queueDeclare('', { exclusive: true });
    await channel.basicPublish('', q, 'from amqp-client');
    const message = await channel.basicGet(q, { noAck: true });
    expect(message?.bodyToString()).toBe('from amqp-client');
    expect(await rabbitSees(name)).toEqual({ ssl: true, subject: 'CN=amqp-spy-client' });
    await connection.close();
  });

  it('without --upstream-cert RabbitMQ refuses the proxy; the client is closed and the proxy says why in one line', async () => {
    const port = await freePort();
    const bare = startCli(['--upstream', upstream, '--upstream-ca', file('ca.pem'), '--listen', String(port), '--no-tui']);
    try {
      await waitFor(() => bare.stderr().includes('proxying'), `the proxy to listen\n${bare.stderr()}`);
      await expect(amqp.connect(`amqp://${user}@127.0.0.1:${port}`)).rejects.toThrow();
      await waitFor(() => /upstream .*client certificate \(--upstream-cert and --upstream-key\)/.test(bare.stderr()), `the reason\n${bare.stderr()}`);
      const line = bare
        .stderr()
        .split('\n')
        .find((l) => l.includes('client certificate'));
      expect(line).toMatch(
        /^amqp-spy: upstream \S+: (TLS: tlsv13 alert certificate required: the broker requires|connection reset right after the TLS handshake: the broker may require)/,
      );
    } finally {
      bare.child.kill('SIGINT');
      await bare.exited;
    }
  });

  it('a certificate from a CA RabbitMQ does not trust: refused all the same', async () => {
    const other = path.join(work, 'other-ca');
    const made = runCli(['certs', other]);
    expect(made.status, made.stderr).toBe(0);
    const port = await freePort();
    const stranger = startCli([
      '--upstream',
      upstream,
      '--upstream-ca',
      file('ca.pem'),
      '--upstream-cert',
      path.join(other, 'client.pem'),
      '--upstream-key',
      path.join(other, 'client-key.pem'),
      '--listen',
      String(port),
      '--no-tui',
    ]);
    try {
      await waitFor(() => stranger.stderr().includes('proxying'), `the proxy to listen\n${stranger.stderr()}`);
      await expect(amqp.connect(`amqp://${user}@127.0.0.1:${port}`)).rejects.toThrow();
      await waitFor(
        () => /amqp-spy: upstream \S+: (TLS: .*(unknown ca|bad certificate)|connection reset)/.test(stranger.stderr()),
        `the refusal\n${stranger.stderr()}`,
      );
    } finally {
      stranger.child.kill('SIGINT');
      await stranger.exited;
    }
  });
});
