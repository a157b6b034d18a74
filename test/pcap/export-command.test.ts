// `amqp-spy export`: a recording written as pcapng must be, for Wireshark, real TCP (no
// lost or retransmitted segment, checksums right, segments within the MSS) carrying the same
// AMQP frames the recording holds, frame for frame.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureFile, conversation } from '../support/capture-builder.js';
import { runCli } from '../support/cli.js';
import { decodeStream } from '../support/decode-stream.js';
import { capturedSession, FIXTURES } from '../support/fixtures.js';
import { frameNotation, hasTshark, tsharkFrames, tsharkTcpHealth } from '../support/tshark.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-export-'));

describe.skipIf(!hasTshark)(`amqp-spy export --pcapng${hasTshark ? '' : ' (skipped: tshark not installed)'}`, () => {
  it('the whole fixture session (a 300 KB body among its frames) comes back frame for frame in tshark', () => {
    const { c2s, s2c } = capturedSession();
    const capture = path.join(tmp, 'session.pcap');
    fs.writeFileSync(capture, captureFile(conversation(c2s, s2c), { serverPort: 5672 }));
    const recording = path.join(tmp, 'session.jsonl');
    expect(runCli(['read', '--no-tui', '--record', recording, capture]).status).toBe(0);
    const exported = path.join(tmp, 'session.pcapng');
    const result = runCli(['export', recording, '--pcapng', exported]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^amqp-spy: wrote .*session\.pcapng: 1 connection, \d+ packets\n$/);
    const theirs = tsharkFrames(exported, 5672);
    expect(theirs.c2s).toEqual(decodeStream(c2s.subarray(8)).map((f) => frameNotation(f.decoded, f.raw.channel)));
    expect(theirs.s2c).toEqual(decodeStream(s2c).map((f) => frameNotation(f.decoded, f.raw.channel)));
    const health = tsharkTcpHealth(exported);
    expect(health.problems).toEqual([]);
    expect(health.checksumsBad).toBe(0);
    expect(health.longestSegment).toBe(1460);
    // and amqp-spy reads its own export back to the same events
    const again = runCli(['read', '--json', '--frames', exported]);
    const once = runCli(['read', '--json', '--frames', capture]);
    const frames = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.includes('"kind":"frame"'))
        .map((l) => (JSON.parse(l) as { raw: string }).raw);
    expect(frames(again.stdout)).toEqual(frames(once.stdout));
  });

  it('IPv6 endpoints (the SLL2 fixture): the same frame counts, clean TCP', () => {
    const capture = path.join(FIXTURES, 'captures/amqplib-session.pcapng');
    const recording = path.join(tmp, 'v6.jsonl');
    expect(runCli(['read', '--no-tui', '--record', recording, capture]).status).toBe(0);
    const exported = path.join(tmp, 'v6.pcapng');
    expect(runCli(['export', recording, '--pcapng', exported]).status).toBe(0);
    const theirs = tsharkFrames(exported, 5672);
    const ours = runCli(['read', '--json', '--frames', capture])
      .stdout.split('\n')
      .filter((l) => l.includes('"kind":"frame"'))
      .map((l) => JSON.parse(l) as { dir: 'c2s' | 's2c' });
    expect(theirs.c2s.length).toBe(ours.filter((f) => f.dir === 'c2s').length);
    expect(theirs.s2c.length).toBe(ours.filter((f) => f.dir === 's2c').length);
    expect(tsharkTcpHealth(exported).problems).toEqual([]);
  });

  it('a file that is not a recording, or an unwritable output: one line', () => {
    const capture = path.join(FIXTURES, 'captures/amqplib-session.pcap');
    expect(runCli(['export', capture, '--pcapng', path.join(tmp, 'x.pcapng')])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/^amqp-spy: .* is a pcap capture, not an amqp-spy recording/),
    });
    const recording = path.join(tmp, 'v6.jsonl');
    expect(runCli(['export', recording, '--pcapng', path.join(tmp, 'no/such/dir.pcapng')])).toMatchObject({
      status: 1,
      stderr: `amqp-spy: cannot write ${path.join(tmp, 'no/such/dir.pcapng')}: no such directory\n`,
    });
  });
});
