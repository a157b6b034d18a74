// `amqp-spy read` through the real CLI: the fixtures of both formats, the views replay has
// (--json, --frames, --filter), conversion with --record, and bad input in one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { FIXTURES } from '../support/fixtures.js';
import { hasTshark, tsharkFrames } from '../support/tshark.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-read-'));
const pcap = path.join(FIXTURES, 'captures/amqplib-session.pcap');
const pcapng = path.join(FIXTURES, 'captures/amqplib-session.pcapng');

interface JsonEvent {
  kind: string;
  dir?: string;
  raw?: string;
  conn: number;
  client?: { address: string };
  frame?: { method?: { name: string } };
  error?: { text: string };
}
const parse = (stdout: string): JsonEvent[] =>
  stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as JsonEvent);
const frames = (events: JsonEvent[]) => events.filter((e) => e.kind === 'frame').map((e) => `${e.dir} ${e.raw}`);

describe('amqp-spy read', () => {
  it('reads the pcap and the pcapng fixture (Ethernet/IPv4, SLL2/IPv6) to the same frames', () => {
    const a = runCli(['read', '--json', '--frames', pcap]);
    const b = runCli(['read', '--json', '--frames', pcapng]);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const fa = frames(parse(a.stdout));
    expect(fa.length).toBe(35);
    expect(frames(parse(b.stdout))).toEqual(fa);
    expect(parse(b.stdout)[0]).toMatchObject({ kind: 'conn.open', client: { address: '2001:db8::1' } });
    expect(a.stderr).toBe(
      `amqp-spy: ${pcap}: 20 packets, 1 AMQP connection, 1 retransmission, 1 segment out of order\n` +
        'amqp-spy: summary: 1 connection; C→S 15 frames, 1 message; S→C 20 frames, 2 messages; 1 error; 2 requests never answered; 2 deliveries left unacked; 1 publish left unconfirmed\n',
    );
  });

  it('prints lines like replay, with --filter and --frames', () => {
    const text = runCli(['read', pcap]);
    expect(text.stdout).toMatch(/#1 C→S ch1 basic\.publish exchange=spy\.orders routing-key=order\.created/);
    const filtered = runCli(['read', '--frames', '--filter', 'method:basic.deliver', pcap]);
    expect(filtered.status).toBe(0);
    expect(filtered.stdout.trim().split('\n')).toHaveLength(2);
    expect(filtered.stderr).toMatch(/3 of \d+ events matched the filter, 2 lines printed/);
  });

  it('--record converts the capture to a recording that replays to the same frames', () => {
    const out = path.join(tmp, 'converted.jsonl');
    const read = runCli(['read', '--no-tui', '--record', out, pcapng]);
    expect(read.status).toBe(0);
    const header = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    // started: the capture's first packet, not the time of the conversion
    expect(header).toMatchObject({ format: 'amqp-spy', mode: 'capture', listen: pcapng, secrets: 'masked', startedMicros: 1_764_765_000_000_000 });
    const replayed = runCli(['replay', '--json', '--frames', out]);
    expect(replayed.status).toBe(0);
    expect(frames(parse(replayed.stdout))).toEqual(frames(parse(runCli(['read', '--json', '--frames', pcapng]).stdout)));
  });

  it('bad input: one line, exit 2, no stack trace', () => {
    const notCapture = path.join(tmp, 'not.pcap');
    fs.writeFileSync(notCapture, '{"format":"amqp-spy","version":1}\n');
    expect(runCli(['read', notCapture])).toMatchObject({
      status: 2,
      stdout: '',
      stderr: `amqp-spy: ${notCapture}: is not a pcap or pcapng capture (a recording? use amqp-spy replay)\n`,
    });
    expect(runCli(['read', path.join(tmp, 'missing.pcap')])).toMatchObject({
      status: 2,
      stderr: `amqp-spy: cannot read ${path.join(tmp, 'missing.pcap')}: no such file\n`,
    });
    const linkType = path.join(tmp, 'link.pcap');
    const bytes = fs.readFileSync(pcap);
    bytes.writeUInt32LE(147, 20);
    fs.writeFileSync(linkType, bytes);
    const unknown = runCli(['read', '--json', '--frames', linkType]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^amqp-spy: .*link\.pcap: link type 147 is not supported \(supported: Ethernet/m);
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
    const corrupt = path.join(tmp, 'corrupt.pcapng');
    const ng = fs.readFileSync(pcapng);
    ng.writeUInt32LE(7, ng.readUInt32LE(4) + 4);
    fs.writeFileSync(corrupt, ng);
    expect(runCli(['read', corrupt])).toMatchObject({
      status: 2,
      stderr: expect.stringMatching(/^amqp-spy: .*corrupt\.pcapng: corrupt pcapng block at byte 28: length 7\n$/),
    });
  });

  it('a truncated file: what it holds is read, the cut is one warning, exit 0', () => {
    const cut = path.join(tmp, 'cut.pcap');
    const bytes = fs.readFileSync(pcap);
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 20));
    const result = runCli(['read', '--json', '--frames', cut]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(
      /^amqp-spy: warning: the capture ends inside a packet record at byte \d+ \(truncated file\): its last \d+ bytes are ignored$/m,
    );
    expect(frames(parse(result.stdout)).length).toBe(35);
  });

  it('replay and decode point a capture to read', () => {
    expect(runCli(['replay', pcap]).stderr).toBe(
      `amqp-spy: ${pcap} is a pcap capture, not an amqp-spy recording: read it with amqp-spy read ${pcap} (add --record out.jsonl to convert it)\n`,
    );
    expect(runCli(['decode', pcapng]).stderr).toMatch(/is a pcap capture; .*amqp-spy read/);
  });
});

describe.skipIf(!hasTshark)(
  `real captures of the same loopback traffic by tcpdump (pcap) and dumpcap (pcapng)${hasTshark ? '' : ' (skipped: tshark not installed)'}`,
  () => {
    // amqplib with frame-max 4096 (a 10 KB body in three body frames), confirms, a consumer, a
    // 404; and two other clients, one of them already connected when the capture started
    const real = (ext: string) => path.join(FIXTURES, `captures/rabbitmq-loopback.${ext}`);

    it('both files give the same frames, and per connection and direction tshark’s', () => {
      const a = runCli(['read', '--json', '--frames', real('pcap')]);
      const b = runCli(['read', '--json', '--frames', real('pcapng')]);
      expect(a.status).toBe(0);
      expect(a.stderr).toMatch(/: 67 packets, 3 AMQP connections \(1 already open when the capture started\)\n/);
      const events = parse(a.stdout);
      expect(frames(parse(b.stdout))).toEqual(frames(events));
      const opens = new Map(events.filter((e) => e.kind === 'conn.open').map((e) => [e.conn, (e as unknown as { client: { port: number } }).client.port]));
      const ours = new Map<string, string[]>();
      for (const e of events) {
        if (e.kind !== 'frame') continue;
        const raw = Buffer.from(e.raw!, 'base64');
        const key = `${opens.get(e.conn)} ${e.dir}`;
        if (!ours.has(key)) ours.set(key, []);
        ours.get(key)!.push(raw[0] === 1 ? `1:${raw.readUInt16BE(7)}.${raw.readUInt16BE(9)}@${raw.readUInt16BE(1)}` : `${raw[0]}@${raw.readUInt16BE(1)}`);
      }
      const theirs = tsharkFrames(real('pcapng'), 5672).byClient;
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [key, list] of ours) expect(list, key).toEqual(theirs.get(key));
      expect(events.filter((e) => e.kind === 'decode.error').map((e) => e.error!.text)).toEqual([
        expect.stringMatching(/^the capture starts in the middle of this direction/),
        expect.stringMatching(/^the capture starts in the middle of this direction/),
      ]);
    });
  },
);
