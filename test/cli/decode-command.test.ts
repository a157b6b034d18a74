import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../support/fixtures.js';
import { runCli } from '../support/cli.js';

const session = (dir: string) => path.join(FIXTURES, `sessions/amqplib-rabbitmq.${dir}.bin`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-decode-'));

describe('amqp-spy decode', () => {
  it('prints every frame of a client stream, one line each', () => {
    const { status, stdout, stderr } = runCli(['decode', session('c2s')]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/protocol-header AMQP 0-9-1/);
    expect(lines).toHaveLength(1 + 44);
    expect(lines[1]).toMatch(
      /C→S ch0 connection\.start-ok client-properties=\{connection_name="amqp-spy fixture capture".* response="\\u0000guest\\u0000\*\*\*\*\*"/,
    );
    expect(stdout).toContain('basic.publish exchange=spy.orders routing-key=order.created');
    expect(stdout).toContain('content-header body-size=300000 content-type=text/plain');
    // the SASL password is masked, the user name kept
    expect(stdout).not.toMatch(/guest\\u0000guest|guest\0guest/);
  });

  it('prints a server stream with --json, one object per frame', () => {
    const { status, stdout } = runCli(['decode', '--json', session('s2c')]);
    expect(status).toBe(0);
    const objects = stdout
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { kind: string; dir: string; frame?: { type: string; method?: { name: string; args: Record<string, unknown> } }; raw: string },
      );
    expect(objects).toHaveLength(46);
    expect(objects.every((o) => o.kind === 'frame' && o.dir === 's2c')).toBe(true);
    const close = objects.find((o) => o.frame?.method?.name === 'channel.close')!;
    expect(close.frame!.method!.args['reply-code']).toBe(404);
    // raw bytes are the source of truth: they concatenate back to the file
    const rebuilt = Buffer.concat(objects.map((o) => Buffer.from(o.raw, 'base64')));
    expect(rebuilt.equals(fs.readFileSync(session('s2c')))).toBe(true);
  });

  it('reports garbage once, clearly, and exits 1 having printed what it decoded', () => {
    const file = path.join(tmp, 'garbage.bin');
    fs.writeFileSync(file, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const { status, stdout, stderr } = runCli(['decode', file]);
    expect(status).toBe(1);
    expect(stdout).toMatch(/decode error \(not-amqp\) at offset 0/);
    expect(
      stdout
        .trim()
        .split('\n')
        .filter((l) => l.includes('decode error')),
    ).toHaveLength(1);
    expect(stderr).toBe(`amqp-spy: ${file}: 1 decode error, the first at offset 0: not-amqp (read as server→client: the file does not start with "AMQP")\n`);
  });

  it('a stream whose last frame is cut short: every whole frame printed, the cut reported, exit 1', () => {
    const whole = fs.readFileSync(session('c2s'));
    const file = path.join(tmp, 'truncated.bin');
    fs.writeFileSync(file, whole.subarray(0, whole.length - 3));
    const { status, stdout, stderr } = runCli(['decode', file]);
    expect(status).toBe(1);
    const lines = stdout.trim().split('\n');
    // 44 frames and the header in the whole file: the last frame is the one cut
    expect(lines.filter((l) => !l.includes('decode error'))).toHaveLength(44);
    expect(lines.at(-1)).toMatch(/decode error \(truncated\)/);
    expect(stderr).toMatch(/truncated\.bin: 1 decode error, the first at offset \d+: truncated\n$/);
  });

  it('names an AMQP 1.0 stream and does not decode it', () => {
    const file = path.join(tmp, 'amqp10.bin');
    fs.writeFileSync(file, Buffer.concat([Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'), Buffer.alloc(64, 1)]));
    const { stdout } = runCli(['decode', file]);
    expect(stdout).toMatch(/AMQP 1\.0/);
    expect(stdout).toMatch(/not-decoded/);
  });

  it.each([
    ['a missing file', ['decode', path.join(tmp, 'nope.bin')], /cannot read .*nope\.bin: no such file/],
    [
      'an empty file',
      [
        'decode',
        (() => {
          const f = path.join(tmp, 'empty.bin');
          fs.writeFileSync(f, '');
          return f;
        })(),
      ],
      /is empty/,
    ],
    [
      'a pcap',
      [
        'decode',
        (() => {
          const f = path.join(tmp, 'x.pcap');
          fs.writeFileSync(f, Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]));
          return f;
        })(),
      ],
      /is a pcap capture/,
    ],
  ])('refuses %s with one line and a non-zero exit', (_what, args, message) => {
    const { status, stdout, stderr } = runCli(args);
    expect(status).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('amqp-spy usage', () => {
  it('--help lists the commands and options that work', () => {
    const { status, stdout } = runCli(['--help']);
    expect(status).toBe(0);
    for (const text of ['--upstream', '--listen', '--json', 'decode']) expect(stdout).toContain(text);
  });

  it('with no --upstream, says what to give, in one line, exit 2', () => {
    const { status, stderr } = runCli([]);
    expect(status).toBe(2);
    expect(stderr).toMatch(/--upstream/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad --upstream gets one clear line', () => {
    const { status, stderr } = runCli(['--upstream', 'host:notaport']);
    expect(status).toBe(2);
    expect(stderr).toMatch(/--upstream "host:notaport": /);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });
});
