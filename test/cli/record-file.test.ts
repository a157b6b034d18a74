// `--record FILE` as a user runs it: the file a recording makes (mode 0600), a symbolic link
// at the path (refused, the file it points to untouched), and a FIFO read by another process.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../broker/raw-client.js';
import { CLI, runCli, startCli, waitFor } from '../support/cli.js';
import { freePort } from '../support/net.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-record-file-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `--standalone --no-tui --record <file>` up and listening. */
async function standaloneRecording(file: string): Promise<{ port: number; cli: ReturnType<typeof startCli> }> {
  const port = await freePort();
  const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', file]);
  cleanups.push(() => {
    cli.child.kill('SIGKILL');
  });
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
  it('creates the recording with mode 0600, and makes an existing file 0600 too', async () => {
    const fresh = path.join(dir, 'fresh.jsonl');
    const { port, cli } = await standaloneRecording(fresh);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o600);
    await clientSession(port);
    await stop(cli);
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o600);
    expect(runCli(['replay', fresh, '--no-tui']).stdout).toContain('queue.declare-ok');

    const existing = path.join(dir, 'existing.jsonl');
    fs.writeFileSync(existing, 'an older recording\n', { mode: 0o644 });
    fs.chmodSync(existing, 0o644);
    const again = await standaloneRecording(existing);
    expect(fs.statSync(existing).mode & 0o777).toBe(0o600);
    again.cli.child.kill('SIGINT');
    expect(await again.cli.exited).toBe(0);
    expect(fs.readFileSync(existing, 'utf8')).toMatch(/^\{"format":"amqp-spy"/);
  });

  it('refuses a symbolic link at the path with one line naming it and the real path; the target is untouched', async () => {
    const real = path.join(dir, 'real.jsonl');
    fs.writeFileSync(real, 'precious\n');
    const link = path.join(dir, 'link.jsonl');
    fs.symlinkSync(real, link);
    const dangling = path.join(dir, 'dangling.jsonl');
    fs.symlinkSync(path.join(dir, 'nowhere.jsonl'), dangling);
    for (const [given, realPath] of [
      [link, real],
      [dangling, path.join(dir, 'nowhere.jsonl')],
    ] as const) {
      // started, not run to completion: a CLI that followed the link would listen and not exit
      const cli = startCli(['--standalone', '--listen', '0', '--no-tui', '--record', given]);
      cleanups.push(() => {
        cli.child.kill('SIGKILL');
      });
      await waitFor(() => cli.child.exitCode !== null || cli.stderr().includes('listening'), 'the CLI to exit or listen');
      expect(cli.stderr()).not.toContain('listening');
      expect(await cli.exited).toBe(2);
      await waitFor(() => cli.stderr().endsWith('\n'), 'the error line');
      expect(cli.stderr()).toBe(
        `amqp-spy: cannot write the recording ${given}: it is a symbolic link (to ${realPath}), which a recording does not follow; give the real path: --record ${realPath}\n`,
      );
    }
    expect(fs.readFileSync(real, 'utf8')).toBe('precious\n');
    expect(fs.existsSync(path.join(dir, 'nowhere.jsonl'))).toBe(false);
  });

  it('leaves an existing recording untouched when the session cannot listen (port in use): exit 1, one line', async () => {
    const existing = path.join(dir, 'kept.jsonl');
    const content = `${JSON.stringify({ format: 'amqp-spy', version: 1 })}\n${'{"seq":1}\n'.repeat(1400)}`;
    fs.writeFileSync(existing, content, { mode: 0o600 });
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => busy.close(() => resolve())));
    const port = (busy.address() as net.AddressInfo).port;
    for (const mode of [['--standalone'], ['--upstream', '127.0.0.1:1']]) {
      const cli = startCli([...mode, '--listen', String(port), '--no-tui', '--record', existing]);
      cleanups.push(() => {
        cli.child.kill('SIGKILL');
      });
      expect(await cli.exited).toBe(1);
      expect(cli.stderr()).toBe(`amqp-spy: cannot listen on 127.0.0.1:${port}: address already in use\n`);
      expect(fs.readFileSync(existing, 'utf8')).toBe(content);
    }
  });

  it('records into a FIFO read by another process, in order; the lines read back replay', async () => {
    const fifo = path.join(dir, 'recording.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    cleanups.push(() => {
      reader.kill('SIGKILL');
    });
    const read: Buffer[] = [];
    reader.stdout.on('data', (d: Buffer) => read.push(d));
    const readerDone = new Promise<number | null>((resolve) => reader.on('exit', (code) => resolve(code)));

    const { port, cli } = await standaloneRecording(fifo);
    await clientSession(port);
    await stop(cli);
    expect(cli.stderr()).not.toContain('cannot write');
    expect(await readerDone).toBe(0); // the writer closed: the reader saw the end

    const text = Buffer.concat(read).toString('utf8');
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { format?: string; kind?: string; seq?: number });
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

  it('follows a link to its own stderr (/dev/stderr, here a file): appends in order, truncates nothing', async () => {
    const out = path.join(dir, 'stderr.txt');
    fs.writeFileSync(out, 'written before\n');
    const fd = fs.openSync(out, 'a');
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, '--standalone', '--listen', String(port), '--no-tui', '--record', '/dev/stderr'], {
      stdio: ['ignore', 'ignore', fd],
    });
    fs.closeSync(fd);
    cleanups.push(() => {
      child.kill('SIGKILL');
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const text = () => fs.readFileSync(out, 'utf8');
    await waitFor(() => text().includes('built-in broker listening') || child.exitCode !== null, 'the broker to listen');
    await clientSession(port);
    await waitFor(() => text().includes('"kind":"conn.close"'), 'the close to be recorded');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(text()).toMatch(/^written before\n/);
    expect(text()).not.toContain('cannot write');
    const recording = text()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(recording[0]).toMatch(/^\{"format":"amqp-spy"/);
    const copy = path.join(dir, 'from-stderr.jsonl');
    fs.writeFileSync(copy, `${recording.join('\n')}\n`);
    expect(runCli(['replay', copy, '--no-tui']).stdout).toMatch(/S→C ch1 queue\.declare-ok queue=record-file/);
  });
});

