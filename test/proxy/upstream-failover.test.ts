// Several upstreams (`--upstream a,b,c`): the real CLI in front of two built-in brokers (each
// `amqp-spy --standalone` in its own process) and a port nobody listens on. A connection goes
// on to the next broker when one cannot be reached, a broker stopped mid-run leaves new
// clients working, round-robin spreads connections, and the output names the broker used.

import { spawn, type ChildProcess } from 'node:child_process';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

async function startBrokerProcess(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, '--standalone', '--listen', String(port), '--no-tui'], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  await waitFor(() => stderr.includes('built-in broker listening'), `a broker on ${port}`);
  return { port, child };
}

/** Connects, publishes one message to a fresh queue and gets it back: the broker behind works. */
async function roundTrip(port: number): Promise<void> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });
  channel.sendToQueue(queue, Buffer.from('through'));
  let got: amqp.GetMessage | false = false;
  for (let i = 0; i < 50 && !got; i++) {
    got = await channel.get(queue, { noAck: true });
    if (!got) await new Promise((r) => setTimeout(r, 20));
  }
  expect(got ? got.content.toString() : got).toBe('through');
  await connection.close();
}

const openedTo = (output: string): string[] => [...output.matchAll(/connection opened 127\.0\.0\.1:\d+ → 127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!);

describe('--upstream a,b,c', () => {
  it('failover: skips a broker nobody listens on, and a stopped broker; new clients keep working', async () => {
    const a = await startBrokerProcess();
    const b = await startBrokerProcess();
    const dead = await freePort();
    const listen = await freePort();
    const proxy = startCli(['--upstream', `127.0.0.1:${dead},127.0.0.1:${a.port},127.0.0.1:${b.port}`, '--listen', String(listen), '--no-tui']);
    children.push(proxy.child);
    await waitFor(() => proxy.stderr().includes('proxying'), `the proxy\n${proxy.stderr()}`);
    expect(proxy.stderr()).toContain(`→ 127.0.0.1:${dead}, 127.0.0.1:${a.port}, 127.0.0.1:${b.port} (Ctrl-C to stop)`);

    await roundTrip(listen);
    await roundTrip(listen);
    await waitFor(() => openedTo(proxy.stdout()).length === 2, 'two connections in the output');
    expect(openedTo(proxy.stdout())).toEqual([String(a.port), String(a.port)]);

    // the first live broker goes away mid-run: new clients go on to the next one
    a.child.kill('SIGKILL');
    await new Promise((resolve) => a.child.once('exit', resolve));
    await roundTrip(listen);
    await waitFor(() => openedTo(proxy.stdout()).length === 3, 'a third connection in the output');
    expect(openedTo(proxy.stdout())[2]).toBe(String(b.port));
    // what the client never saw is not reported as its connection's failure
    expect(proxy.stdout()).not.toMatch(/connection refused/);

    // none left: the client is closed, and the line names the last broker tried
    b.child.kill('SIGKILL');
    await new Promise((resolve) => b.child.once('exit', resolve));
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${listen}`)).rejects.toThrow();
    await waitFor(() => /upstream 127\.0\.0\.1:\d+: connection refused/.test(proxy.stdout() + proxy.stderr()), `the refusal\n${proxy.stdout()}`);

    proxy.child.kill('SIGINT');
    expect(await proxy.exited).toBe(0);
  });

  it('round-robin: each connection starts at the next broker', async () => {
    const a = await startBrokerProcess();
    const b = await startBrokerProcess();
    const listen = await freePort();
    const proxy = startCli(['--upstream', `127.0.0.1:${a.port},127.0.0.1:${b.port}`, '--balance', 'round-robin', '--listen', String(listen), '--no-tui']);
    children.push(proxy.child);
    await waitFor(() => proxy.stderr().includes('proxying'), `the proxy\n${proxy.stderr()}`);
    for (let i = 0; i < 4; i++) await roundTrip(listen);
    await waitFor(() => openedTo(proxy.stdout()).length === 4, 'four connections in the output');
    expect(openedTo(proxy.stdout())).toEqual([a.port, b.port, a.port, b.port].map(String));
    proxy.child.kill('SIGINT');
    expect(await proxy.exited).toBe(0);
    a.child.kill('SIGINT');
    b.child.kill('SIGINT');
  });

  it('bad --balance: one line, exit 2', () => {
    const wrong = runCli(['--upstream', '127.0.0.1:1,127.0.0.1:2', '--balance', 'random', '--listen', '0', '--no-tui']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('--balance takes failover or round-robin, got "random"');
    const single = runCli(['--upstream', '127.0.0.1:1', '--balance', 'round-robin', '--listen', '0', '--no-tui']);
    expect(single.status).toBe(2);
    expect(single.stderr).toContain('--balance applies with several --upstream brokers');
  });
});
