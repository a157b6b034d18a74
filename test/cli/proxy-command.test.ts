import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function listenOn(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

describe('amqp-spy --upstream (the proxy command)', () => {
  it('decodes traffic through it, and on SIGINT closes, prints a summary and exits 0', async () => {
    // a broker stand-in that answers the protocol header with connection.start
    const broker = net.createServer((socket) => {
      socket.once('data', () =>
        socket.write(encodeMethodFrame(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN AMQPLAIN', locales: 'en_US' })),
      );
      socket.on('error', () => {});
    });
    const upstreamPort = await listenOn(broker);
    const listenPort = await freePort();
    const cli = startCli(['--listen', String(listenPort), '--upstream', `127.0.0.1:${upstreamPort}`]);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
    expect(cli.stderr()).toContain(`127.0.0.1:${listenPort} → 127.0.0.1:${upstreamPort}`);

    const client = net.connect(listenPort, '127.0.0.1');
    client.on('error', () => {});
    const received: Buffer[] = [];
    client.on('data', (d) => received.push(d));
    client.write(encodeProtocolHeader());
    await waitFor(() => cli.stdout().includes('connection.start'), 'connection.start to be printed');
    expect(cli.stdout()).toMatch(/#1 C→S +protocol-header AMQP 0-9-1/);
    expect(cli.stdout()).toMatch(/#1 S→C ch0 connection\.start .*mechanisms="PLAIN AMQPLAIN"/);
    expect(Buffer.concat(received)[0]).toBe(1); // the client got the method frame

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toMatch(/connection closed/);
    expect(cli.stderr()).toMatch(/summary: 1 connection; C→S 0 frames, 0 messages; S→C 1 frame, 0 messages; 0 errors/);
  });

  it('upstream refused: the client is closed, one clear line, and the proxy keeps serving', async () => {
    const deadPort = await freePort();
    const listenPort = await freePort();
    const cli = startCli(['--listen', `127.0.0.1:${listenPort}`, '--upstream', `127.0.0.1:${deadPort}`]);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
    for (let i = 0; i < 2; i++) {
      const client = net.connect(listenPort, '127.0.0.1');
      client.on('error', () => {});
      await new Promise((resolve) => client.on('close', resolve));
    }
    await waitFor(() => cli.stderr().split(`upstream 127.0.0.1:${deadPort}: connection refused`).length === 3, 'two refusal lines');
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('a port already in use: one clear line, exit 1', async () => {
    const busy = net.createServer();
    const port = await listenOn(busy);
    const cli = startCli(['--listen', String(port), '--upstream', '127.0.0.1:5672']);
    expect(await cli.exited).toBe(1);
    expect(cli.stderr().trim()).toBe(`amqp-spy: cannot listen on 127.0.0.1:${port}: address already in use`);
  });
});

describe('amqp-spy --upstream: what is wrong at start is said in one line', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-cli-edges-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('--buffer out of range: the allowed range, exit 2, no stack', () => {
    for (const buffer of ['10000000000', '99', 'many']) {
      const out = runCli(['--upstream', '127.0.0.1:5672', '--no-tui', '--buffer', buffer]);
      expect(out.status).toBe(2);
      expect(out.stderr.trim()).toBe(`amqp-spy: --buffer takes a number of events from 100 to 10,000,000, got "${buffer}"`);
    }
  });

  it('--upstream-ca that is not a PEM certificate: the reason, exit 2', () => {
    const notPem = path.join(tmp, 'not-a-cert.txt');
    fs.writeFileSync(notPem, 'hello\n');
    const der = path.join(tmp, 'ca.der');
    fs.writeFileSync(der, Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02, 0x82]));
    const broken = path.join(tmp, 'broken.pem');
    fs.writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const run = (file: string) => runCli(['--upstream', 'amqps://127.0.0.1:5671', '--no-tui', '--upstream-ca', file]);
    const plain = run(notPem);
    expect(plain.status).toBe(2);
    expect(plain.stderr.trim()).toBe(`amqp-spy: --upstream-ca ${notPem}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----")`);
    const derOut = run(der);
    expect(derOut.status).toBe(2);
    expect(derOut.stderr.trim()).toMatch(/no PEM certificate in it .*it looks like DER: convert it with openssl/);
    const brokenOut = run(broken);
    expect(brokenOut.status).toBe(2);
    expect(brokenOut.stderr.trim().split('\n')).toHaveLength(1);
    expect(brokenOut.stderr).toContain(`--upstream-ca ${broken}: certificate 1 of 1 does not parse:`);
  });

  it('credentials in clear: --insecure, or a plaintext listener off loopback, in front of amqps:// warn once each', async () => {
    const port = await freePort();
    const cli = startCli(['--upstream', 'amqps://127.0.0.1:5671', '--insecure', '--listen', `0.0.0.0:${port}`, '--no-tui']);
    cleanups.push(() => cli.child.kill('SIGKILL'));
    await waitFor(() => cli.stderr().includes('proxying'), 'the proxy to listen');
    const lines = cli.stderr().trim().split('\n');
    expect(lines.filter((l) => l.startsWith('amqp-spy: warning: --insecure accepts any certificate'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(`amqp-spy: warning: clients connect to 0.0.0.0:${port} in plain text`))).toHaveLength(1);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    // on loopback, with the certificate checked, nothing to warn about
    const quiet = startCli(['--upstream', 'amqps://127.0.0.1:5671', '--listen', String(await freePort()), '--no-tui']);
    cleanups.push(() => quiet.child.kill('SIGKILL'));
    await waitFor(() => quiet.stderr().includes('proxying'), 'the proxy to listen');
    expect(quiet.stderr()).not.toContain('warning');
    quiet.child.kill('SIGINT');
    expect(await quiet.exited).toBe(0);
  });
});
