// `amqp-spy replay` as a user runs it: the built CLI on recordings made by the recorder.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
import { decodeFrame, encodeMethodFrame as m } from '../../src/decoder/frame-codec.js';
import { FrameParser } from '../../src/decoder/frame-parser.js';
import { encodeProtocolHeader } from '../../src/decoder/protocol-header.js';
import { EventBus } from '../../src/events.js';
import { createRecorder } from '../../src/record/recorder.js';
import { makeRecordingHeader } from '../../src/record/recording-format.js';
import { ConnectionTap } from '../../src/tap/connection-tap.js';
import { createHeadlessPrinter } from '../../src/view/headless-printer.js';
import { runCli, startCli } from '../support/cli.js';
import { capturedSession } from '../support/fixtures.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-replay-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'session.jsonl');
let liveText = '';
let liveJson = '';

beforeAll(async () => {
  // a recording of the captured amqplib ⇄ RabbitMQ session, and what live output showed
  const printers = [
    createHeadlessPrinter({
      write: (t) => {
        liveText += Buffer.from(t).toString('utf8');
      },
      mode: 'messages',
    }),
    createHeadlessPrinter({
      write: (t) => {
        liveJson += Buffer.from(t).toString('utf8');
      },
      json: true,
    }),
  ];
  const recorder = createRecorder({
    path: file,
    header: makeRecordingHeader({
      tool: 'test',
      startedMicros: 1_700_000_000_000_000,
      mode: 'proxy',
      listen: '127.0.0.1:5673',
      upstream: '127.0.0.1:5672',
      secrets: 'masked',
    }),
  });
  const bus = new EventBus([...printers, recorder.sink]);
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  bus.emit({
    kind: 'conn.open',
    seq: bus.nextSeq(),
    ts: 1_700_000_000_000_001,
    conn: 1,
    client: { address: '127.0.0.1', port: 40001 },
    server: { address: '127.0.0.1', port: 5672 },
  });
  const { c2s, s2c } = capturedSession();
  let ts = 1_700_000_000_000_100;
  for (let at = 0; at < Math.max(c2s.length, s2c.length); at += 2048) {
    if (at < c2s.length) tap.feed('c2s', c2s.subarray(at, at + 2048), (ts += 150));
    if (at < s2c.length) tap.feed('s2c', s2c.subarray(at, at + 2048), (ts += 150));
  }
  tap.close('client closed', ts + 1);
  await recorder.close();
  for (const printer of printers) printer.flush();
});

