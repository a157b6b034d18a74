// `--listen-tls` and `amqp-spy certs`: real clients (amqplib, @cloudamqp/amqp-client) connect
// with amqps:// to the real CLI, as a proxy in front of each broker and as the built-in broker,
// with certificates the certs command made; traffic encrypted on the client leg is decoded all
// the same. Mutual TLS, a client that speaks no TLS, and bad files are tried too.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp from 'amqplib';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAgainstBrokers, type BrokerTarget } from '../support/brokers.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const HAVE_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-certs-'));
const file = (name: string) => path.join(dir, name);
const pem = (name: string) => fs.readFileSync(file(name));

function makeCerts(): void {
  const made = runCli(['certs', dir, '--force']);
  expect(made.status, made.stderr).toBe(0);
}

(HAVE_OPENSSL ? describe : describe.skip)('amqp-spy certs', () => {
  it('makes a CA, a server certificate for localhost and the loopback addresses, and a client certificate; keys are private', () => {
    const made = runCli(['certs', dir, '--force', '--host', 'broker.test', '--host', '10.1.2.3']);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stderr).toContain('server certificate for localhost, broker.test, 127.0.0.1, ::1, 10.1.2.3');
    expect(made.stderr).toContain(`--cert ${path.join(dir, 'server.pem')}`);
    const verify = spawnSync('openssl', ['verify', '-CAfile', file('ca.pem'), file('server.pem'), file('client.pem')], { encoding: 'utf8' });
    expect(verify.stdout).toContain(`${file('server.pem')}: OK`);
    expect(verify.stdout).toContain(`${file('client.pem')}: OK`);
    const text = spawnSync('openssl', ['x509', '-in', file('server.pem'), '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' }).stdout;
    expect(text).toMatch(/DNS:localhost, DNS:broker\.test, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10\.1\.2\.3/);
    expect(text).toContain('TLS Web Server Authentication');
    for (const key of ['ca-key.pem', 'server-key.pem', 'client-key.pem']) expect(fs.statSync(file(key)).mode & 0o077).toBe(0);
  });

  it('does not overwrite without --force, and refuses a bad --host: one line, exit 2', () => {
    makeCerts();
    const again = runCli(['certs', dir]);
    expect(again.status).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('already there (--force replaces them)');
    const bad = runCli(['certs', dir, '--force', '--host', 'not a name']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--host "not a name": not a host name or IP address');
  });
});

function suite(target: () => BrokerTarget): void {
  let proxy: ReturnType<typeof startCli>;
  let tlsPort = 0;
  const queue = `tls-listen-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  beforeAll(async () => {
    makeCerts();
    const { host, port } = target();
    tlsPort = await freePort();
    proxy = startCli([
      '--upstream',
      `${host}:${port}`,
      '--listen',
      String(await freePort()),
      '--listen-tls',
      String(tlsPort),
      '--cert',
      file('server.pem'),
      '--key',
      file('server-key.pem'),
      '--no-tui',
    ]);
    await waitFor(() => proxy.stderr().includes('proxying'), `the proxy to listen\n${proxy.stderr()}`);
    expect(proxy.stderr()).toContain(`and amqps://127.0.0.1:${tlsPort} →`);
  });

  afterAll(async () => {
    proxy.child.kill('SIGINT');
    await proxy.exited;
  });

  it('amqplib over amqps:// to the proxy: the message goes through, and its frames are decoded', async () => {
    const { username, password } = target();
    const connection = await amqp.connect(`amqps://${encodeURIComponent(username)}:${encodeURIComponent(password)}@localhost:${tlsPort}`, {
      ca: [pem('ca.pem')],
    });
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { exclusive: true });
    channel.sendToQueue(queue, Buffer.from('over tls'), { correlationId: 'tls-1' });
    const got = await new Promise<amqp.ConsumeMessage>((resolve) => {
      void channel.consume(queue, (m) => m && resolve(m), { noAck: true });
    });
    expect(got.content.toString()).toBe('over tls');
    await connection.close();
    await waitFor(() => /S→C ch\d+ basic\.deliver /.test(proxy.stdout()), `the delivery in the output\n${proxy.stdout()}`);
    const publish = proxy
      .stdout()
      .split('\n')
      .find((l) => / C→S ch\d+ basic\.publish /.test(l) && l.includes(queue));
    expect(publish, proxy.stdout()).toBeDefined();
    // the body's 8 bytes and their text, decoded from traffic that was encrypted on the client's leg
    expect(publish).toMatch(/ 8 B {2}over tls$/);
  });

  it('@cloudamqp/amqp-client over amqps:// too', async () => {
    const { username, password } = target();
    const client = new AMQPClient(`amqps://${encodeURIComponent(username)}:${encodeURIComponent(password)}@localhost:${tlsPort}`, { ca: pem('ca.pem') });
    const connection = await client.connect();
    const channel = await connection.channel();
    const { name: q } = await channel.queueDeclare('', { exclusive: true });
    await channel.basicPublish('', q, 'from amqp-client');
    const message = await channel.basicGet(q, { noAck: true });
    expect(message?.bodyToString()).toBe('from amqp-client');
    await connection.close();
  });

  it('a client that speaks no TLS: one notice naming it, and the proxy keeps serving', async () => {
    const socket = net.connect(tlsPort, '127.0.0.1', () => socket.end('AMQP\x00\x00\x09\x01'));
    socket.on('error', () => {});
    await new Promise((resolve) => socket.on('close', resolve));
    await waitFor(() => proxy.stderr().includes('TLS handshake with 127.0.0.1:'), `the handshake notice\n${proxy.stderr()}`);
    expect(proxy.stderr()).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed: [^\n]*\n/);
    expect(proxy.stderr()).not.toMatch(/ssl3_get_record|\.c:\d+/);
    const { username, password } = target();
    const connection = await amqp.connect(`amqps://${encodeURIComponent(username)}:${encodeURIComponent(password)}@localhost:${tlsPort}`, {
      ca: [pem('ca.pem')],
    });
    await connection.close();
  });
}

