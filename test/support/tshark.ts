// Wireshark's AMQP dissector as the reference: tshark's frame list for a capture, per
// direction, in the notation `1:60.40@1` (method class.method @ channel) or `3@1` (type @ channel).
import { execFileSync, spawnSync } from 'node:child_process';
import type { DecodedFrame } from '../../src/decoder/types.js';

export const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

const TYPE_CODES: Record<DecodedFrame['type'], number> = { method: 1, header: 2, body: 3, heartbeat: 8 };

/** A decoded frame in tshark's notation. */
export function frameNotation(frame: DecodedFrame, channel: number): string {
  return frame.type === 'method' ? `1:${frame.method.classId}.${frame.method.methodId}@${channel}` : `${TYPE_CODES[frame.type]}@${channel}`;
}

/**
 * tshark's frames of a capture, split by direction (the server's port tells), and by
 * connection (`byClient`, keyed `clientPort c2s|s2c`).
 */
export function tsharkFrames(capture: string, serverPort: number): { c2s: string[]; s2c: string[]; byClient: Map<string, string[]> } {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      capture,
      '-d',
      `tcp.port==${serverPort},amqp`,
      '-Y',
      'amqp',
      '-T',
      'fields',
      '-e',
      'tcp.srcport',
      '-e',
      'tcp.dstport',
      '-e',
      'amqp.type',
      '-e',
      'amqp.channel',
      '-e',
      'amqp.method.class',
      '-e',
      'amqp.method.method',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
  );
  const frames = { c2s: [] as string[], s2c: [] as string[], byClient: new Map<string, string[]>() };
  for (const line of out.split('\n')) {
    const [port = '', dstPort = '', types = '', channels = '', classes = '', methods = ''] = line.split('\t');
    if (types === '') continue;
    const fromServer = Number(port) === serverPort;
    const list = fromServer ? frames.s2c : frames.c2s;
    const key = `${fromServer ? dstPort : port} ${fromServer ? 's2c' : 'c2s'}`;
    if (!frames.byClient.has(key)) frames.byClient.set(key, []);
    const connection = frames.byClient.get(key)!;
    const ch = channels.split(',');
    const c = classes.split(',');
    const m = methods.split(',');
    let k = 0;
    types.split(',').forEach((type, i) => {
      const frame = type === '1' ? `1:${c[k]}.${m[k++]}@${ch[i]}` : `${type}@${ch[i]}`;
      list.push(frame);
      connection.push(frame);
    });
  }
  return frames;
}

/** tshark's TCP analysis warnings (lost segments, retransmissions, bad ACKs) and the longest segment. */
export function tsharkTcpHealth(capture: string): { problems: string[]; longestSegment: number; checksumsBad: number } {
  const out = execFileSync(
    'tshark',
    ['-r', capture, '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-e', 'tcp.len', '-e', '_ws.expert.message', '-e', 'tcp.checksum.status'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
  );
  const problems: string[] = [];
  let longestSegment = 0;
  let checksumsBad = 0;
  for (const line of out.split('\n')) {
    const [len = '', expert = '', status = ''] = line.split('\t');
    if (len === '') continue;
    longestSegment = Math.max(longestSegment, Number(len));
    if (/segment|retransmission|ACKed|out-of-order|Dup/i.test(expert)) problems.push(expert);
    if (status === '0') checksumsBad++;
  }
  return { problems, longestSegment, checksumsBad };
}
