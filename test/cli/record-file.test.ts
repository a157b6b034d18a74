// `--record FILE` as a user runs it: a FIFO read by another process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../broker/raw-client.js';
import { runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { while (cleanups.length) await cleanups.pop()!(); });
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-record-file-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `--standalone --no-tui --record <file>` up and listening. */
async function standaloneRecording(file: string): Promise<{ port: number; cli: ReturnType<typeof startCli> }> {
  const port = await freePort();
  const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', file]);
  cleanups.push(() => { cli.child.kill('SIGKILL'); });
  await waitFor(() => cli.stderr().includes('built-in broker listening') || cli.child.exitCode !== null, 'the broker to listen');
  expect(cli.stderr()).toContain('built-in broker listening');
  return { port, cli };
}

/** A short real session: handshake, a channel, a queue, closes. */
async function clientSession(port: number): Promise<void> {
  const client = await RawClient.connect(port);
  cleanups.push(() => client.destroy());
  await client.open();
  await client.openChannel(1);
  client.send(1, 'queue.declare', { queue: 'record-file' });
  await client.expectMethod('queue.declare-ok');
  client.send(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 });
  await client.expectMethod('connection.close-ok');
}

async function stop(cli: ReturnType<typeof startCli>): Promise<void> {
  await waitFor(() => cli.stdout().includes('connection closed'), 'the close to be printed');
  cli.child.kill('SIGINT');
  expect(await cli.exited).toBe(0);
}

describe('--record FILE', () => {
  it('records into a FIFO read by another process, in order; the lines read back replay', async () => {
    const fifo = path.join(dir, 'recording.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    cleanups.push(() => { reader.kill('SIGKILL'); });
    const read: Buffer[] = [];
    reader.stdout.on('data', (d: Buffer) => read.push(d));
    const readerDone = new Promise<number | null>((resolve) => reader.on('exit', (code) => resolve(code)));

    const { port, cli } = await standaloneRecording(fifo);
    await clientSession(port);
    await stop(cli);
    expect(cli.stderr()).not.toContain('cannot write');
    expect(await readerDone).toBe(0); // the writer closed: the reader saw the end

    const text = Buffer.concat(read).toString('utf8');
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as { format?: string; kind?: string; seq?: number });
    expect(lines[0]).toMatchObject({ format: 'amqp-spy', mode: 'standalone' });
    const seqs = lines.slice(1).map((l) => l.seq!);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(lines.at(-1)).toMatchObject({ kind: 'conn.close' });
    const copy = path.join(dir, 'from-fifo.jsonl');
    fs.writeFileSync(copy, text);
    const replayed = runCli(['replay', copy, '--no-tui']);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toMatch(/S→C ch1 queue\.declare-ok queue=record-file/);
  });
});
