import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMethodFrame } from '../../src/decoder/frame-codec.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => void)[] = [];
afterEach(() => { while (cleanups.length) cleanups.pop()!(); });

async function listenOn(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}


describe('amqp-spy --upstream (the proxy command)', () => {
  it('decodes traffic through it, and on SIGINT closes, prints a summary and exits 0', async () => {
    // a broker stand-in that answers the protocol header with connection.start
    const broker = net.createServer((socket) => {
      socket.once('data', () => socket.write(encodeMethodFrame(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN AMQPLAIN', locales: 'en_US' })));
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
    expect(cli.stderr()).toMatch(/summary: 1 connection; C→S 0 frames, 0 messages; S→C 1 frames, 0 messages; 0 errors/);
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