describe('amqp-spy replay', () => {
  it('prints the recording as the live headless output did, text and --json', () => {
    const text = runCli(['replay', file]);
    expect(text.status).toBe(0);
    expect(text.stdout).toBe(liveText);
    expect(text.stderr).toMatch(/replayed .*session\.jsonl: recorded 2023-11-14T22:13:20\.000Z by test, 127\.0\.0\.1:5673 → 127\.0\.0\.1:5672/);
    expect(text.stderr).toMatch(/summary: 1 connection/);
    const json = runCli(['replay', file, '--json', '--no-tui']);
    expect(json.stdout).toBe(liveJson);
  });

  it('a header with only format and version: says only what is known', () => {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const bare = path.join(dir, 'bare-header.jsonl');
    fs.writeFileSync(bare, ['{"format":"amqp-spy","version":1}', ...lines.slice(1)].join('\n'));
    const result = runCli(['replay', bare]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(liveText);
    expect(result.stderr).not.toContain('undefined');
    expect(result.stderr.split('\n')[0]).toBe(`amqp-spy: replayed ${bare}`);
  });

  it('--filter error: the summary is of the whole session and says how many events matched', () => {
    const whole = runCli(['replay', file]);
    const filtered = runCli(['replay', file, '--filter', 'error']);
    expect(filtered.status).toBe(0);
    const printed = filtered.stdout.trim().split('\n');
    // the captured session's errors (fed in chunks that do not keep cause before effect, so
    // some acks come before their deliveries), the 404 channel.close and a basic.return
    // among them, each printed once and counted once
    expect(
      printed.some((l) => /channel\.close reply-code=404/.test(l)),
      filtered.stdout,
    ).toBe(true);
    expect(printed.filter((l) => / basic\.return /.test(l))).toHaveLength(1);
    const summaryOf = (stderr: string) => stderr.split('\n').find((l) => l.includes('summary:'))!;
    expect(summaryOf(whole.stderr)).toMatch(
      new RegExp(`summary: 1 connection; C→S \\d+ frames, \\d+ messages; S→C \\d+ frames, \\d+ messages; ${printed.length} errors(;|$)`),
    );
    const all = new Set(
      [...runCli(['replay', file, '--json']).stdout.trim().split('\n'), ...runCli(['replay', file, '--json', '--frames']).stdout.trim().split('\n')].map(
        (l) => (JSON.parse(l) as { seq: number }).seq,
      ),
    );
    // the return matches as its method frame and as its message: one event more than lines
    expect(summaryOf(filtered.stderr)).toBe(
      `${summaryOf(whole.stderr)}; ${printed.length + 1} of ${all.size} events matched the filter, ${printed.length} lines printed`,
    );
  });

  it('--speed replays the same events; --filter narrows them', () => {
    const fast = runCli(['replay', file, '--speed', '1000000']);
    expect(fast.status).toBe(0);
    expect(fast.stdout).toBe(liveText);
    const filtered = runCli(['replay', file, '--filter', 'dir:c2s method:basic.*']);
    const lines = filtered.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/C→S ch\d+ basic\./);
    const bad = runCli(['replay', file, '--filter', 'colour:red']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^amqp-spy: filter "colour:red": unknown key "colour:"/);
    // OR combines terms (refused before it was supported)
    const or = runCli(['replay', file, '--filter', 'method:basic.ack OR method:basic.nack']);
    expect(or.status).toBe(0);
    expect(or.stdout.trim().split('\n').length).toBeGreaterThan(0);
    for (const line of or.stdout.trim().split('\n')) expect(line).toMatch(/ basic\.(ack|nack)\b/);
    const half = runCli(['replay', file, '--filter', 'method:basic.ack OR']);
    expect(half.status).toBe(2);
    expect(half.stderr.trim()).toBe('amqp-spy: filter "method:basic.ack OR": "OR" needs a term after it at column 18');
    expect(runCli(['replay', file, '--speed', 'fast']).stderr).toMatch(/--speed takes a positive number/);
  });

  it('bad input: one clear line and a non-zero exit', () => {
    const cases: [string | Buffer, RegExp][] = [
      ['', /is empty/],
      ['not json\n', /line 1 is not JSON/],
      ['{"format":"amqp-spy","version":9}\n', /newer amqp-spy/],
      [capturedSession().c2s, /raw AMQP bytes.*amqp-spy decode/],
    ];
    for (const [content, message] of cases) {
      const bad = path.join(dir, `bad-${Math.random().toString(36).slice(2)}`);
      fs.writeFileSync(bad, content);
      const result = runCli(['replay', bad]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n').length).toBe(1);
    }
    const missing = runCli(['replay', path.join(dir, 'missing.jsonl')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^amqp-spy: cannot read .*missing\.jsonl: no such file\n$/);
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    lines[3] = '{"kind":';
    const corrupt = path.join(dir, 'corrupt.jsonl');
    fs.writeFileSync(corrupt, lines.join('\n'));
    const strict = runCli(['replay', corrupt]);
    expect(strict.status).toBe(2);
    expect(strict.stderr).toMatch(/line 4 is corrupt: not valid JSON \(--lenient skips corrupt lines\)/);
    const lenient = runCli(['replay', corrupt, '--lenient']);
    expect(lenient.status).toBe(0);
    expect(lenient.stderr).toMatch(/warning: .*line 4 is corrupt.*skipped/);
  });

  it('--record to a directory that does not exist: one line, exit 1', () => {
    const result = runCli(['--upstream', '127.0.0.1:5672', '--listen', '0', '--record', path.join(dir, 'no/such/s.jsonl')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^amqp-spy: cannot write the recording .*s\.jsonl: no such directory\n$/);
  });

  it('--to another server product: one note naming both, before the summary', async () => {
    // the recording is of RabbitMQ; the built-in broker runs in this process, so the CLI runs apart
    const broker = await startBroker({ listen: { host: '127.0.0.1', port: 0 } });
    try {
      const resent = startCli(['replay', file, '--to', `127.0.0.1:${broker.address.port}`, '--timeout', '500']);
      await resent.exited;
      expect(resent.stderr()).toMatch(/^amqp-spy: note: recorded against RabbitMQ 3\.\d+\.\d+, replayed to amqp-spy \d+\.\d+\.\d+\n.*replayed 1 connection/m);
    } finally {
      await broker.close();
    }
  });

  it('--to: a normal close with reply code 0 recorded and 200 now is no difference', async () => {
    // a scripted server: the recording's closes channel 1 with 0 (as py-amqp and Bunny do), the new one with 200
    const serverFrames = (code: number) =>
      new Map<string, Uint8Array[]>([
        ['protocol-header', [m(0, 'connection.start', { 'version-major': 0, 'version-minor': 9, mechanisms: 'PLAIN', locales: 'en_US' })]],
        ['connection.start-ok', [m(0, 'connection.tune', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 0 })]],
        ['connection.open', [m(0, 'connection.open-ok', {})]],
        [
          'channel.open',
          [
            m(1, 'channel.open-ok', {}),
            m(1, 'channel.close', { 'reply-code': code, 'reply-text': code === 0 ? '' : 'Goodbye', 'class-id': 0, 'method-id': 0 }),
          ],
        ],
        ['connection.close', [m(0, 'connection.close-ok', {})]],
      ]);
    const clientFrames: [string, Uint8Array][] = [
      ['protocol-header', encodeProtocolHeader()],
      ['connection.start-ok', m(0, 'connection.start-ok', { mechanism: 'PLAIN', response: '\0guest\0guest', locale: 'en_US' })],
      ['connection.tune-ok', m(0, 'connection.tune-ok', { 'channel-max': 2047, 'frame-max': 131072, heartbeat: 0 })],
      ['connection.open', m(0, 'connection.open', { 'virtual-host': '/' })],
      ['channel.open', m(1, 'channel.open', {})],
      ['channel.close-ok', m(1, 'channel.close-ok', {})],
      ['connection.close', m(0, 'connection.close', { 'reply-code': 200, 'reply-text': 'bye', 'class-id': 0, 'method-id': 0 })],
    ];
    const recorded = path.join(dir, 'normal-close.jsonl');
    const recorder = createRecorder({
      path: recorded,
      header: makeRecordingHeader({
        tool: 'test',
        startedMicros: 1_700_000_000_000_000,
        mode: 'proxy',
        listen: '127.0.0.1:5673',
        upstream: '127.0.0.1:5672',
        secrets: 'masked',
      }),
    });
    const bus = new EventBus([recorder.sink]);
    bus.emit({
      kind: 'conn.open',
      seq: bus.nextSeq(),
      ts: 1_700_000_000_000_001,
      conn: 1,
      client: { address: '127.0.0.1', port: 40001 },
      server: { address: '127.0.0.1', port: 5672 },
    });
    const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
    const script = serverFrames(0);
    let ts = 1_700_000_000_000_100;
    for (const [name, frame] of clientFrames) {
      tap.feed('c2s', frame, (ts += 100));
      for (const answer of script.get(name) ?? []) tap.feed('s2c', answer, (ts += 100));
    }
    tap.close('client closed', ts + 1);
    await recorder.close();

    const fresh = serverFrames(200);
    const server = net.createServer((socket) => {
      const parser = new FrameParser({ expectProtocolHeader: true });
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const item of parser.push(chunk)) {
          const frame = item.kind === 'frame' ? decodeFrame(item.frame) : undefined;
          const key = item.kind === 'protocol-header' ? 'protocol-header' : frame?.type === 'method' ? frame.method.name : '';
          for (const answer of fresh.get(key) ?? []) socket.write(answer);
          if (key === 'connection.close') socket.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const resent = startCli(['replay', recorded, '--to', `127.0.0.1:${(server.address() as net.AddressInfo).port}`, '--timeout', '2000']);
      const status = await resent.exited;
      expect(resent.stdout()).not.toContain('difference');
      expect(resent.stderr()).toMatch(/server frames compared.*: no differences/);
      expect(status).toBe(0);
    } finally {
      server.close();
    }
  });

  it('--to an unreachable broker: one line, exit 1', () => {
    const result = runCli(['replay', file, '--to', '127.0.0.1:1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^amqp-spy: --to 127\.0\.0\.1:1: connection refused\n$/);
  });
});
