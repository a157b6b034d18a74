// `amqp-spy replay` as a user runs it: the built CLI on recordings made by the recorder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../src/broker/broker-server.js';
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
    createHeadlessPrinter({ write: (t) => { liveText += Buffer.from(t).toString('utf8'); }, mode: 'messages' }),
    createHeadlessPrinter({ write: (t) => { liveJson += Buffer.from(t).toString('utf8'); }, json: true }),
  ];
  const recorder = createRecorder({ path: file, header: makeRecordingHeader({ tool: 'test', startedMicros: 1_700_000_000_000_000, mode: 'proxy', listen: '127.0.0.1:5673', upstream: '127.0.0.1:5672', secrets: 'masked' }) });
  const bus = new EventBus([...printers, recorder.sink]);
  const tap = new ConnectionTap(1, bus, { keepUndecoded: true });
  bus.emit({ kind: 'conn.open', seq: bus.nextSeq(), ts: 1_700_000_000_000_001, conn: 1, client: { address: '127.0.0.1', port: 40001 }, server: { address: '127.0.0.1', port: 5672 } });
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
    // OR would be matched as text and match nothing: refused, with what to do instead
    const or = runCli(['replay', file, '--filter', 'method:basic.ack OR method:basic.nack']);
    expect(or.status).toBe(2);
    expect(or.stderr.trim()).toBe('amqp-spy: filter "method:basic.ack OR method:basic.nack": "OR": terms are ANDed; OR is not supported yet — use two filters');
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

  it('--to an unreachable broker: one line, exit 1', () => {
    const result = runCli(['replay', file, '--to', '127.0.0.1:1']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^amqp-spy: --to 127\.0\.0\.1:1: connection refused\n$/);
  });
});