if (HAVE_OPENSSL) describeAgainstBrokers('--listen-tls on a proxy in front of', suite);

(HAVE_OPENSSL ? describe : describe.skip)('--listen-tls on the built-in broker', () => {
  it('serves amqps:// clients; with --client-ca only those with a certificate the CA signed', async () => {
    makeCerts();
    const tlsPort = await freePort();
    const broker = startCli([
      '--standalone',
      '--listen',
      String(await freePort()),
      '--listen-tls',
      `127.0.0.1:${tlsPort}`,
      '--cert',
      file('server.pem'),
      '--key',
      file('server-key.pem'),
      '--client-ca',
      file('ca.pem'),
      '--no-tui',
    ]);
    try {
      await waitFor(() => broker.stderr().includes('built-in broker listening'), `the broker\n${broker.stderr()}`);
      const url = `amqps://guest:guest@localhost:${tlsPort}`;
      await expect(amqp.connect(url, { ca: [pem('ca.pem')] })).rejects.toThrow();
      const connection = await amqp.connect(url, { ca: [pem('ca.pem')], cert: pem('client.pem'), key: pem('client-key.pem') });
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('mutual'));
      const got = await channel.get(queue, { noAck: true });
      expect(got ? got.content.toString() : got).toBe('mutual');
      await connection.close();
      await waitFor(() => broker.stderr().includes('TLS handshake with'), `the refused handshake reported\n${broker.stderr()}`);
    } finally {
      broker.child.kill('SIGINT');
      await broker.exited;
    }
  });
});

(HAVE_OPENSSL ? describe : describe.skip)('--upstream-cert and --upstream-key: the proxy shows a client certificate to a broker that requires one', () => {
  it('through to the built-in broker with --client-ca; without the certificate the broker refuses the proxy', async () => {
    makeCerts();
    const tlsPort = await freePort();
    const broker = startCli([
      '--standalone',
      '--listen',
      String(await freePort()),
      '--listen-tls',
      String(tlsPort),
      '--cert',
      file('server.pem'),
      '--key',
      file('server-key.pem'),
      '--client-ca',
      file('ca.pem'),
      '--no-tui',
    ]);
    const upstream = `amqps://localhost:${tlsPort}`;
    const withCert = await freePort();
    const proxy = startCli([
      '--upstream',
      upstream,
      '--upstream-ca',
      file('ca.pem'),
      '--upstream-cert',
      file('client.pem'),
      '--upstream-key',
      file('client-key.pem'),
      '--listen',
      String(withCert),
      '--no-tui',
    ]);
    const withoutCert = await freePort();
    const refused = startCli(['--upstream', upstream, '--upstream-ca', file('ca.pem'), '--listen', String(withoutCert), '--no-tui']);
    try {
      await waitFor(() => broker.stderr().includes('built-in broker listening'), `the broker\n${broker.stderr()}`);
      await waitFor(() => proxy.stderr().includes('proxying') && refused.stderr().includes('proxying'), 'the proxies');
      const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${withCert}`);
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('shown a certificate'));
      const got = await channel.get(queue, { noAck: true });
      expect(got ? got.content.toString() : got).toBe('shown a certificate');
      await connection.close();
      await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${withoutCert}`)).rejects.toThrow();
      await waitFor(() => /upstream amqps:\/\/localhost:\d+|certificate/.test(refused.stderr()), `the refusal told\n${refused.stderr()}`);
    } finally {
      for (const p of [proxy, refused, broker]) p.child.kill('SIGINT');
      await Promise.all([proxy.exited, refused.exited, broker.exited]);
    }
  });

  it('one without the other, or on a plain upstream: one line, exit 2', () => {
    makeCerts();
    const alone = runCli(['--upstream', 'amqps://localhost:5671', '--listen', '0', '--no-tui', '--upstream-cert', file('client.pem')]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--upstream-cert and --upstream-key go together');
    const plain = runCli([
      '--upstream',
      '127.0.0.1:5672',
      '--listen',
      '0',
      '--no-tui',
      '--upstream-cert',
      file('client.pem'),
      '--upstream-key',
      file('client-key.pem'),
    ]);
    expect(plain.status).toBe(2);
    expect(plain.stderr).toContain('--upstream-cert applies to an amqps:// upstream only');
  });
});

(HAVE_OPENSSL ? describe : describe.skip)('--listen-tls: bad input, one line and exit 2', () => {
  it.each([
    [['--listen-tls', '5671'], '--listen-tls needs --cert <file> and --key <file>'],
    [['--cert', 'x.pem'], '--cert applies with --listen-tls only'],
    [['--listen-tls', '5671', '--cert', '/nonexistent.pem', '--key', '/nonexistent.pem'], '--cert /nonexistent.pem: no such file'],
    [['--listen-tls', '5671', '--cert', 'package.json', '--key', 'package.json'], '--cert package.json: not a PEM certificate'],
  ])('%j', (args, words) => {
    makeCerts();
    const result = runCli(['--standalone', '--listen', '0', '--no-tui', ...args]);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(words);
  });

  it('a key that is not the certificate’s', () => {
    makeCerts();
    const result = runCli(['--standalone', '--listen', '0', '--no-tui', '--listen-tls', '0', '--cert', file('server.pem'), '--key', file('client-key.pem')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('do not make a usable pair');
  });
});
