// Differential test against Wireshark: tshark dissects the captured session (written as a
// pcap) and must agree with our decoder frame by frame on frame kinds and method ids.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecodedFrame } from '../../src/decoder/types.js';
import { capturedSession } from '../support/fixtures.js';
import { decodeStream } from '../support/decode-stream.js';
import { tcpSessionPcap } from '../support/pcap.js';

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
const TYPE_CODES: Record<DecodedFrame['type'], number> = { method: 1, header: 2, body: 3, heartbeat: 8 };

function ours(bytes: Uint8Array): string[] {
  return decodeStream(bytes).map(({ decoded }) =>
    decoded.type === 'method' ? `1:${decoded.method.classId}.${decoded.method.methodId}@${decoded.channel}` : `${TYPE_CODES[decoded.type]}@${decoded.channel}`,
  );
}

/** tshark's frames for one direction, in order, in the same notation. */
function theirs(pcap: string, srcPort: number): string[] {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      pcap,
      '-d',
      'tcp.port==5672,amqp',
      '-Y',
      `tcp.srcport==${srcPort}`,
      '-T',
      'fields',
      '-e',
      'amqp.type',
      '-e',
      'amqp.channel',
      '-e',
      'amqp.method.class',
      '-e',
      'amqp.method.method',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const frames: string[] = [];
  for (const line of out.split('\n')) {
    const [types = '', channels = '', classes = '', methods = ''] = line.split('\t');
    if (types === '') continue;
    const t = types.split(','),
      ch = channels.split(','),
      c = classes.split(','),
      m = methods.split(',');
    let k = 0;
    t.forEach((type, i) => {
      frames.push(type === '1' ? `1:${c[k]}.${m[k++]}@${ch[i]}` : `${type}@${ch[i]}`);
    });
  }
  return frames;
}

describe.skipIf(!hasTshark)(`differential: Wireshark's AMQP dissector${hasTshark ? '' : ' (skipped: tshark not installed)'}`, () => {
  it('agrees with us frame by frame on the captured session, both directions', () => {
    const { c2s, s2c } = capturedSession();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amqp-spy-tshark-'));
    const pcap = path.join(dir, 'session.pcap');
    fs.writeFileSync(pcap, tcpSessionPcap(c2s, s2c));
    try {
      const clientFrames = theirs(pcap, 40000);
      const serverFrames = theirs(pcap, 5672);
      expect(clientFrames.length).toBeGreaterThan(40);
      expect(ours(c2s.subarray(8))).toEqual(clientFrames);
      expect(ours(s2c)).toEqual(serverFrames);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