describe('--record - (the recording on stdout)', () => {
  it('streams the recording into the program reading stdout; it replays like a file', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', '-']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    await clientSession(port);
    await waitFor(() => cli.stdout().includes('"kind":"conn.close"'), 'the close in the recording');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    const lines = cli
      .stdout()
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { format?: string; kind?: string });
    expect(lines[0]!.format).toBe('amqp-spy');
    // nothing but the recording on stdout: every line after the header is an event
    expect(lines.slice(1).every((l) => typeof l.kind === 'string')).toBe(true);
    const file = path.join(dir, 'from-stdout.jsonl');
    fs.writeFileSync(file, cli.stdout());
    const replayed = runCli(['replay', file]);
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toMatch(/C→S ch1 queue\.declare queue=record-file/);
    // a terminal is no place for it
    const tty = spawnSync('script', ['-qec', `${process.execPath} ${CLI} --standalone --listen ${await freePort()} --record -`, '/dev/null'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(tty.stdout).toMatch(/--record - writes the recording to stdout: pipe it/);
  });

  it('the reader goes away mid-session: recording stops, the session goes on, exit 1 naming the events not recorded', async () => {
    const port = await freePort();
    const cli = startCli(['--standalone', '--listen', String(port), '--no-tui', '--record', '-']);
    cleanups.push(() => {
      cli.child.kill('SIGKILL');
    });
    await waitFor(() => cli.stderr().includes('built-in broker listening'), 'the broker to listen');
    await clientSession(port);
    await waitFor(() => cli.stdout().includes('"kind":"conn.close"'), 'the first session in the recording');
    const oneSession = cli.stdout().trimEnd().split('\n').length - 1;
    // the reading end closes, as when `| head` has had enough
    cli.child.stdout.destroy();
    await clientSession(port);
    await clientSession(port);
    await waitFor(() => cli.stderr().includes('the pipe has no reader any more'), 'the write error');
    // the broker still serves after the recording failed
    await clientSession(port);
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(1);
    const last = cli.stderr().trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(/^amqp-spy: incomplete: cannot write the recording -: the pipe has no reader any more: \d+ events were not recorded$/);
    // the write that found the pipe closed may hold the second session; the last two are surely lost
    expect(Number(/(\d+) events were not recorded/.exec(last)![1])).toBeGreaterThanOrEqual(2 * oneSession);
  });
});
